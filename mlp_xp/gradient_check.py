"""Backpropagation checked against central finite differences."""

from __future__ import annotations

from typing import Any

from ._validation import check_positive_float
from .costs import get_cost
from .network import backward, forward, output_error


def gradient_check(model: Any, x: Any, y: Any, loss: str = "mse", eps: float = 1e-6) -> float:
    """The largest relative error between backprop and finite-difference gradients.

    Every parameter θᵢ is perturbed in turn and ∂𝓔/∂θᵢ ≈ (𝓔(θ + εeᵢ) −
    𝓔(θ − εeᵢ)) / 2ε.  Both gradients are computed in float64 whatever the
    model's dtype.  For each parameter array the relative error is
    ‖g_backprop − g_numeric‖ / (‖g_backprop‖ + ‖g_numeric‖); the largest over
    the arrays is returned (≈1e-10 for a correct gradient away from the kinks
    of relu, l1, hinge and huber).  The model is left unchanged.
    """
    xp, phis = model.xp, model.phis
    eps = check_positive_float(eps, "eps")
    cost = get_cost(loss)
    x, y = model._prepare(x, y, cost)
    x, y = xp.astype(x, xp.float64), xp.astype(y, xp.float64)
    params = [xp.astype(p, xp.float64) for p in (*model.weights, *model.biases)]
    n_layers = len(model.weights)

    def batch_cost(ps: list[Any]) -> float:
        zs, activations = forward(xp, ps[:n_layers], ps[n_layers:], phis, x)
        return float(xp.mean(output_error(xp, phis[-1], cost, zs[-1], activations[-1], y)[0]))

    zs, activations = forward(xp, params[:n_layers], params[n_layers:], phis, x)
    _, dW, db = backward(xp, params[:n_layers], phis, zs, activations, y, cost)
    worst = 0.0
    for k, (p, analytic) in enumerate(zip(params, [*dW, *db])):
        flat = xp.reshape(p, (-1,))
        positions = xp.arange(flat.shape[0], device=model.device)
        numeric = []
        for i in range(flat.shape[0]):
            step = xp.astype(positions == i, xp.float64) * eps
            shifted = [xp.reshape(flat + sign * step, p.shape) for sign in (1.0, -1.0)]
            up, down = (batch_cost([*params[:k], s, *params[k + 1 :]]) for s in shifted)
            numeric.append((up - down) / (2.0 * eps))
        numeric = xp.asarray(numeric, dtype=xp.float64, device=model.device)
        analytic = xp.reshape(analytic, (-1,))
        scale = float(xp.linalg.vector_norm(analytic) + xp.linalg.vector_norm(numeric))
        if scale > 0.0:
            worst = max(worst, float(xp.linalg.vector_norm(analytic - numeric)) / scale)
    return worst
