"""The training loop: gradient descent, SGD and mini-batch SGD (seeds 002–004).

One loop serves all three: an epoch visits the data in batches of N
(``batch_size=None``: gradient descent, one update per epoch), 1 (SGD) or M
samples (mini-batch SGD), either as a shuffled pass or by drawing indices
uniformly with replacement, as the seeds write it.  Batch orders are drawn on
the host and moved to the device once per epoch.  The loss is summed on the
device; once per epoch one transfer brings back the loss, a finiteness probe
of the parameters, the layers' gradient norms and the validation results.

Each epoch updates copies of the parameters and optimizer state, in place
where the optimizer is written so (``owned_step``); the model takes them over
when the epoch ends with finite values, so arrays handed out earlier never
change.  With a fused cost the output activation is not evaluated.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backend import host_floats, quiet_overflow
from .costs import Cost
from .history import EarlyStopping, History
from .metrics import score
from .network import backward, forward, is_fused, output_error
from .optimizers import copy_tree, owned_step, updates_in_place


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
    alpha: float = 0.0
    clip_norm: float | None = None
    callbacks: tuple[Callable[[Any, History], Any], ...] = ()
    early_stopping: EarlyStopping | None = None


@dataclass(frozen=True)
class TrainingData:
    """Arrays on the model's device: targets prepared for the cost."""

    x: Any
    y: Any
    sample_weight: Any = None
    x_val: Any = None
    y_val: Any = None


def batches(xp: Any, device: Any, rng: Any, n: int, batch_size: int | None, sampling: str) -> list[Any]:
    """One epoch's batches: device index arrays (views of one order moved to the
    device once), slices (``"sequential"``), or ``[None]`` for all rows."""
    if batch_size is None or (batch_size >= n and sampling != "uniform"):
        return [None]
    if sampling == "sequential":
        return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if sampling == "shuffle":
        order = rng.permutation(n)
    else:
        order = rng.integers(0, n, size=math.ceil(n / batch_size) * batch_size)
    total = order.shape[0]
    order = xp.asarray(order, device=device)
    return [order[start : min(start + batch_size, total)] for start in range(0, total, batch_size)]


def train(model: Any, data: TrainingData, cost: Cost, config: FitConfig, rng: Any) -> History:
    """Run ``config.epochs`` epochs of ``model.optimizer`` on ``model``; return its History.

    The model's parameters, optimizer state and update count are replaced
    together at the end of each epoch whose loss and parameters are finite;
    an interrupted or diverging epoch leaves those of the last finite epoch.
    """
    with quiet_overflow():
        return _epochs(model, data, cost, config, rng)


def _epochs(model: Any, data: TrainingData, cost: Cost, config: FitConfig, rng: Any) -> History:
    xp, n_layers = model.xp, len(model.weights)
    params, state, step = [*model.weights, *model.biases], model.optimizer_state, model.n_updates
    history, stopper = History(), _Stopper(config.early_stopping)
    for epoch in range(config.epochs):
        started = time.perf_counter()
        # Working copies, updated in place: the model's arrays change only once the epoch is finite.
        params = copy_tree(params)
        state = copy_tree(state) if updates_in_place(model.optimizer) else state
        loss_sum, weight_sum = 0.0, 0.0
        epoch_batches = batches(xp, model.device, rng, data.x.shape[0], config.batch_size, config.sampling)
        for k, rows in enumerate(epoch_batches):
            last = k == len(epoch_batches) - 1  # its gradient norms go to the History
            params, state, loss, weight, norms = _update(
                model, params, state, _take(xp, rows, data), cost, config, step, diagnose=last
            )
            loss_sum, weight_sum, step = loss_sum + loss, weight_sum + weight, step + 1
        if not _end_epoch(model, data, cost, history, params, loss_sum, weight_sum, norms):
            _diverged(config.on_divergence, epoch)
            break
        model.weights[:], model.biases[:] = params[:n_layers], params[n_layers:]
        model.optimizer_state, model.n_updates = state, step
        history.time.append(time.perf_counter() - started)
        if config.tol is not None:
            history.grad_norm.append(gradient_norm(xp, model, data, cost))
            history.converged = history.grad_norm[-1] <= config.tol
        if callable(getattr(model.optimizer, "converged", None)):
            history.converged = history.converged or model.optimizer.converged(state)
        if hasattr(config.schedule, "end_epoch"):
            config.schedule.end_epoch(history.loss[-1])
        if config.verbose:
            _report(history, epoch, config.epochs)
        stop = stopper.update(history, params)
        stop = any([callback(model, history) for callback in config.callbacks]) or stop
        if history.converged or stop:
            history.stopped_early = not history.converged
            break
    stopper.restore(model, history)
    return history


