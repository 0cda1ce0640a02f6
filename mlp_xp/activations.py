"""Activation functions Φ with their vector–Jacobian products.

Each activation gives its value ``a = Φ(z)`` and ``vjp(z, a, g)``, the product
of the Jacobian of Φ at ζ with an upstream gradient g.  For an elementwise Φ
that is the seed's Hadamard product ``Φ'(ζ) ⊙ g``; for softmax, whose Jacobian
is not diagonal, it is ``s ⊙ (g − Σₖ sₖ gₖ)``.  Either way one backward loop
serves every activation.  The bounded forms are stable for large |z| (no
overflow); ``exp``, unbounded, overflows only where e^z exceeds the float range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backend import maximum_scalar

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An activation: ``value(xp, z)``, ``vjp(xp, z, a, g)`` and its weight init.

    ``init`` is ``"glorot"`` (sigmoid, tanh, identity, softmax, exp), ``"he"``
    (the ReLU family) or ``"lecun"``: the initialisation of the layer that this
    activation follows, unless ``MLP(init=...)`` chooses another.
    ``elementwise`` is False only for softmax; ``output_only`` marks the
    activations of the output layer only (softmax, exp).  ``fused_bias(xp, z, b)``,
    where set, adds β to ζ in place and returns α = Φ(ζ) in one pass (the fused
    CuPy kernels give it); ``forward`` takes the two steps otherwise.
    """

    name: str
    value: Callable[[Any, Any], Any]
    vjp: Callable[[Any, Any, Any, Any], Any]
    init: str = "glorot"
    elementwise: bool = True
    output_only: bool = False
    fused_bias: Callable[[Any, Any, Any], Any] | None = None


def identity(xp: Any, z: Any) -> Any:
    """Φ(ζ) = ζ."""
    return z


def identity_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """Φ'(ζ) ⊙ g = g."""
    return g


def sigmoid(xp: Any, z: Any) -> Any:
    """σ(z) = 1 / (1 + e^{−z}), evaluated without overflow for any z."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """σ'(ζ) ⊙ g = g ⊙ α ⊙ (1 − α), with α = σ(ζ)."""
    return g * a * (1.0 - a)


def tanh(xp: Any, z: Any) -> Any:
    """Φ(ζ) = tanh ζ."""
    return xp.tanh(z)


def tanh_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """tanh'(ζ) ⊙ g = g ⊙ (1 − α²), with α = tanh ζ."""
    return g * (1.0 - a * a)


def relu(xp: Any, z: Any) -> Any:
    """Φ(ζ) = max(ζ, 0)."""
    return maximum_scalar(xp, z, 0.0)


def relu_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """ReLU'(ζ) ⊙ g: the 0/1 mask of ζ > 0 (not ``where``, which branches per element), times g."""
    mask = xp.astype(z > 0, g.dtype)
    mask *= g
    return mask


def leaky_relu(xp: Any, z: Any) -> Any:
    """Φ(ζ) = max(ζ, sζ), s = ``LEAKY_SLOPE``."""
    return xp.maximum(z, LEAKY_SLOPE * z)


def leaky_relu_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """Φ'(ζ) ⊙ g = g ⊙ (s + (1 − s)·[ζ > 0])."""
    return g * (LEAKY_SLOPE + (1.0 - LEAKY_SLOPE) * xp.astype(z > 0, g.dtype))


def softplus(xp: Any, z: Any) -> Any:
    """log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), without overflow."""
    return maximum_scalar(xp, z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def softplus_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """softplus'(ζ) ⊙ g = g ⊙ σ(ζ)."""
    return g * sigmoid(xp, z)


def softmax(xp: Any, z: Any) -> Any:
    """Row-wise softmax; the row maximum is subtracted first."""
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def softmax_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """Jᵀg = s ⊙ (g − Σₖ sₖ gₖ) per row, with s = softmax(ζ)."""
    return a * (g - xp.sum(a * g, axis=1, keepdims=True))


def exp(xp: Any, z: Any) -> Any:
    """Φ(ζ) = e^ζ, the log link's inverse (output layer only, for the Poisson cost)."""
    return xp.exp(z)


def exp_vjp(xp: Any, z: Any, a: Any, g: Any) -> Any:
    """exp'(ζ) ⊙ g = g ⊙ α, with α = e^ζ."""
    return g * a


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", identity, identity_vjp),
        Activation("sigmoid", sigmoid, sigmoid_vjp),
        Activation("tanh", tanh, tanh_vjp),
        Activation("relu", relu, relu_vjp, init="he"),
        Activation("leaky_relu", leaky_relu, leaky_relu_vjp, init="he"),
        Activation("softplus", softplus, softplus_vjp, init="he"),
        Activation("softmax", softmax, softmax_vjp, elementwise=False, output_only=True),
        Activation("exp", exp, exp_vjp, output_only=True),
    )
}


INITS = ("glorot", "he", "lecun")


def get_activation(name: Any, argument: str = "activation") -> Activation:
    """The activation called ``name``; ``ValueError`` naming ``argument`` if unknown."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, ACTIVATIONS))}, got {name!r}")
    return ACTIVATIONS[name]
