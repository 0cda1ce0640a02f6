"""What training records (``History``), when it stops early (``EarlyStopping``) and
the best epoch that early stopping keeps during a ``fit`` (``BestEpoch``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._validation import check_bool, check_choice, check_int, check_real
from .optimizers import copy_tree

MONITORS = ("loss", "val_loss", "val_score")


@dataclass
class History:
    """What ``fit`` records, one entry per completed epoch.

    ``loss`` is the mean training cost over the samples visited in the epoch
    (plus the L2 penalty), summed while the parameters were being updated, as
    scikit-learn's ``loss_curve_`` (NaN for an epoch that drew only samples of
    weight 0: it has no mean); ``val_loss`` and ``val_score`` (accuracy, or
    R² for real-valued costs) are measured on ``validation_data`` at the end of
    the epoch; ``layer_grad_norms[e][j-1]`` is ‖∇Ωʲ‖ of the epoch's last batch
    (vanishing or exploding gradients show here, seed 004); ``grad_norm`` is the
    full-batch ‖∇𝓔‖ (only with a ``tol``); ``time`` the seconds per epoch.
    ``converged``: ‖∇𝓔‖ ≤ tol stopped training; ``stopped_early``: early stopping
    or a callback did; ``best_epoch``: the 0-based epoch early stopping kept.
    ``model.history`` is this object from the end of the first epoch, so a fit
    that raises (divergence, a callback, Ctrl-C) leaves there the epochs it completed.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    layer_grad_norms: list[list[float]] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    converged: bool = False
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def n_epochs(self) -> int:
        return len(self.loss)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor``: ``"val_loss"`` (lower is better), ``"val_score"`` (higher is
    better; both need ``validation_data``) or ``"loss"`` (the training loss).
    With ``restore_best`` the model ends with the parameters of its best epoch.
    """

    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        check_choice(self.monitor, "monitor", MONITORS)
        object.__setattr__(self, "patience", check_int(self.patience, "patience"))
        object.__setattr__(self, "min_delta", check_real(self.min_delta, "min_delta", 0.0, math.inf))
        object.__setattr__(self, "restore_best", check_bool(self.restore_best, "restore_best"))

    def value(self, history: History) -> float:
        """The monitored value of the last epoch, signed so that lower is better."""
        values = getattr(history, self.monitor)
        return -values[-1] if self.monitor == "val_score" else values[-1]


class BestEpoch:
    """Early stopping's bookkeeping in one ``fit``: the best epoch so far and, to
    restore it, a copy of its parameters (callbacks may change the model's arrays)."""

    def __init__(self, rule: EarlyStopping | None) -> None:
        self.rule, self.best, self.bad_epochs = rule, math.inf, 0
        self.best_params: list[Any] | None = None

    def update(self, history: History, params: list[Any]) -> bool:
        """Note the epoch just recorded, with its parameters; True when patience has run out."""
        if self.rule is None:
            return False
        value = self.rule.value(history)
        first = history.best_epoch is None and not math.isnan(value)
        if value < self.best - self.rule.min_delta or first:
            self.best, self.bad_epochs = min(value, self.best), 0
            self.best_params = copy_tree(params) if self.rule.restore_best else None
            history.best_epoch = history.n_epochs - 1
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.rule.patience

    def restore(self, model: Any) -> None:
        """Give ``model`` the best epoch's parameters, if the rule restores them."""
        if self.best_params is not None:
            n_layers = len(model.phis)
            model.weights[:], model.biases[:] = self.best_params[:n_layers], self.best_params[n_layers:]
