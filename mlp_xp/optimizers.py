"""Optimizers: SGD (with momentum), Adam, a line search and L-BFGS.

An optimizer is a small object with explicit state (the optax pattern):
``state = opt.init(params)`` and ``params, state = opt.step(params, grads,
state, lr)``, where ``params`` and ``grads`` are lists of arrays
(``weights + biases``).  Gradient descent, SGD and mini-batch SGD are the same
update fed batches of N, 1 or M samples (seeds 002–004); a new optimizer only
needs these two methods.  An optimizer whose class sets ``needs_objective =
True`` (the line search) is called ``step(params, grads, state, lr,
value=𝓔(θ), objective=θ ↦ 𝓔(θ))`` on the batch objective; one that sets
``needs_value_and_grad = True`` (L-BFGS) gets ``value_and_grad=θ ↦ (𝓔(θ),
∇𝓔(θ))`` instead, 𝓔 then a 0-d device array (or the float its state keeps,
``lbfgs.value_and_grad_from_state``).  One that sets ``full_batch =
True`` refuses mini-batches (``check_batching``), and one with a method
``converged(state)`` stops ``fit`` when it returns True.

``step`` is functional: it returns new arrays and leaves its arguments
untouched.  The built-ins also offer ``update``, the same step written in place
on the lists it is given (``params[i] -= η g``), free to use the gradients as
scratch space; ``fit`` calls it on working copies it makes once per epoch, and
on gradients it owns.  ``step`` is ``update`` applied to copies, so the two
cannot disagree.  In-place operators fall back to new arrays on a
library whose arrays are immutable, so ``update`` runs on every Array API
library.  State is ``None`` or a dict of lists of arrays, ints and floats.

The built-ins are frozen dataclasses of their hyper-parameters, registered by
name in ``OPTIMIZERS``; ``optimizer_config`` and
``optimizer_from_config`` turn them into JSON-able dicts and back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

import array_api_compat

from . import line_search
from ._backend import namespace_of
from ._kernels_cupy import fused_update
from ._validation import check_int, check_real
from .lbfgs import LBFGS


class Optimizer(Protocol):
    """What ``fit`` needs of an optimizer."""

    def init(self, params: Sequence[Any]) -> Any: ...

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: Any, lr: float
    ) -> tuple[list[Any], Any]: ...


def copy_tree(tree: Any) -> Any:
    """A copy of parameters or optimizer state: the arrays in its lists, tuples and
    dicts copied, anything else kept as it is."""
    if isinstance(tree, dict):
        return {key: copy_tree(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(copy_tree(value) for value in tree)
    if array_api_compat.is_array_api_obj(tree):
        return namespace_of(tree).asarray(tree, copy=True)
    return tree


class InPlaceStep:
    """``update`` and ``step`` (``update`` on copies), for optimizers written in place.

    A subclass defines ``apply(params, grads, state, lr) -> (params, state)``,
    the array work of a step, which changes the lists ``params`` and ``state``
    (and may overwrite ``grads``) in place, through augmented assignments such
    as ``params[i] -= ...`` so that immutable arrays are rebound instead.  A
    state that also holds numbers (Adam's t) has them kept by ``advance(state,
    lr) -> lr``, the host part of a step, which updates them and returns the
    learning rate that ``apply`` takes.  ``apply`` reads no number of the
    state, so a compiler traces it once for every step (``_compile``).
    """

    apply: Callable[..., tuple[list[Any], Any]]

    def advance(self, state: Any, lr: float) -> float:
        """The host part of a step: the numbers of ``state`` after it (in place), and the
        learning rate of its ``apply``; here none and η."""
        return lr

    def update(self, params: list[Any], grads: Sequence[Any], state: Any, lr: float) -> tuple[list[Any], Any]:
        """``step`` in place on ``params`` and ``state`` (``advance``, then ``apply``); returns them."""
        return self.apply(params, grads, state, self.advance(state, lr))

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: Any, lr: float
    ) -> tuple[list[Any], Any]:
        """θ, state ↦ the updated θ and state, as new arrays; the arguments are not modified."""
        return self.update(copy_tree(params), copy_tree(grads), copy_tree(state), lr)


def updates_in_place(optimizer: Any) -> bool:
    """Whether ``optimizer.step`` is ``InPlaceStep.step``: ``update`` on copies."""
    return getattr(type(optimizer), "step", None) is InPlaceStep.step


def owned_step(optimizer: Any) -> Callable[..., tuple[list[Any], Any]]:
    """The step for parameters, gradients and state that the caller owns and lets
    change: ``update`` where ``updates_in_place``, else ``step``.  For ``SGD`` and
    ``Adam`` with the fused CuPy kernels switched on: ``update`` as one kernel per
    parameter on CuPy arrays (``_kernels_cupy.fused_update``)."""
    if not updates_in_place(optimizer):
        return optimizer.step
    fused = fused_update(optimizer) if type(optimizer) in (SGD, Adam) else None
    return fused or optimizer.update


@dataclass(frozen=True)
class SGD(InPlaceStep):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Parameters
    ----------
    momentum : float in [0, 1)
        μ; 0 is plain gradient descent.
    nesterov : bool
        Nesterov's momentum; needs ``momentum > 0`` (with μ = 0 it would be
        plain SGD under another name, so it is refused rather than ignored).

    Notes
    -----
    With g = ∇𝓔(S, θ) the batch gradient and η the learning rate of the update:

    - μ = 0: θ ← θ − η g (seeds 002–004); state ``None``.
    - μ > 0 (scikit-learn's ``SGDOptimizer``): v ← μ v − η g, then θ ← θ + v,
      or with Nesterov θ ← θ + (μ v − η g) (the new v).  State
      ``{"velocity": [v per parameter]}``, v = 0 at ``init``.
    """

    momentum: float = 0.0
    nesterov: bool = False
    name: ClassVar[str] = "sgd"

    def __post_init__(self) -> None:
        object.__setattr__(self, "momentum", check_real(self.momentum, "momentum", 0.0, 1.0))
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"nesterov must be True or False, got {self.nesterov!r}")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")

    def init(self, params: Sequence[Any]) -> dict[str, list[Any]] | None:
        if self.momentum == 0.0:
            return None
        xp = namespace_of(params[0])
        return {"velocity": [xp.zeros_like(p) for p in params]}

    def apply(self, params: list[Any], grads: Sequence[Any], state: Any, lr: float) -> tuple[list[Any], Any]:
        """The step in place on ``params`` and ``state``, overwriting ``grads`` with η g; returns them."""
        for i, g in enumerate(grads):
            g *= lr
            if self.momentum == 0.0:
                params[i] -= g
                continue
            velocity = state["velocity"]
            velocity[i] *= self.momentum
            velocity[i] -= g
            params[i] += self.momentum * velocity[i] - g if self.nesterov else velocity[i]
        return params, state