def _take(xp: Any, rows: Any, data: TrainingData) -> tuple[Any, Any, Any]:
    """The batch ``rows`` of x, y and the sample weights (all of them for ``None``)."""
    arrays = (data.x, data.y, data.sample_weight)
    if rows is None:
        return arrays
    if isinstance(rows, slice):
        return tuple(None if a is None else a[rows, ...] for a in arrays)
    return tuple(None if a is None else xp.take(a, rows, axis=0) for a in arrays)


def _update(
    model: Any,
    params: list[Any],
    state: Any,
    batch: tuple[Any, Any, Any],
    cost: Cost,
    config: FitConfig,
    step: int,
    *,
    diagnose: bool = False,
) -> tuple[list[Any], Any, Any, Any, list[Any] | None]:
    """One update on a batch ``(x, y, sample weights or None)``: backpropagation,
    L2 penalty, clipping, the optimizer's step.

    Returns the new parameters and state, the batch's summed (weighted) cost
    with penalty, its total weight, and with ``diagnose`` the norms ‖∇Ωʲ‖ as
    0-d device arrays (taken before the step, which may overwrite ∇Ω).
    """
    (xb, yb, wb), xp, n_layers = batch, model.xp, len(model.weights)
    weights = params[:n_layers]
    fused = is_fused(model.phis[-1], cost)
    zs, activations = forward(xp, weights, params[n_layers:], model.phis, xb, output=not fused)
    losses, dW, db = backward(xp, weights, model.phis, zs, activations, yb, cost, wb)
    loss, weight = _batch_cost(xp, losses, wb, weights, config.alpha)
    if config.alpha:
        # ∇[(α / 2Σw) Σ‖Ω‖²] = α Ω / Σw, as scikit-learn.
        dW = [g + (config.alpha / _nonzero(xp, weight)) * W for g, W in zip(dW, weights)]
    norms = [xp.sqrt(xp.sum(g * g)) for g in dW] if diagnose else None
    grads = [*dW, *db]
    if config.clip_norm is not None:
        norm = xp.sqrt(sum(xp.sum(g * g) for g in grads))
        grads = [g * (config.clip_norm / xp.maximum(norm, config.clip_norm)) for g in grads]
    lr = config.schedule(step)
    optimizer = model.optimizer
    if getattr(optimizer, "needs_value_and_grad", False):

        def value_and_grad(trial: list[Any]) -> tuple[Any, list[Any]]:
            trial_weights = trial[:n_layers]
            trial_zs, trial_a = forward(xp, trial_weights, trial[n_layers:], model.phis, xb, output=not fused)
            trial_losses, trial_dW, trial_db = backward(
                xp, trial_weights, model.phis, trial_zs, trial_a, yb, cost, wb
            )
            trial_loss, _ = _batch_cost(xp, trial_losses, wb, trial_weights, config.alpha)
            if config.alpha:
                trial_dW = [
                    g + (config.alpha / _nonzero(xp, weight)) * W for g, W in zip(trial_dW, trial_weights)
                ]
            return trial_loss / weight, [*trial_dW, *trial_db]

        params, state = optimizer.step(
            params, grads, state, lr, value=loss / weight, value_and_grad=value_and_grad
        )
    elif getattr(optimizer, "needs_objective", False):

        def objective(trial: list[Any]) -> float:
            trial_zs, trial_activations = forward(xp, trial[:n_layers], trial[n_layers:], model.phis, xb)
            trial_losses = output_error(xp, model.phis[-1], cost, trial_zs[-1], trial_activations[-1], yb)[0]
            trial_loss, _ = _batch_cost(xp, trial_losses, wb, trial[:n_layers], config.alpha)
            return float(trial_loss) / float(weight)

        params, state = optimizer.step(
            params, grads, state, lr, value=float(loss) / float(weight), objective=objective
        )
    else:  # in place on the epoch's working copies (and on grads) where the optimizer can
        params, state = owned_step(optimizer)(params, grads, state, lr)
    return list(params), state, loss, weight, norms


