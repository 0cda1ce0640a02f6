"""Backpropagation checked against central finite differences."""

from __future__ import annotations

import sys
from typing import Any

from ._backend import to_numpy
from ._validation import check_positive_float
from .costs import get_cost
from .model import MLP
from .network import backward, forward, output_error

UNIT_ROUNDOFF = sys.float_info.epsilon  # u of float64, in which the check runs
STEP = UNIT_ROUNDOFF ** (1.0 / 3.0)  # ≈ 6.1e-6: balances truncation (h²) and rounding (u/h)
NOISE_FACTOR = 4.0  # the rounding error of 𝓔 itself, in units of u|𝓔|


def gradient_check(model: MLP, x: Any, y: Any, loss: str = "mse", eps: float = STEP) -> float:
    """The largest error between backprop and finite-difference gradients, beyond rounding noise.

    Both gradients are computed in float64 whatever the model's dtype; the
    model is left unchanged.  Returns ≈ 0 (≲ 1e-9) for a correct gradient, away
    from the kinks of relu, l1, hinge and huber, and ≈ 1 for a wrong one.

    Parameters
    ----------
    model : MLP
        The network whose gradients are checked, at its current parameters.
    x : array-like, shape (N, n_0)
        The inputs of the batch.
    y : array-like, shape (N, n_L), or (N,) as ``fit`` takes it
        The targets of the batch.
    loss : str
        A cost of ``mlp_xp.COSTS``.
    eps : float
        The relative step ε.

    Notes
    -----
    Every parameter θᵢ is moved in turn by a relative step h = ε·max(1, |θᵢ|)
    (ε = ``eps``, by default u^(1/3) ≈ 6e-6 for float64's unit roundoff u), and

        ĝᵢ = (𝓔(θ⁺) − 𝓔(θ⁻)) / (θᵢ⁺ − θᵢ⁻),   θᵢ± = fl(θᵢ ± h),

    divided by the step actually taken.  Its rounding noise is
    νᵢ = c·u·(|𝓔(θ⁺)| + |𝓔(θ⁻)|) / (θᵢ⁺ − θᵢ⁻) (c = 4), and for each parameter
    array the error is

        ‖max(|g − ĝ| − ν, 0)‖ / (‖g‖ + ‖ĝ‖)

    (0 when both gradients vanish): the relative error of backprop's g,
    counting only differences that rounding cannot explain.  Gradients far
    below the noise (saturated units, deep sigmoid stacks) then compare as
    equal, and weights of any magnitude are stepped at their own scale.  The
    largest error over the arrays is returned.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an mlp_xp.MLP, got {type(model).__name__}")
    eps = check_positive_float(eps, "eps")
    cost = get_cost(loss)
    x, y = model._prepare(x, y, cost)
    xp, phis, n_layers = model.xp, model.phis, len(model.weights)
    x, y = xp.astype(x, xp.float64), xp.astype(y, xp.float64)
    params = [xp.astype(p, xp.float64) for p in (*model.weights, *model.biases)]

    def batch_cost(ps: list[Any]) -> float:
        zs, activations = forward(xp, ps[:n_layers], ps[n_layers:], phis, x)
        return float(xp.mean(output_error(xp, phis[-1], cost, zs[-1], activations[-1], y)[0]))

    zs, activations = forward(xp, params[:n_layers], params[n_layers:], phis, x)
    _, dW, db = backward(xp, params[:n_layers], phis, zs, activations, y, cost)
    worst = 0.0
    for k, analytic in enumerate([*dW, *db]):
        numeric, noise = _central_differences(xp, batch_cost, params, k, eps, model.device)
        worst = max(worst, _error(xp, xp.reshape(analytic, (-1,)), numeric, noise, model.device))
    return worst


def _central_differences(
    xp: Any, batch_cost: Any, params: list[Any], k: int, eps: float, device: Any
) -> tuple[list[float], list[float]]:
    """ĝ and its rounding noise ν for every entry θᵢ of ``params[k]``, flattened."""
    p = params[k]
    flat = xp.reshape(p, (-1,))
    positions = xp.arange(flat.shape[0], device=device)
    numeric, noise = [], []
    for i, theta in enumerate(to_numpy(flat).tolist()):
        h = eps * max(1.0, abs(theta))
        moved = (theta + h, theta - h)
        up, down = (
            batch_cost(
                [*params[:k], xp.reshape(xp.where(positions == i, m, flat), p.shape), *params[k + 1 :]]
            )
            for m in moved
        )
        step = moved[0] - moved[1]
        numeric.append((up - down) / step)
        noise.append(NOISE_FACTOR * UNIT_ROUNDOFF * (abs(up) + abs(down)) / step)
    return numeric, noise


def _error(xp: Any, analytic: Any, numeric: list[float], noise: list[float], device: Any) -> float:
    """‖max(|g − ĝ| − ν, 0)‖ / (‖g‖ + ‖ĝ‖), 0 when both gradients vanish."""
    numeric, noise = (xp.asarray(v, dtype=xp.float64, device=device) for v in (numeric, noise))
    excess = xp.maximum(xp.abs(analytic - numeric) - noise, 0.0)
    scale = float(xp.linalg.vector_norm(analytic) + xp.linalg.vector_norm(numeric))
    return float(xp.linalg.vector_norm(excess)) / scale if scale > 0.0 else 0.0
