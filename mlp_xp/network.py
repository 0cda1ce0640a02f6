"""The network math of seed 003: initialisation, forward pass, backpropagation.

Seed notation → code (a batch of N samples is a stack of N rows):

=============================  ======================================  ==========
seed 003                       code                                    shape
=============================  ======================================  ==========
α⁰ (input)                     ``activations[0] = x``                  (N, n_0)
Ωʲ (weights of layer j)        ``weights[j-1]``                        (n_{j-1}, n_j)
βʲ (biases of layer j)         ``biases[j-1]``                         (n_j,)
ζʲ = Ωʲᵀ αʲ⁻¹ + βʲ             ``z = a_prev @ W + b``                  (N, n_j)
αʲ = Φ(ζʲ)                     ``a = phi.value(xp, z)``                (N, n_j)
𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C(αᴸ, ρ)        ``delta = phi.vjp(xp, z, a, dC_da)``    (N, n_L)
𝓑ʲ = Φ'(ζʲ) ⊙ (Ωʲ⁺¹ 𝓑ʲ⁺¹)     ``phi.vjp(xp, z, a, delta @ W_next.T)`` (N, n_j)
∇Ωʲ = αʲ⁻¹ [𝓑ʲ]ᵀ               ``a_prev.T @ delta``                    (n_{j-1}, n_j)
∇βʲ = 𝓑ʲ                       ``column_sums(xp, delta)``              (n_j,)
𝓔(S, θ) = (1/N) Σ C            mean of the per-sample costs            ()
=============================  ======================================  ==========

The 1/N of the batch mean (or the weights wᵢ/Σw of a weighted mean) is
applied once, to 𝓑ᴸ; it then flows through every 𝓑ʲ, ∇Ωʲ and ∇βʲ by
linearity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._backend import widest_float
from .activations import Activation
from .costs import Cost

FLOAT32_ROWS = 1024  # bias gradients of larger batches are summed in float64


def init_parameters(
    xp: Any,
    layer_sizes: Sequence[int],
    phis: Sequence[Activation],
    rng: Any,
    dtype: Any,
    device: Any,
    init: Any = None,
) -> tuple[list[Any], list[Any]]:
    """Weights drawn on the host by ``rng`` (a NumPy Generator), moved once.

    ``init=None`` picks per layer from the activation that follows it: Glorot
    uniform, U(±√(6/(n_{j−1}+n_j))), for sigmoid-like and identity layers, He
    normal, N(0, 2/n_{j−1}), for the ReLU family; ``"glorot"``, ``"he"`` or
    ``"lecun"`` (N(0, 1/n_{j−1})) applies one rule to all; a callable
    ``init(rng, fan_in, fan_out)`` returns a host array of shape
    (fan_in, fan_out), finite in ``dtype``.  Biases start at zero.  Drawing on
    the host makes every backend start from bit-identical parameters for one seed.
    """
    weights, biases = [], []
    for fan_in, fan_out, phi in zip(layer_sizes[:-1], layer_sizes[1:], phis):
        W = xp.astype(xp.asarray(_draw(rng, fan_in, fan_out, init or phi.init), device=device), dtype)
        if callable(init) and not bool(xp.all(xp.isfinite(W))):
            raise ValueError(
                f"init({fan_in}, {fan_out}) returned weights that are NaN or infinite in {dtype}; "
                "initial weights must be finite"
            )
        weights.append(W)
        biases.append(xp.zeros((fan_out,), dtype=dtype, device=device))
    return weights, biases


def _draw(rng: Any, fan_in: int, fan_out: int, rule: Any) -> Any:
    """A host array (fan_in, fan_out) of initial weights by ``rule``: a name or a callable."""
    if callable(rule):
        host = rule(rng, fan_in, fan_out)
        if tuple(getattr(host, "shape", ())) != (fan_in, fan_out):
            raise ValueError(
                f"init({fan_in}, {fan_out}) must return an array of shape ({fan_in}, {fan_out}), "
                f"got {getattr(host, 'shape', type(host).__name__)}"
            )
        return host
    if rule == "he":
        return rng.normal(0.0, (2.0 / fan_in) ** 0.5, size=(fan_in, fan_out))
    if rule == "lecun":
        return rng.normal(0.0, (1.0 / fan_in) ** 0.5, size=(fan_in, fan_out))
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def forward(
    xp: Any,
    weights: Sequence[Any],
    biases: Sequence[Any],
    phis: Sequence[Activation],
    x: Any,
    *,
    output: bool = True,
) -> tuple[list[Any], list[Any]]:
    """Forward pass keeping ζʲ and αʲ: ``(zs, activations)``, ``activations[0] = x``.

    ``output=False`` leaves αᴸ out (``activations[-1]`` is ``None``): a fused
    cost reads the logits ζᴸ only (see ``is_fused``).  An activation with
    ``fused_bias`` adds βʲ and applies Φ in one pass.

    Notes
    -----
    ζʲ = Ωʲᵀ αʲ⁻¹ + βʲ and αʲ = Φ(ζʲ) for j = 1..L, row-wise: ``z = a @ W + b``.
    """
    zs: list[Any] = []
    activations = [x]
    for W, b, phi in zip(weights, biases, phis):
        z = activations[-1] @ W
        keep = output or len(zs) + 1 < len(phis)
        if keep and phi.fused_bias is not None:
            a = phi.fused_bias(xp, z, b)
        else:
            z += b  # in place on the new product (a new array where arrays are immutable)
            a = phi.value(xp, z) if keep else None
        zs.append(z)
        activations.append(a)
    return zs, activations


def is_fused(phi: Activation, cost: Cost) -> bool:
    """Whether ``cost`` computes 𝓑ᴸ from the logits for the output activation ``phi``
    (softmax + cross-entropy, sigmoid + binary cross-entropy)."""
    return cost.fused is not None and cost.output_activation == phi.name


def output_error(xp: Any, phi: Activation, cost: Cost, z: Any, a: Any, y: Any) -> tuple[Any, Any]:
    """Per-sample costs and 𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C(αᴸ, ρ) (not yet divided by N).

    Uses the cost's fused, logit-based form when the output activation is the
    one it was made for (``is_fused``; ``a`` is then not read); otherwise the
    general vector–Jacobian product.
    """
    if cost.fused is not None and is_fused(phi, cost):
        return cost.fused(xp, y, z)
    return cost.value(xp, y, a), phi.vjp(xp, z, a, cost.grad(xp, y, a))


def backward(
    xp: Any,
    weights: Sequence[Any],
    phis: Sequence[Activation],
    zs: Sequence[Any],
    activations: Sequence[Any],
    y: Any,
    cost: Cost,
    sample_weight: Any = None,
) -> tuple[Any, list[Any], list[Any]]:
    """Backpropagation and gradient computation (seed 003, Algorithms 1 and 4).

    Returns the per-sample costs, shape (N,), and the gradients of the batch
    cost 𝓔 = mean of C (or Σ wᵢCᵢ / Σ wᵢ with a ``sample_weight`` of shape
    (N,)): ``dW[j]``, ``db[j]`` shaped like ``weights[j]``, ``biases[j]``.

    Notes
    -----
    𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C,  𝓑ʲ = Φ'(ζʲ) ⊙ (Ωʲ⁺¹ 𝓑ʲ⁺¹),  ∇Ωʲ = αʲ⁻¹ [𝓑ʲ]ᵀ,  ∇βʲ = 𝓑ʲ.
    """
    n_layers = len(weights)
    losses, delta = output_error(xp, phis[-1], cost, zs[-1], activations[-1], y)
    if sample_weight is None:
        delta = delta / y.shape[0]
    else:
        total = xp.sum(sample_weight)
        delta = delta * xp.reshape(sample_weight / xp.where(total > 0.0, total, 1.0), (-1, 1))
    dW, db = [None] * n_layers, [None] * n_layers
    for j in reversed(range(n_layers)):
        dW[j] = activations[j].T @ delta
        db[j] = column_sums(xp, delta)
        if j > 0:
            delta = phis[j - 1].vjp(xp, zs[j - 1], activations[j], delta @ weights[j].T)
    return losses, dW, db


def column_sums(xp: Any, delta: Any) -> Any:
    """Σᵢ δᵢ over the rows of ``delta`` (N, n) -> (n,): ∇βʲ, summed over the batch.

    A float32 running sum drifts by up to N·u (u ≈ 6e-8; NumPy adds axis 0 row
    after row): batches of more than ``FLOAT32_ROWS`` rows are accumulated in
    float64 where the device has it, at a cost small next to the matmuls of
    such a batch; smaller ones, the hot path of mini-batch SGD, stay in float32.
    """
    if delta.shape[0] <= FLOAT32_ROWS or delta.dtype == xp.float64:
        return xp.sum(delta, axis=0)
    return xp.astype(xp.sum(delta, axis=0, dtype=widest_float(xp, delta.device)), delta.dtype)
