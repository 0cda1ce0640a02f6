"""Optimizers and learning-rate schedules.

An optimizer is a small object with explicit state (the optax pattern):
``state = opt.init(params)`` and ``params, state = opt.step(params, grads,
state, lr)``, where ``params`` and ``grads`` are lists of arrays
(``weights + biases``).  Gradient descent, SGD and mini-batch SGD are the same
update fed batches of N, 1 or M samples (seeds 002–004); a new optimizer only
needs these two methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Optimizer(Protocol):
    """What ``fit`` needs of an optimizer."""

    def init(self, params: Sequence[Any]) -> Any: ...

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: Any, lr: float
    ) -> tuple[list[Any], Any]: ...


class SGD:
    """Plain (stochastic) gradient descent: θ ← θ − η ∇𝓔(S, θ)."""

    def init(self, params: Sequence[Any]) -> None:
        return None

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: None, lr: float
    ) -> tuple[list[Any], None]:
        return [p - lr * g for p, g in zip(params, grads)], state

    def __repr__(self) -> str:
        return "SGD()"


OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {"sgd": SGD}


def get_optimizer(optimizer: Any) -> Optimizer:
    """An optimizer from its name or an object with ``init`` and ``step``."""
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "step", None)):
        return optimizer
    raise ValueError(
        f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))} or an object "
        f"with init(params) and step(params, grads, state, lr), got {optimizer!r}"
    )


SCHEDULES = ("constant", "robbins_monro", "invscaling")


def get_schedule(schedule: Any, lr: float, power_t: float) -> Callable[[int], float]:
    """The learning rate η_k of update k = 0, 1, 2, ...

    ``"constant"``: η_k = η; ``"robbins_monro"``: η_k = η / (k + 1), the
    γ_k = 1/(k+1) schedule of seed 004; ``"invscaling"``: η_k = η / (k + 1)^power_t;
    or a callable ``k -> η_k``.
    """
    if callable(schedule):
        return schedule
    if schedule == "constant":
        return lambda k: lr
    if schedule == "robbins_monro":
        return lambda k: lr / (k + 1)
    if schedule == "invscaling":
        return lambda k: lr / (k + 1) ** power_t
    raise ValueError(
        f"lr_schedule must be one of {', '.join(map(repr, SCHEDULES))} or a callable "
        f"k -> learning rate, got {schedule!r}"
    )
