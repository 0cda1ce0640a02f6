"""Cost functions C(y, ŷ) of seed 003, as defined in DESIGN.md §3.

Each cost is summed over the output units of a sample; the cost of a batch,
𝓔(S, θ) = (1/N) Σᵢ C(ρᵢ, ρ̂ᵢ), is the mean of those per-sample costs.  A cost
gives ``value(xp, y, yhat) -> (N,)`` and ``grad(xp, y, yhat) -> ∂C/∂ŷ``, shaped
like ``yhat``.  The costs made for one output activation (binary cross-entropy
after a sigmoid, cross-entropy after a softmax, Poisson after exp) also give
``fused(xp, y, z)``: the per-sample cost and 𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C computed from
the logits ζᴸ in a numerically stable form (log-sum-exp, softplus, log ŷ = ζ)
that agrees with the general path wherever that one is finite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backend import maximum_scalar
from .activations import sigmoid, softplus

HUBER_DELTA = 1.0


@dataclass(frozen=True)
class Cost:
    """A cost: per-sample ``value``, gradient ``grad`` with respect to ŷ.

    ``targets`` names what ``y`` must hold: ``"real"``, ``"sign"`` (±1),
    ``"probability"`` (in [0, 1]), ``"distribution"`` (non-negative rows that
    sum to 1: one-hot rows, or integer class labels turned into them) or
    ``"non_negative"`` (counts, rates: the Poisson cost).
    ``output_activation`` is the activation the cost requires, if any.
    """

    name: str
    value: Callable[[Any, Any, Any], Any]
    grad: Callable[[Any, Any, Any], Any]
    targets: str = "real"
    output_activation: str | None = None
    fused: Callable[[Any, Any, Any], tuple[Any, Any]] | None = None


def mse_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = ½ Σₖ (yₖ − ŷₖ)²."""
    return 0.5 * xp.sum((yhat - y) ** 2, axis=1)


def mse_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = ŷ − y."""
    return yhat - y


def l1_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = Σₖ |yₖ − ŷₖ|."""
    return xp.sum(xp.abs(yhat - y), axis=1)


def l1_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = sign(ŷ − y)."""
    return xp.sign(yhat - y)


def huber_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = Σₖ ½r² if |r| ≤ δ else δ(|r| − δ/2), r = yₖ − ŷₖ, δ = ``HUBER_DELTA``."""
    r = xp.abs(yhat - y)
    quadratic = 0.5 * r * r
    linear = HUBER_DELTA * (r - 0.5 * HUBER_DELTA)
    return xp.sum(xp.where(r <= HUBER_DELTA, quadratic, linear), axis=1)


def huber_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = r if |r| ≤ δ else δ sign(r), r = ŷ − y."""
    r = yhat - y
    return xp.where(xp.abs(r) <= HUBER_DELTA, r, HUBER_DELTA * xp.sign(r))


def logistic_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = Σₖ log(1 + exp(−yₖŷₖ)), y = ±1, as a softplus (no overflow)."""
    return xp.sum(softplus(xp, -y * yhat), axis=1)


def logistic_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = −y σ(−yŷ)."""
    return -y * sigmoid(xp, -y * yhat)


def hinge_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = Σₖ max(0, 1 − yₖŷₖ), y = ±1."""
    return xp.sum(maximum_scalar(xp, 1.0 - y * yhat, 0.0), axis=1)


def hinge_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = −y where yŷ < 1, else 0."""
    return xp.where(y * yhat < 1.0, -y, 0.0)


def xlogy(xp: Any, x: Any, y: Any) -> Any:
    """x log y, exactly 0 where x = 0 whatever y (as ``scipy.special.xlogy``)."""
    absent = x == 0.0
    return xp.where(absent, 0.0, x * xp.log(xp.where(absent, 1.0, y)))


def xlog1py(xp: Any, x: Any, y: Any) -> Any:
    """x log(1 + y), exactly 0 where x = 0 whatever y."""
    absent = x == 0.0
    return xp.where(absent, 0.0, x * xp.log1p(xp.where(absent, 0.0, y)))


def x_over_y(xp: Any, x: Any, y: Any) -> Any:
    """x / y, exactly 0 where x = 0 whatever y."""
    absent = x == 0.0
    return xp.where(absent, 0.0, x / xp.where(absent, 1.0, y))


def binary_cross_entropy_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = −Σₖ [yₖ log ŷₖ + (1 − yₖ) log(1 − ŷₖ)], a term with a zero factor being 0.

    Computed as 0 − Σ(...), which is +0, not −0, at a certain, right prediction.
    """
    return 0.0 - xp.sum(xlogy(xp, y, yhat) + xlog1py(xp, 1.0 - y, -yhat), axis=1)


