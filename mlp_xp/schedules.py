"""Learning-rate schedules: η_k for update k = 0, 1, 2, ... (seed 004).

A schedule is a callable ``k -> η_k``; one that also has ``end_epoch(loss)``
hears each epoch's training loss (the ``"adaptive"`` schedule divides η on a
plateau).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCHEDULES = ("constant", "robbins_monro", "invscaling", "adaptive")


class Adaptive:
    """η constant while the training loss falls; divided by ``1/factor`` (5, as
    scikit-learn) after ``patience`` epochs in a row without a decrease of at
    least ``min_delta``."""

    def __init__(self, lr: float, factor: float = 0.2, patience: int = 2, min_delta: float = 1e-4) -> None:
        self.lr, self.factor, self.patience, self.min_delta = lr, factor, patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0

    def __call__(self, k: int) -> float:
        return self.lr

    def end_epoch(self, loss: float) -> None:
        if loss > self.best - self.min_delta:
            self.bad_epochs += 1
        else:
            self.bad_epochs = 0
        self.best = min(self.best, loss)
        if self.bad_epochs >= self.patience:
            self.lr, self.bad_epochs = self.lr * self.factor, 0


def get_schedule(schedule: Any, lr: float, power_t: float) -> Callable[[int], float]:
    """The learning rate η_k of update k = 0, 1, 2, ...

    ``"constant"``: η_k = η; ``"robbins_monro"``: η_k = η / (k + 1), the
    γ_k = 1/(k+1) schedule of seed 004; ``"invscaling"``: η_k = η / (k + 1)^power_t;
    ``"adaptive"``: η, divided by 5 when the training loss stalls for two epochs;
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
        return Adaptive(lr)
    raise ValueError(
        f"lr_schedule must be one of {', '.join(map(repr, SCHEDULES))} or a callable "
        f"k -> learning rate, got {schedule!r}"
    )
