"""What training records (``History``) and when it stops early (``EarlyStopping``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MONITORS = ("loss", "val_loss", "val_score")


@dataclass
class History:
    """What ``fit`` records, one entry per completed epoch.

    ``loss`` is the mean training cost over the samples visited in the epoch
    (plus the L2 penalty), summed while the parameters were being updated, as
    scikit-learn's ``loss_curve_``; ``val_loss`` and ``val_score`` (accuracy, or
    R² for real-valued costs) are measured on ``validation_data`` at the end of
    the epoch; ``layer_grad_norms[e][j-1]`` is ‖∇Ωʲ‖ of the epoch's last batch
    (vanishing or exploding gradients show here, seed 004); ``grad_norm`` is the
    full-batch ‖∇𝓔‖ (only with a ``tol``); ``time`` the seconds per epoch.
    ``converged``: ‖∇𝓔‖ ≤ tol stopped training; ``stopped_early``: early stopping
    or a callback did; ``best_epoch``: the 0-based epoch early stopping kept.
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
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(map(repr, MONITORS))}, got {self.monitor!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {self.patience!r}")
        if not (isinstance(self.min_delta, (int, float)) and 0.0 <= self.min_delta < math.inf):
            raise ValueError(f"min_delta must be a finite number >= 0, got {self.min_delta!r}")

    def value(self, history: History) -> float:
        """The monitored value of the last epoch, signed so that lower is better."""
        values = getattr(history, self.monitor)
        return -values[-1] if self.monitor == "val_score" else values[-1]
