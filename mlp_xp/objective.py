"""The batch objective that ``fit`` minimises, its gradients, and sums that float32 cannot spoil.

A batch of rows i with costs Cᵢ, sample weights wᵢ (1 without them) and the L2
penalty α has scikit-learn's penalised loss as objective,

    𝓔_α(S, θ) = (Σᵢ wᵢCᵢ + (α/2) Σⱼ ‖Ωʲ‖²) / Σᵢ wᵢ,

kept as its two sums: the loss of an epoch is the ratio of their sums over its
batches.  A batch of total weight 0 has no objective: its sums and its
gradient are 0, penalty included, so a plain gradient step on it changes
nothing.  Sums of costs are taken in float64 where the device has it (no
overflow, no loss of precision over an epoch); norms are scaled by the largest
entry, so that no square overflows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._kernels_cupy import with_kernels
from .activations import Activation
from .costs import Cost
from .network import backward, forward, is_fused, output_error


def accumulation_dtype(xp: Any, device: Any) -> Any:
    """float64 where ``device`` has it, else float32: the dtype of sums of costs."""
    floats = xp.__array_namespace_info__().dtypes(device=device, kind="real floating")
    return floats.get("float64", xp.float32)


def objective_gradients(
    xp: Any,
    params: list[Any],
    phis: Sequence[Activation],
    batch: tuple[Any, Any, Any],
    cost: Cost,
    alpha: float,
    wide: Any,
    *,
    reduce: Callable[..., tuple[Any, Any, list[Any]]] | None = None,
) -> tuple[Any, Any, list[Any], list[Any]]:
    """The sums of the objective of ``batch = (x, y, w or None)`` at ``params``
    (weights then biases) and its gradients ``dW``, ``db``.

    Returns Σ wᵢCᵢ + (α/2) Σ‖Ω‖² (in ``wide``), Σ wᵢ (a float without sample
    weights, else a 0-d array in ``wide``), ``dW`` and ``db``.  A fused cost reads
    the logits: the output activation is then not evaluated.  ``reduce`` turns the sums
    of this process's batch into those of the global batch of a data-parallel
    step (``_data_parallel.reduce_sums``); the penalty is then added once, to
    the global sums.  On CuPy, with the fused
    kernels switched on (``_kernels_cupy``), the activations and the cost use them.

    Notes
    -----
    ∇Ωʲ 𝓔_α = ∇Ωʲ(Σ wᵢCᵢ / Σ wᵢ) + (α / Σ wᵢ) Ωʲ (seed 003's gradient, plus the
    penalty's, as scikit-learn); the biases are not penalised.
    """
    total, weight, grads = cost_gradients(xp, params, phis, batch, cost, wide)
    if reduce is not None:
        total, weight, grads = reduce(total, weight, grads)
    counted = batch[2] is None and reduce is None  # Σ wᵢ is the row count, a float
    weights, dW, db = params[: len(phis)], grads[: len(phis)], grads[len(phis) :]
    if alpha:
        total = penalised(xp, total, weight, weights, alpha, counted)
        if counted:
            factor = alpha / weight
        else:  # 0 for a batch of total weight 0
            factor = xp.where(weight > 0.0, alpha / xp.where(weight > 0.0, weight, 1.0), 0.0)
        dW = [g + factor * W for g, W in zip(dW, weights)]
    return total, (weight if counted else xp.astype(weight, wide)), dW, db


def cost_gradients(
    xp: Any,
    params: list[Any],
    phis: Sequence[Activation],
    batch: tuple[Any, Any, Any],
    cost: Cost,
    wide: Any,
) -> tuple[Any, Any, list[Any]]:
    """Σ wᵢCᵢ (in ``wide``), Σ wᵢ (see ``cost_sums``) and the gradients of the batch
    cost Σ wᵢCᵢ / Σ wᵢ, weights then biases (seed 003's backpropagation): no penalty."""
    (x, y, w), n_layers = batch, len(phis)
    weights, (phis, cost) = params[:n_layers], with_kernels(xp, phis, cost)
    zs, activations = forward(xp, weights, params[n_layers:], phis, x, output=not is_fused(phis[-1], cost))
    losses, dW, db = backward(xp, weights, phis, zs, activations, y, cost, w)
    return (*cost_sums(xp, losses, w, wide), [*dW, *db])


def objective_value(
    xp: Any,
    params: list[Any],
    phis: Sequence[Activation],
    batch: tuple[Any, Any, Any],
    cost: Cost,
    alpha: float,
    wide: Any,
    *,
    reduce: Callable[..., tuple[Any, Any, list[Any]]] | None = None,
) -> float:
    """𝓔_α of ``batch`` at ``params``, read back as a float (a line search compares it with
    ``objective_gradients``' value: the same kernels, where they are on); ``reduce`` as for
    ``objective_gradients``."""
    (x, y, w), n_layers = batch, len(phis)
    phis, cost = with_kernels(xp, phis, cost)
    output = not is_fused(phis[-1], cost)
    zs, activations = forward(xp, params[:n_layers], params[n_layers:], phis, x, output=output)
    losses = output_error(xp, phis[-1], cost, zs[-1], activations[-1], y)[0]
    total, weight = cost_sums(xp, losses, w, wide)
    if reduce is not None:
        total, weight, _ = reduce(total, weight, [])
    if alpha:
        total = penalised(xp, total, weight, params[:n_layers], alpha, w is None and reduce is None)
    return ratio(total, weight)


def cost_sums(xp: Any, losses: Any, w: Any, wide: Any) -> tuple[Any, Any]:
    """Σ wᵢCᵢ (in ``wide``) and Σ wᵢ: a float (the batch size) without sample
    weights, else a 0-d array of the weights' dtype."""
    if w is None:
        return xp.sum(losses, dtype=wide), float(losses.shape[0])
    return xp.sum(w * losses, dtype=wide), xp.sum(w)


def penalised(xp: Any, total: Any, weight: Any, weights: Sequence[Any], alpha: float, counted: bool) -> Any:
    """Σ wᵢCᵢ + (α/2) Σ‖Ω‖², the penalty left out where Σ wᵢ (``weight``, a row
    count if ``counted``, else a 0-d array that may be 0) is 0."""
    penalty = 0.5 * alpha * sum(xp.sum(W * W) for W in weights)
    return total + (penalty if counted else xp.where(weight > 0.0, penalty, 0.0))


def ratio(total: Any, weight: Any) -> float:
    """``total / weight`` read back as a float; 0 for a weight of 0 (no objective)."""
    weight = float(weight)
    return float(total) / weight if weight > 0.0 else 0.0


def global_norm(xp: Any, arrays: Sequence[Any]) -> Any:
    """‖·‖ over all ``arrays``, a 0-d device array: s ‖a / s‖ with s = max |a| (1 for
    arrays of zeros), so that no square overflows where ‖a‖ itself does not."""
    largest = xp.max(xp.stack([xp.max(xp.abs(a)) for a in arrays]))
    scale = xp.where(largest > 0.0, largest, 1.0)
    return scale * xp.sqrt(sum(xp.sum(q * q) for q in (a / scale for a in arrays)))