def _batch_cost(xp: Any, losses: Any, wb: Any, weights: list[Any], alpha: float) -> tuple[Any, Any]:
    """Σ wᵢCᵢ + (α/2) Σ‖Ω‖² and Σ wᵢ of a batch (wᵢ = 1 without sample weights).

    Their ratio is the batch objective, scikit-learn's penalised loss.
    """
    if wb is None:
        loss, weight = xp.sum(losses), float(losses.shape[0])
    else:
        loss, weight = xp.sum(wb * losses), xp.sum(wb)
    if alpha:
        loss = loss + 0.5 * alpha * sum(xp.sum(W * W) for W in weights)
    return loss, weight


def _nonzero(xp: Any, weight: Any) -> Any:
    """The batch weight, 1 where a batch holds only zero-weight samples."""
    return weight if isinstance(weight, float) else xp.where(weight > 0.0, weight, 1.0)


def _end_epoch(
    model: Any,
    data: TrainingData,
    cost: Cost,
    history: History,
    params: list[Any],
    loss_sum: Any,
    weight_sum: Any,
    norms: list[Any],
) -> bool:
    """Record the epoch from one device→host transfer; False if it diverged."""
    xp, n_layers = model.xp, len(model.weights)
    # 0·Σθ is NaN when any parameter is not finite, and 0 otherwise.
    probe = sum(0.0 * xp.sum(p) for p in params)
    values = [loss_sum / weight_sum + probe]
    values += norms
    if data.x_val is not None:
        zs, activations = forward(xp, params[:n_layers], params[n_layers:], model.phis, data.x_val)
        val_losses = output_error(xp, model.phis[-1], cost, zs[-1], activations[-1], data.y_val)[0]
        values += [xp.mean(val_losses), score(xp, cost, data.y_val, activations[-1])]
    read = host_floats(xp, values)
    if not math.isfinite(read[0]):
        return False
    history.loss.append(read[0])
    history.layer_grad_norms.append(read[1 : n_layers + 1])
    if data.x_val is not None:
        history.val_loss.append(read[-2])
        history.val_score.append(read[-1])
    return True


class _Stopper:
    """Early stopping's bookkeeping: the best epoch so far and its parameters."""

    def __init__(self, rule: EarlyStopping | None) -> None:
        self.rule, self.best, self.best_params, self.bad_epochs = rule, math.inf, None, 0

    def update(self, history: History, params: list[Any]) -> bool:
        """Note the epoch just recorded; True when patience has run out."""
        if self.rule is None:
            return False
        value = self.rule.value(history)
        if value < self.best - self.rule.min_delta or self.best_params is None:
            self.best, self.best_params, self.bad_epochs = min(value, self.best), params, 0
            history.best_epoch = history.n_epochs - 1
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.rule.patience

    def restore(self, model: Any, history: History) -> None:
        if self.rule is not None and self.rule.restore_best and self.best_params is not None:
            n_layers = len(model.weights)
            model.weights[:], model.biases[:] = self.best_params[:n_layers], self.best_params[n_layers:]


def gradient_norm(xp: Any, model: Any, data: TrainingData, cost: Cost) -> float:
    """‖∇𝓔(S, θ)‖ over all parameters, on the full data set (seed 004's stopping test)."""
    zs, activations = forward(xp, model.weights, model.biases, model.phis, data.x)
    _, dW, db = backward(xp, model.weights, model.phis, zs, activations, data.y, cost, data.sample_weight)
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
    line = f"epoch {epoch + 1}/{epochs}  loss {history.loss[-1]:.6g}"
    if history.val_loss:
        line += f"  val_loss {history.val_loss[-1]:.6g}  val_score {history.val_score[-1]:.4g}"
    if history.grad_norm:
        line += f"  |grad| {history.grad_norm[-1]:.3g}"
    print(f"{line}  {history.time[-1]:.3f} s", flush=True)
