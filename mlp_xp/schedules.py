"""Learning-rate schedules: η_k for update k = 0, 1, 2, ... (seed 004).

A schedule is a callable ``k -> η_k``; one that also has ``end_epoch(loss)``
hears each epoch's training loss (the ``"adaptive"`` schedule divides η on a
plateau).  ``learning_rate`` reads η_k from a schedule as a positive finite
Python float, once per update.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

SCHEDULES = ("constant", "robbins_monro", "invscaling", "adaptive")


class Adaptive:
    """η constant while the training loss falls; divided by ``1/factor`` (5, as
    scikit-learn) after ``patience`` epochs in a row without a decrease of at
    least ``min_delta``.  An epoch without a finite loss (no sample weight
    seen) leaves it as it is.

    ``state()`` and ``resume(state)`` carry η, the best loss and the stalled
    epochs from one ``fit`` to the next (``resume=True``) and through a file.
    """

    def __init__(self, lr: float, factor: float = 0.2, patience: int = 2, min_delta: float = 1e-4) -> None:
        self.lr, self.factor, self.patience, self.min_delta = lr, factor, patience, min_delta
        self.best, self.bad_epochs = math.inf, 0

    def __call__(self, k: int) -> float:
        return self.lr

    def end_epoch(self, loss: float) -> None:
        if not math.isfinite(loss):
            return
        if loss > self.best - self.min_delta:
            self.bad_epochs += 1
        else:
            self.bad_epochs = 0
        self.best = min(self.best, loss)
        if self.bad_epochs >= self.patience:
            self.lr, self.bad_epochs = self.lr * self.factor, 0

    def state(self) -> dict[str, Any]:
        """``{"lr": η, "best": lowest loss or None before the first, "bad_epochs": int}``, JSON-able."""
        best = None if self.best == math.inf else self.best
        return {"lr": self.lr, "best": best, "bad_epochs": self.bad_epochs}

    def resume(self, state: dict[str, Any]) -> Adaptive:
        """Continue from a ``state()``; returns this schedule."""
        self.lr, self.bad_epochs = float(state["lr"]), int(state["bad_epochs"])
        self.best = math.inf if state["best"] is None else float(state["best"])
        return self


def get_schedule(
    schedule: Any, lr: float, power_t: float, state: dict[str, Any] | None = None
) -> Callable[[int], float]:
    """The learning rate η_k of update k = 0, 1, 2, ...

    ``"constant"``: η_k = η; ``"robbins_monro"``: η_k = η / (k + 1), the
    γ_k = 1/(k+1) schedule of seed 004; ``"invscaling"``: η_k = η / (k + 1)^power_t;
    ``"adaptive"``: η, divided by 5 when the training loss stalls for two epochs,
    continued from ``state`` (an ``Adaptive.state()``) when one is given;
    or a callable ``k -> η_k`` (optionally with ``end_epoch(loss)``).
    """
    if callable(schedule):
        return schedule
    if schedule == "constant":
        return lambda k: lr
    if schedule == "robbins_monro":
        return lambda k: lr / (k + 1)
    if schedule == "invscaling":
        return lambda k: lr / (k + 1) ** power_t
    if schedule == "adaptive":
        return Adaptive(lr) if state is None else Adaptive(lr).resume(state)
    raise ValueError(
        f"lr_schedule must be one of {', '.join(map(repr, SCHEDULES))} or a callable "
        f"k -> learning rate, got {schedule!r}"
    )


def learning_rate(schedule: Callable[[int], Any], k: int) -> float:
    """η_k = ``schedule(k)`` as a Python float, checked to be a positive finite number.

    A float, not an array or a NumPy scalar: η then never changes the dtype of
    the parameters it scales.
    """
    value = schedule(k)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"lr_schedule must return a positive finite number, got {value!r} for update {k}")
    lr = float(value)
    if not (0.0 < lr < math.inf):
        raise ValueError(f"lr_schedule must return a positive finite number, got {value!r} for update {k}")
    return lr
