"""The training loop: gradient descent, SGD and mini-batch SGD (seeds 002–004).

One loop serves all three: an epoch visits the data in batches of N
(``batch_size=None``: gradient descent, one update per epoch), 1 (SGD) or M
samples (mini-batch SGD), either as a shuffled pass or by drawing indices
uniformly with replacement, as the seeds write it.  Batch orders are drawn on
the host and moved to the device once per epoch; the loss is summed on the
device and read back once per epoch, together with a finiteness check of the
parameters.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._backend import quiet_overflow
from .costs import Cost
from .network import backward, forward
from .optimizers import Optimizer


@dataclass
class History:
    """What ``fit`` records, one entry per completed epoch.

    ``loss`` is the mean training cost over the samples visited in the epoch,
    summed while the parameters were being updated (as scikit-learn's
    ``loss_curve_``); ``grad_norm`` the full-batch ‖∇𝓔‖ at the end of the
    epoch (only when a ``tol`` was given); ``time`` the seconds per epoch.
    ``converged`` is True when ‖∇𝓔‖ ≤ tol stopped training.
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    converged: bool = False

    @property
    def n_epochs(self) -> int:
        return len(self.loss)


@dataclass(frozen=True)
class FitConfig:
    """The validated settings of one ``fit``."""

    batch_size: int | None
    epochs: int
    sampling: str
    schedule: Callable[[int], float]
    tol: float | None
    verbose: bool
    on_divergence: str


def batches(xp: Any, device: Any, rng: Any, n: int, batch_size: int | None, sampling: str) -> Iterator[Any]:
    """Device index arrays of one epoch's batches; ``None`` stands for all rows."""
    if batch_size is None or (batch_size >= n and sampling == "shuffle"):
        yield None
        return
    if sampling == "shuffle":
        order = rng.permutation(n)
    else:
        order = rng.integers(0, n, size=math.ceil(n / batch_size) * batch_size)
    total = order.shape[0]
    order = xp.asarray(order, device=device)
    for start in range(0, total, batch_size):
        yield order[start : min(start + batch_size, total)]


def train(
    model: Any, x: Any, y: Any, cost: Cost, optimizer: Optimizer, config: FitConfig, rng: Any
) -> History:
    """Run ``config.epochs`` epochs on ``model`` and return its History.

    The model's parameters are replaced at the end of each epoch whose loss
    and parameters are finite; an interrupted or diverging epoch leaves the
    parameters of the last finite epoch.
    """
    with quiet_overflow():
        return _epochs(model, x, y, cost, optimizer, config, rng)


def _epochs(
    model: Any, x: Any, y: Any, cost: Cost, optimizer: Optimizer, config: FitConfig, rng: Any
) -> History:
    xp, phis, n_layers = model.xp, model.phis, len(model.weights)
    params = [*model.weights, *model.biases]
    state = optimizer.init(params)
    history, step = History(), 0
    for epoch in range(config.epochs):
        started = time.perf_counter()
        loss_sum, seen = 0.0, 0
        for rows in batches(xp, model.device, rng, x.shape[0], config.batch_size, config.sampling):
            xb, yb = (x, y) if rows is None else (xp.take(x, rows, axis=0), xp.take(y, rows, axis=0))
            zs, activations = forward(xp, params[:n_layers], params[n_layers:], phis, xb)
            losses, dW, db = backward(xp, params[:n_layers], phis, zs, activations, yb, cost)
            loss_sum = loss_sum + xp.sum(losses)
            params, state = optimizer.step(params, [*dW, *db], state, config.schedule(step))
            step, seen = step + 1, seen + xb.shape[0]
        # 0·Σθ is NaN when any parameter is not finite, and 0 otherwise.
        epoch_loss = float(loss_sum + sum(0.0 * xp.sum(p) for p in params)) / seen
        if not math.isfinite(epoch_loss):
            _diverged(config.on_divergence, epoch)
            break
        model.weights[:], model.biases[:] = params[:n_layers], params[n_layers:]
        history.loss.append(epoch_loss)
        history.time.append(time.perf_counter() - started)
        if config.tol is not None:
            history.grad_norm.append(gradient_norm(xp, model, x, y, cost))
            history.converged = history.grad_norm[-1] <= config.tol
        if config.verbose:
            _report(history, epoch, config.epochs)
        if history.converged:
            break
    return history


def gradient_norm(xp: Any, model: Any, x: Any, y: Any, cost: Cost) -> float:
    """‖∇𝓔(S, θ)‖ over all parameters, on the full data set (seed 004's stopping test)."""
    zs, activations = forward(xp, model.weights, model.biases, model.phis, x)
    _, dW, db = backward(xp, model.weights, model.phis, zs, activations, y, cost)
    return math.sqrt(float(sum(xp.sum(g * g) for g in [*dW, *db])))


def _diverged(on_divergence: str, epoch: int) -> None:
    message = (
        f"training diverged in epoch {epoch + 1}: the loss or the parameters became "
        "NaN or infinite; the model keeps the parameters of the last finite epoch "
        "(try a smaller lr)"
    )
    if on_divergence == "raise":
        raise FloatingPointError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def _report(history: History, epoch: int, epochs: int) -> None:
    line = f"epoch {epoch + 1}/{epochs}  loss {history.loss[-1]:.6g}  {history.time[-1]:.3f} s"
    if history.grad_norm:
        line += f"  |grad| {history.grad_norm[-1]:.3g}"
    print(line, flush=True)
