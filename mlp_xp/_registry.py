"""Registration of user activations and costs: checked before they join the tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._backend import get_namespace
from .activations import ACTIVATIONS, INITS, Activation
from .costs import COSTS, TARGETS, Cost

PROBE_SHAPE = (2, 3)
# A probe (y, ŷ) per kind of target: values valid for it, ŷ in (0, 1) (inside every domain).
PROBE_TARGETS = {
    "real": [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]],
    "sign": [[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]],
    "probability": [[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]],
    "distribution": [[0.0, 1.0, 0.0], [0.5, 0.25, 0.25]],
    "non_negative": [[0.0, 2.0, 1.0], [3.0, 0.0, 0.5]],
}
PROBE_OUTPUTS = [[0.25, 0.5, 0.75], [0.6, 0.3, 0.1]]


def check_new_name(name: Any, registry: Mapping[str, Any], kind: str) -> str:
    """``name`` as a non-empty str not yet in ``registry``; ``kind`` names what it registers."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if name in registry:
        raise ValueError(f"{kind} named {name!r} exists already")
    return name


def register_activation(
    name: str,
    value: Callable[[Any, Any], Any],
    derivative: Callable[[Any, Any, Any], Any] | None = None,
    *,
    vjp: Callable[[Any, Any, Any, Any], Any] | None = None,
    init: str = "glorot",
) -> Activation:
    """Add a hidden-layer activation Φ, written with the namespace ``xp``, to ``ACTIVATIONS``.

    Parameters
    ----------
    name : str
        The name that ``MLP(..., activation=name)`` then accepts.
    value : callable
        ``(xp, z) -> Φ(z)``.
    derivative : callable, optional
        ``(xp, z, a) -> Φ'(z)``, elementwise, given ζ and α = Φ(ζ).
    vjp : callable, optional
        ``(xp, z, a, g) -> Φ'(z) ⊙ g``; give this or ``derivative``.
    init : {"glorot", "he", "lecun"}
        The initialisation of the layers it follows.

    Notes
    -----
    Backpropagation needs only 𝓑ʲ = Φ'(ζʲ) ⊙ (Ωʲ⁺¹ 𝓑ʲ⁺¹) (seed 003): with a
    ``derivative`` the vjp is ``derivative(xp, z, a) * g``.
    """
    check_new_name(name, ACTIVATIONS, "an activation")
    if not callable(value):
        raise TypeError(f"value must be a callable (xp, z) -> Φ(z), got {value!r}")
    if derivative is not None and vjp is None:

        def vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
            return derivative(xp, z, a) * g

    elif derivative is not None or vjp is None:
        raise TypeError("give exactly one of derivative=(xp, z, a) -> Φ'(z) or vjp=(xp, z, a, g) -> Φ'(z)⊙g")
    given = vjp if derivative is None else derivative
    if not callable(given):
        raise TypeError(f"derivative/vjp must be callable, got {given!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    ACTIVATIONS[name] = Activation(name, value, vjp, init=init)
    return ACTIVATIONS[name]


def register_cost(
    name: str,
    value: Callable[[Any, Any, Any], Any],
    grad: Callable[[Any, Any, Any], Any],
    *,
    targets: str = "real",
) -> Cost:
    """Add a cost C(y, ŷ), written with the namespace ``xp``, to ``COSTS``.

    Parameters
    ----------
    name : str
        The name that ``fit(..., loss=name)`` then accepts.
    value : callable
        ``(xp, y, yhat) -> C``, shape (N,): summed over the outputs of each sample.
    grad : callable
        ``(xp, y, yhat) -> ∂C/∂ŷ``, shaped like ``yhat``.
    targets : {"real", "sign", "probability", "distribution", "non_negative"}
        What ``y`` must hold (checked by ``fit``).

    Notes
    -----
    Backpropagation starts from 𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C (seed 003): ``grad`` is ∇C.
    """
    check_new_name(name, COSTS, "a cost")
    for argument, function in (("value", value), ("grad", grad)):
        if not callable(function):
            raise TypeError(f"{argument} must be a callable (xp, y, yhat), got {function!r}")
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(map(repr, TARGETS))}, got {targets!r}")
    _check_cost_shapes(value, grad, targets)
    COSTS[name] = Cost(name, value, grad, targets=targets)
    return COSTS[name]


def _check_cost_shapes(value: Callable[..., Any], grad: Callable[..., Any], targets: str) -> None:
    """``value`` gives one cost per sample, (N,), and ``grad`` one per output, (N, k):
    tried once on a NumPy probe of shape (2, 3) with targets valid for ``targets``."""
    xp = get_namespace("numpy")
    y, yhat = (xp.asarray(v, dtype=xp.float64) for v in (PROBE_TARGETS[targets], PROBE_OUTPUTS))
    for argument, function, expected, meaning in (
        ("value", value, PROBE_SHAPE[:1], "one cost per sample, shape (N,): summed over the outputs"),
        ("grad", grad, PROBE_SHAPE, "∂C/∂ŷ, shaped like yhat (N, n_outputs)"),
    ):
        try:
            shape = tuple(getattr(function(xp, y, yhat), "shape", ()))
        except Exception as exc:
            raise ValueError(
                f"{argument} fails on NumPy arrays y, yhat of shape {PROBE_SHAPE}: {exc}"
            ) from exc
        if shape != expected:
            raise ValueError(
                f"{argument} must return {meaning}; for y and yhat of shape {PROBE_SHAPE} "
                f"it returns shape {shape}, expected {expected}"
            )