@dataclass(frozen=True)
class Adam(InPlaceStep):
    """Adam (Kingma & Ba), as scikit-learn's ``AdamOptimizer``.

    Parameters
    ----------
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float > 0
        Added to √v for numerical stability.

    Notes
    -----
    Update t = 1, 2, ... with gradient g and learning rate η:
    m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
    η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ) (the bias correction, on the host),
    θ ← θ − η_t m / (√v + ε).
    State ``{"m": [...], "v": [...], "t": int}``: m = v = 0 and t = 0 at
    ``init``; t is a host int, so the update reads nothing from the device.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: ClassVar[str] = "adam"

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta1", check_real(self.beta1, "beta1", 0.0, 1.0))
        object.__setattr__(self, "beta2", check_real(self.beta2, "beta2", 0.0, 1.0))
        object.__setattr__(self, "eps", check_real(self.eps, "eps", 0.0, math.inf, low_open=True))

    def init(self, params: Sequence[Any]) -> dict[str, Any]:
        xp = namespace_of(params[0])
        return {"m": [xp.zeros_like(p) for p in params], "v": [xp.zeros_like(p) for p in params], "t": 0}

    def advance(self, state: dict[str, Any], lr: float) -> float:
        """t ← t + 1 (in ``state``); returns η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ), on the host."""
        state["t"] += 1
        return self.step_size(lr, state["t"])

    def apply(
        self, params: list[Any], grads: Sequence[Any], state: dict[str, Any], lr_t: float
    ) -> tuple[list[Any], dict[str, Any]]:
        """m, v and θ in place, with the corrected rate η_t (``grads`` are only read); returns them."""
        xp = namespace_of(params[0])
        b1, b2, m, v = self.beta1, self.beta2, state["m"], state["v"]
        for i, g in enumerate(grads):
            m[i] *= b1
            m[i] += (1 - b1) * g
            v[i] *= b2
            v[i] += (1 - b2) * (g * g)
            params[i] -= lr_t * m[i] / (xp.sqrt(v[i]) + self.eps)
        return params, state

    def step_size(self, lr: float, t: int) -> float:
        """η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ): the bias-corrected rate of update t, on the host."""
        return lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)


@dataclass(frozen=True)
class LineSearchGD:
    """Gradient descent with a line search (seed 004): Armijo backtracking, or the exact step.

    Parameters
    ----------
    c : float in (0, 1)
        Sufficient-decrease constant of the Armijo condition.
    shrink : float in (0, 1)
        Factor applied to the step after each rejected trial.
    max_halvings : int ≥ 0
        Shrinks tried after the first step η before giving up.
    exact : bool
        Take seed 004's exact step instead: c, shrink and max_halvings then
        play no part.

    Notes
    -----
    Seed 004's gradient descent takes d = −∇𝓔(θ) = −g and a step α > 0 with
    𝓔(θ + α d) < 𝓔(θ) (``line_search``):

    - Armijo: α backtracks from the learning rate η, α = η, η·shrink,
      η·shrink², ... until 𝓔(θ − α g) ≤ 𝓔(θ) − c α ‖g‖²; the first such α is
      taken.  Near a minimum the decrease c α ‖g‖² falls below the rounding
      error of 𝓔 (≈ 1e-16·|𝓔| in float64), the test then compares noise and
      may keep θ: a gradient-norm tolerance should sit above that floor.
    - ``exact=True``: αᵏ = argmin_{α>0} 𝓔(θ − α g), bracketed from η and
      located by Brent's method to a relative tolerance √ε of the dtype; each
      step decreases 𝓔, and ∇𝓔(θᵏ⁺¹) ⟂ ∇𝓔(θᵏ) (to that tolerance).  Where 𝓔
      keeps decreasing along d (a sigmoid on separable data), the longest
      step the search's budget reaches is taken.

    If no trial decreases 𝓔, or the gradient or 𝓔(θ) is not finite, θ is
    kept unchanged.  A zero gradient keeps θ too.

    ``fit`` passes ``value`` = 𝓔(θ) and ``objective`` θ ↦ 𝓔(θ) on the current
    batch (with mini-batches this is a stochastic line search).  Each update
    reads ‖g‖² and one objective value per trial back to the host: a line
    search is sequential by nature, so unlike SGD and Adam it synchronises.

    State ``{"step_size": α}``: the step taken by the last update, 0.0 before
    the first one and whenever θ was kept.
    """

    c: float = 1e-4
    shrink: float = 0.5
    max_halvings: int = 30
    exact: bool = False
    name: ClassVar[str] = "line_search"
    needs_objective: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", check_real(self.c, "c", 0.0, 1.0, low_open=True))
        object.__setattr__(self, "shrink", check_real(self.shrink, "shrink", 0.0, 1.0, low_open=True))
        object.__setattr__(self, "max_halvings", check_int(self.max_halvings, "max_halvings", minimum=0))
        if not isinstance(self.exact, bool):
            raise TypeError(f"exact must be True or False, got {self.exact!r}")

    def init(self, params: Sequence[Any]) -> dict[str, float]:
        return {"step_size": 0.0}

    def step(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        state: Any,
        lr: float,
        *,
        value: float,
        objective: Callable[[list[Any]], float],
    ) -> tuple[list[Any], dict[str, float]]:
        xp = namespace_of(params[0])
        squared_norm = float(sum(xp.sum(g * g) for g in grads))
        value = float(value)
        if squared_norm > 0.0 and math.isfinite(squared_norm) and math.isfinite(value):

            def phi(step: float) -> float:
                return float(objective([p - step * g for p, g in zip(params, grads)]))

            if self.exact:
                xtol = math.sqrt(float(xp.finfo(params[0].dtype).eps))
                step = line_search.exact(phi, value, lr, xtol=xtol)[0]
            else:
                step = line_search.backtracking(
                    phi, value, -squared_norm, lr, c=self.c, shrink=self.shrink, max_shrinks=self.max_halvings
                )
            if step > 0.0:
                return [p - step * g for p, g in zip(params, grads)], {"step_size": step}
        return list(params), {"step_size": 0.0}


OPTIMIZERS: dict[str, type] = {cls.name: cls for cls in (SGD, Adam, LineSearchGD, LBFGS)}


def check_batching(optimizer: Any, batch_size: int | None, clip_norm: float | None) -> None:
    """Refuse mini-batches and gradient clipping for an optimizer whose class sets
    ``full_batch`` (L-BFGS: its curvature pairs need the full batch's true gradient)."""
    if not getattr(optimizer, "full_batch", False):
        return
    if batch_size is not None:
        raise ValueError(
            f"optimizer {optimizer!r} trains on the full batch: pass batch_size=None, got {batch_size!r}"
        )
    if clip_norm is not None:
        raise ValueError(
            f"optimizer {optimizer!r} needs the true gradient: pass clip_norm=None, got {clip_norm!r}"
        )


@dataclass(frozen=True)
class WeightsOnly:
    """``inner`` applied to the weights Ω only: the biases β keep their values.

    A neuron without bias, as in seed 004, is a model whose β stays at 0.
    ``params`` and ``grads`` are ``weights + biases`` (as many of each): the
    biases' gradients are replaced by zeros before ``inner`` steps, so SGD,
    Adam and the line search all leave β unchanged.  The state is ``inner``'s.
    Saved with the model as ``{"name": "weights_only", "inner": <inner's config>}``.
    """

    inner: Any = field(default_factory=SGD)
    name: ClassVar[str] = "weights_only"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inner", get_optimizer(self.inner))

    @property
    def needs_objective(self) -> bool:
        return getattr(self.inner, "needs_objective", False)

    @property
    def needs_value_and_grad(self) -> bool:
        return getattr(self.inner, "needs_value_and_grad", False)

    def init(self, params: Sequence[Any]) -> Any:
        return self.inner.init(params)

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: Any, lr: float, **objective: Any
    ) -> tuple[list[Any], Any]:
        if "value_and_grad" in objective:
            value_and_grad = objective["value_and_grad"]
            objective["value_and_grad"] = lambda trial: _weights_only(*value_and_grad(trial))
        return self.inner.step(params, _weights_only(None, grads)[1], state, lr, **objective)


