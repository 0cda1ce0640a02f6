"""The estimators' training: their parameters turned into one ``MLP.fit``.

scikit-learn's semantics on mlp_xp's loop: its solvers, learning-rate
schedules and stopping rules, its verbose lines, and its handling of
non-finite parameters (a ``ValueError``; with ``early_stopping``, the best
epoch is kept instead, as scikit-learn does).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..history import EarlyStopping, History
from ..model import MLP
from ..optimizers import SGD, Adam, LineSearchGD
from ..schedules import Adaptive

# scikit-learn's "adaptive" schedule stops once η has fallen to this value.
MIN_ADAPTIVE_LR = 1e-6
NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)
# The start of the warning of MLP.fit(on_divergence="warn"), which the estimators turn into their own.
_DIVERGED = "training diverged"


def train_network(
    estimator: Any,
    model: MLP,
    loss: str,
    train: tuple,
    validation: Any,
    *,
    first: bool,
    incremental: bool,
    rows: tuple[int, ...],
    comm: Any,
) -> tuple[History, bool]:
    """``model.fit`` with the estimator's parameters: its History, and whether it diverged.

    ``rows``: every process's training rows (this one's alone without ``comm``):
    "invscaling" counts all of them, and ``batch_size="auto"`` is min(200, the
    fewest).  A diverging epoch ends training with the parameters of the last
    finite epoch, or of the best one with ``early_stopping``.
    """
    optimizer = _optimizer(estimator)
    resume = not first and optimizer == model.optimizer
    n_samples, epochs = sum(rows), 1 if incremental else estimator.max_iter
    schedule, callbacks = _schedule(estimator, n_samples, resume)
    if estimator.verbose and comm.rank == 0:
        callbacks = (*callbacks, VerboseReport(estimator._loss_scale(model.layer_sizes[-1]), schedule))
    history, diverged = fit_noting_divergence(
        model,
        *train[:2],
        loss=loss,
        optimizer=optimizer,
        lr=estimator.learning_rate_init,
        batch_size=_batch_size(estimator.batch_size, min(rows)),
        epochs=epochs,
        sampling="shuffle" if estimator.shuffle else "sequential",
        lr_schedule=schedule,
        alpha=estimator.alpha,
        sample_weight=train[2],
        validation_data=validation,
        callbacks=callbacks,
        early_stopping=_stopping_rule(estimator),
        resume=resume,
        comm=comm,
        checkpoint=estimator.checkpoint,
    )
    if estimator.verbose and comm.rank == 0 and history.stopped_early:
        watched = "Validation score" if estimator.early_stopping else "Training loss"
        print(
            f"{watched} did not improve more than tol={estimator.tol:f} for "
            f"{estimator.n_iter_no_change} consecutive epochs. Stopping."
        )
    return history, diverged


def fit_noting_divergence(model: MLP, x: Any, y: Any, *, epochs: int, **options: Any) -> tuple[History, bool]:
    """``model.fit(x, y, epochs=epochs, on_divergence="warn", **options)`` with its divergence
    warning silenced: the History, and whether an epoch diverged (training then stopped)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DIVERGED, category=RuntimeWarning)
        history = model.fit(x, y, epochs=epochs, on_divergence="warn", **options)
    # Only divergence ends a fit before its epochs without saying why in the History.
    return history, history.n_epochs < epochs and not (history.stopped_early or history.converged)


class VerboseReport:
    """scikit-learn's lines after each epoch: "Iteration N, loss = …", with
    early stopping "Validation score: …", and the "adaptive" schedule's new η."""

    def __init__(self, scale: float, schedule: Any) -> None:
        self.scale, self.schedule = scale, schedule
        self.lr = getattr(schedule, "lr", None)

    def __call__(self, model: MLP, history: History) -> bool:
        print(f"Iteration {history.n_epochs}, loss = {history.loss[-1] / self.scale:.8f}")
        if history.val_score:
            print(f"Validation score: {history.val_score[-1]:f}")
        if isinstance(self.schedule, Adaptive) and self.schedule.lr != self.lr:
            self.lr = self.schedule.lr
            print(
                f"Training loss did not improve more than tol={self.schedule.min_delta:f} for "
                f"{self.schedule.patience} consecutive epochs. Setting learning rate to {self.lr:f}"
            )
        return False


def _optimizer(estimator: Any) -> Any:
    if estimator.solver == "sgd":
        nesterov = bool(estimator.nesterovs_momentum) and estimator.momentum > 0
        return SGD(momentum=estimator.momentum, nesterov=nesterov)
    if estimator.solver == "adam":
        return Adam(beta1=estimator.beta_1, beta2=estimator.beta_2, eps=estimator.epsilon)
    return LineSearchGD()


def _schedule(estimator: Any, n_samples: int, resume: bool) -> tuple[Any, tuple]:
    """The learning-rate schedule and the callbacks that go with it.

    As scikit-learn, ``learning_rate`` applies to the "sgd" solver only.
    An "adaptive" schedule carries over to ``partial_fit`` and warm starts
    that continue the optimizer.
    """
    if estimator.solver != "sgd" or estimator.learning_rate == "constant":
        return "constant", ()
    if estimator.learning_rate == "invscaling":
        t = estimator.t_ if resume else 0
        return InvScaling(estimator.learning_rate_init, estimator.power_t, t, n_samples), ()
    if not (resume and isinstance(getattr(estimator, "_adaptive", None), Adaptive)):
        estimator._adaptive = Adaptive(estimator.learning_rate_init, min_delta=estimator.tol)
    adaptive = estimator._adaptive
    return adaptive, (lambda model, history: adaptive.lr <= MIN_ADAPTIVE_LR,)


def _stopping_rule(estimator: Any) -> EarlyStopping | None:
    """scikit-learn's rule: stop after n_iter_no_change + 1 epochs without an
    improvement of tol, of the validation score (keeping the best epoch) or
    of the training loss."""
    n_iter_no_change = estimator.n_iter_no_change
    patience = estimator.max_iter if n_iter_no_change == math.inf else n_iter_no_change + 1
    if estimator.early_stopping:
        return EarlyStopping("val_score", patience=patience, min_delta=estimator.tol, restore_best=True)
    if n_iter_no_change == math.inf or (estimator.solver == "sgd" and estimator.learning_rate == "adaptive"):
        return None
    return EarlyStopping("loss", patience=patience, min_delta=estimator.tol, restore_best=False)


def _batch_size(batch_size: Any, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn(
            f"batch_size={batch_size} is larger than the {n_samples} training samples; "
            f"using batches of {n_samples}",
            UserWarning,
            stacklevel=6,
        )
    return min(batch_size, n_samples)


class InvScaling:
    """scikit-learn's "invscaling": η / (t + 1)^power_t through an epoch, t the
    training samples seen before it (a schedule with ``end_epoch``)."""

    def __init__(self, lr: float, power_t: float, t: int, n_samples: int) -> None:
        self.lr, self.power_t, self.t, self.n_samples = lr, power_t, t, n_samples

    def __call__(self, k: int) -> float:
        return self.lr / (self.t + 1) ** self.power_t

    def end_epoch(self, loss: float) -> None:
        self.t += self.n_samples