def binary_cross_entropy_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = (1 − y)/(1 − ŷ) − y/ŷ = (ŷ − y) / (ŷ(1 − ŷ)), a term with a zero factor being 0."""
    return x_over_y(xp, 1.0 - y, 1.0 - yhat) - x_over_y(xp, y, yhat)


def binary_cross_entropy_fused(xp: Any, y: Any, z: Any) -> tuple[Any, Any]:
    """−[y log σ(z) + (1−y) log(1−σ(z))] = (max(z, 0) − y z) + log1p(e^{−|z|});  𝓑ᴸ = σ(z) − y.

    The small term log1p(e^{−|z|}) is added last, so a confident right answer
    keeps its cost; 𝓑ᴸ is (1 − y) − σ(−z) for z ≥ 0, where σ(−z) = e^{−z}/(1 + e^{−z}),
    and σ(z) − y below: no cancellation against 1.
    """
    e = xp.exp(-xp.abs(z))
    value = xp.sum((maximum_scalar(xp, z, 0.0) - y * z) + xp.log1p(e), axis=1)
    tail = e / (1.0 + e)  # σ(−|z|)
    return value, xp.where(z >= 0, (1.0 - y) - tail, tail - y)


def cross_entropy_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = −Σₖ yₖ log ŷₖ, a class with yₖ = 0 adding 0 (+0 at a certain, right prediction)."""
    return 0.0 - xp.sum(xlogy(xp, y, yhat), axis=1)


def cross_entropy_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = −y / ŷ, 0 where y = 0."""
    return -x_over_y(xp, y, yhat)


def cross_entropy_fused(xp: Any, y: Any, z: Any) -> tuple[Any, Any]:
    """−Σ y log softmax(z) = Σ y (logsumexp(z) − z);  𝓑ᴸ = softmax(z) − y.

    One exponential serves both: e = exp(z − max z), softmax = e / Σe and
    logsumexp = max z + log Σe.  A class with y = 0 adds exactly 0, even where
    z − max z overflows to −inf (a logit spread beyond the float range).  The
    rows of y sum to 1 (one-hot rows, or distributions as ``fit`` checks them),
    so that softmax(z) − y is the gradient; for other rows it is softmax(z) Σy − y.
    """
    shifted = z - xp.max(z, axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=1, keepdims=True)
    value = xp.sum(y * xp.where(y == 0.0, 0.0, xp.log(total) - shifted), axis=1)
    return value, e / total - y


def half_poisson_deviance(xp: Any, y: Any, log_yhat: Any, yhat: Any) -> Any:
    """y log(y/ŷ) − y + ŷ elementwise, given log ŷ and ŷ, as y (eᵗ − 1 − t), t = log ŷ − log y.

    The product form has no cancellation near ŷ = y, where the sum of terms has;
    where y = 0 it is ŷ.
    """
    present = y > 0.0
    t = log_yhat - xp.log(xp.where(present, y, 1.0))
    return xp.where(present, y * (xp.expm1(t) - t), yhat)


def poisson_value(xp: Any, y: Any, yhat: Any) -> Any:
    """C = Σₖ [yₖ log(yₖ/ŷₖ) − yₖ + ŷₖ], half the Poisson deviance (0 at ŷ = y), ŷ > 0, y ≥ 0."""
    return xp.sum(half_poisson_deviance(xp, y, xp.log(yhat), yhat), axis=1)


def poisson_grad(xp: Any, y: Any, yhat: Any) -> Any:
    """∂C/∂ŷ = 1 − y / ŷ."""
    return 1.0 - y / yhat


def poisson_fused(xp: Any, y: Any, z: Any) -> tuple[Any, Any]:
    """C from the logits of ŷ = e^z: log ŷ = z exactly;  𝓑ᴸ = e^z − y (the log link)."""
    yhat = xp.exp(z)
    return xp.sum(half_poisson_deviance(xp, y, z, yhat), axis=1), yhat - y


COSTS: dict[str, Cost] = {
    c.name: c
    for c in (
        Cost("mse", mse_value, mse_grad),
        Cost("l1", l1_value, l1_grad),
        Cost("huber", huber_value, huber_grad),
        Cost("logistic", logistic_value, logistic_grad, targets="sign"),
        Cost("hinge", hinge_value, hinge_grad, targets="sign"),
        Cost(
            "binary_cross_entropy",
            binary_cross_entropy_value,
            binary_cross_entropy_grad,
            targets="probability",
            output_activation="sigmoid",
            fused=binary_cross_entropy_fused,
        ),
        Cost(
            "cross_entropy",
            cross_entropy_value,
            cross_entropy_grad,
            targets="distribution",
            output_activation="softmax",
            fused=cross_entropy_fused,
        ),
        Cost(
            "poisson",
            poisson_value,
            poisson_grad,
            targets="non_negative",
            output_activation="exp",
            fused=poisson_fused,
        ),
    )
}


TARGETS = ("real", "sign", "probability", "distribution", "non_negative")


def get_cost(name: Any) -> Cost:
    """The cost called ``name``; ``ValueError`` naming ``loss`` if unknown."""
    if isinstance(name, Cost):
        return name
    if not isinstance(name, str) or name not in COSTS:
        raise ValueError(f"loss must be one of {', '.join(map(repr, COSTS))}, got {name!r}")
    return COSTS[name]