def _weights_only(value: Any, grads: Sequence[Any]) -> tuple[Any, list[Any]]:
    """``value`` and ``grads`` (weights then biases) with the biases' gradients zeroed."""
    n_weights = len(grads) // 2
    return value, [*grads[:n_weights], *(0.0 * g for g in grads[n_weights:])]


# The classes that optimizer_config writes and optimizer_from_config reads back.
_CONFIGURABLE: dict[str, type] = {**OPTIMIZERS, WeightsOnly.name: WeightsOnly}


def get_optimizer(optimizer: Any) -> Optimizer:
    """An optimizer from its name or an object with ``init`` and ``step`` (not a class)."""
    if isinstance(optimizer, type):
        raise TypeError(
            f"optimizer must be a name or an optimizer object, got the class {optimizer.__name__}: "
            f"pass an instance, e.g. optimizer={optimizer.__name__}()"
        )
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "step", None)):
        return optimizer
    raise ValueError(
        f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))} or an object "
        f"with init(params) and step(params, grads, state, lr), got {optimizer!r}"
    )


def optimizer_config(optimizer: Any) -> dict[str, Any]:
    """A built-in optimizer as a JSON-able dict ``{"name": ..., **hyper-parameters}``
    (a wrapped optimizer as its own config).

    Raises ``ValueError`` for any other object: only the classes of
    ``OPTIMIZERS`` and ``WeightsOnly`` (not their subclasses) are known to
    ``optimizer_from_config``.
    """
    if type(optimizer) not in _CONFIGURABLE.values():
        raise ValueError(
            f"optimizer {optimizer!r} cannot be saved: only the built-in optimizers "
            f"{', '.join(map(repr, _CONFIGURABLE))} have a config, got a {type(optimizer).__name__}"
        )
    values = {f.name: getattr(optimizer, f.name) for f in fields(optimizer)}
    return {
        "name": optimizer.name,
        **{key: optimizer_config(v) if type(v) in _CONFIGURABLE.values() else v for key, v in values.items()},
    }


def optimizer_from_config(config: Any) -> Optimizer:
    """The optimizer of an ``optimizer_config`` dict; missing fields take their defaults."""
    if not isinstance(config, Mapping):
        raise TypeError(f"optimizer config must be a dict with a 'name', got {config!r}")
    name = config.get("name")
    if not isinstance(name, str) or name not in _CONFIGURABLE:
        raise ValueError(
            f"optimizer config 'name' must be one of {', '.join(map(repr, _CONFIGURABLE))}, got {name!r}"
        )
    cls = _CONFIGURABLE[name]
    allowed = [f.name for f in fields(cls)]
    unknown = [key for key in config if key != "name" and key not in allowed]
    if unknown:
        raise ValueError(
            f"optimizer config for {name!r} has unknown fields {', '.join(map(repr, unknown))}; "
            f"its fields are {', '.join(map(repr, allowed))}"
        )
    return cls(
        **{
            key: optimizer_from_config(value) if isinstance(value, Mapping) else value
            for key, value in config.items()
            if key != "name"
        }
    )
