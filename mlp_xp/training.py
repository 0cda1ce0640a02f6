"""The training loop: gradient descent, SGD and mini-batch SGD (seeds 002–004).

One loop serves all three: an epoch visits the data in batches of N
(``batch_size=None``: gradient descent, one update per epoch), 1 (SGD) or M
samples (mini-batch SGD), either as a shuffled pass or by drawing indices
uniformly with replacement, as the seeds write it.  Batch orders are drawn on
the host and moved to the device once per epoch.  The loss is summed on the
device in float64 (where the device has it); once per epoch one transfer
brings back the loss, a finiteness probe of the parameters, the layers'
gradient norms and the validation results.

Each epoch updates copies of the model's parameters (taken after the last
epoch's callbacks, which may set them) and of the optimizer state, in place
where the optimizer is written so (``owned_step``); the model takes them over
when the epoch ends with finite values, so arrays handed out earlier never
change.  With a fused cost the output activation is not evaluated.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backend import get_namespace, host_floats, quiet_overflow
from ._compile import compiled_epoch
from ._validation import check_parameters
from .activations import Activation
from .costs import Cost
from .history import BestEpoch, EarlyStopping, History
from .metrics import score
from .network import forward, is_fused, output_error
from .objective import accumulation_dtype, global_norm, objective_gradients, objective_value, ratio
from .optimizers import copy_tree, owned_step, updates_in_place
from .schedules import Adaptive, learning_rate

_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


@dataclass(frozen=True)
class FitConfig:
    """The validated settings of one ``fit``.

    With ``resume`` the epochs continue the model's optimizer state and update
    count; otherwise they start from ``optimizer.init`` and 0.  ``compiler``
    names the compiler of ``_compile`` that runs the epochs' updates (None:
    eagerly, one array call at a time).
    """

    optimizer: Any
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
    resume: bool = False
    compiler: str | None = None


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
    """Run ``config.epochs`` epochs of ``config.optimizer`` on ``model``; return its History.

    The model's parameters, optimizer, optimizer state, update count,
    schedule state and History (the one returned, filled epoch by epoch) are
    replaced together at the end of each epoch whose loss and parameters are
    finite: an interrupted or diverging epoch leaves those of the last finite
    epoch, and a fit stopped in its first epoch leaves the model as it was.
    """
    params = [*model.weights, *model.biases]
    if config.resume:
        state, step = model.optimizer_state, model.n_updates
    else:
        state, step = config.optimizer.init(params), 0
    history = History()
    with quiet_overflow():
        _epochs(model, data, cost, config, rng, history, state, step)
    return history


def _epochs(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    rng: Any,
    history: History,
    state: Any,
    step: int,
) -> None:
    wide = accumulation_dtype(model.xp, model.device)
    in_place, best = updates_in_place(config.optimizer), BestEpoch(config.early_stopping)
    for epoch in range(config.epochs):
        started = time.perf_counter()
        # Working copies of the model's parameters (as callbacks left them) and of the optimizer
        # state, updated in place: the model's arrays change only once the epoch is finite.
        params = copy_tree([*model.weights, *model.biases])
        state = copy_tree(state) if in_place else state
        params, state, step, sums = _epoch(model, data, cost, config, rng, params, state, step, wide)
        if not _end_epoch(model, data, cost, history, params, sums, wide):
            _diverged(config.on_divergence, epoch)
            break
        _take_over(model, config, history, params, state, step)
        history.time.append(time.perf_counter() - started)
        if _stops(model, data, cost, config, history, best, params, epoch, wide):
            break
    best.restore(model)


def _epoch(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    rng: Any,
    params: list[Any],
    state: Any,
    step: int,
    wide: Any,
) -> tuple[list[Any], Any, int, tuple[Any, Any, list[Any]]]:
    """One epoch's updates: the parameters, state and update count after them, and
    the epoch's sums of costs and weights with the norms ‖∇Ωʲ‖ of its last batch.

    With a compiler, ``_compiled_epoch``.
    """
    if config.compiler is not None:
        return _compiled_epoch(model, data, cost, config, rng, params, state, step, wide)
    xp, loss_sum, weight_sum = model.xp, 0.0, 0.0
    epoch_batches = batches(xp, model.device, rng, data.x.shape[0], config.batch_size, config.sampling)
    for k, rows in enumerate(epoch_batches):
        last = k == len(epoch_batches) - 1  # its gradient norms go to the History
        params, state, loss, weight, norms = _update(
            model, params, state, _take(xp, rows, data), cost, config, step, wide, diagnose=last
        )
        loss_sum, weight_sum, step = loss_sum + loss, weight_sum + weight, step + 1
    return params, state, step, (loss_sum, weight_sum, norms)


def _compiled_epoch(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    rng: Any,
    params: list[Any],
    state: Any,
    step: int,
    wide: Any,
) -> tuple[list[Any], Any, int, tuple[Any, Any, list[Any]]]:
    """``_epoch`` run by ``_compile``: ``BatchGradients`` and the optimizer's ``apply``
    traced once; the batch order (drawn as for the eager loop, but kept on the host,
    then moved in one transfer), the learning rates and the optimizer's numbers
    computed on the host before the epoch runs."""
    rows = batches(get_namespace("numpy"), None, rng, data.x.shape[0], config.batch_size, config.sampling)
    lrs = [learning_rate(config.schedule, step + k) for k in range(len(rows))]
    gradients, arrays = BatchGradients.of(model, cost, config, wide), (data.x, data.y, data.sample_weight)
    params, state, sums = compiled_epoch(
        config.compiler, gradients, config.optimizer, params, state, arrays, rows, lrs
    )
    return params, state, step + len(rows), sums


def _take_over(
    model: Any, config: FitConfig, history: History, params: list[Any], state: Any, step: int
) -> None:
    """The model takes the finite epoch: parameters, optimizer, state, update count,
    History, and the schedule's state after it has heard the epoch's loss."""
    n_layers = len(model.phis)
    model.weights[:], model.biases[:] = params[:n_layers], params[n_layers:]
    model.optimizer, model.optimizer_state, model.n_updates = config.optimizer, state, step
    model.history = history
    if hasattr(config.schedule, "end_epoch"):
        config.schedule.end_epoch(history.loss[-1])
    model.schedule_state = config.schedule.state() if isinstance(config.schedule, Adaptive) else None


def _stops(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    history: History,
    best: BestEpoch,
    params: list[Any],
    epoch: int,
    wide: Any,
) -> bool:
    """After a finite epoch: the gradient-norm test, the report, early stopping and
    the callbacks (whose parameters are checked); True to stop."""
    if config.tol is not None:
        history.grad_norm.append(gradient_norm(model, data, cost, config, wide))
        history.converged = history.grad_norm[-1] <= config.tol
    if callable(getattr(config.optimizer, "converged", None)):
        history.converged = history.converged or config.optimizer.converged(model.optimizer_state)
    if config.verbose:
        _report(history, epoch, config.epochs)
    stop = best.update(history, params)
    stop = any([callback(model, history) for callback in config.callbacks]) or stop
    if config.callbacks:
        check_parameters(model.xp, model.weights, model.biases, model.layer_sizes, model.dtype, model.device)
    history.stopped_early = stop and not history.converged
    return history.converged or stop


def _take(xp: Any, rows: Any, data: TrainingData) -> tuple[Any, Any, Any]:
    """The batch ``rows`` of x, y and the sample weights (all of them for ``None``)."""
    arrays = (data.x, data.y, data.sample_weight)
    if rows is None:
        return arrays
    if isinstance(rows, slice):
        return tuple(None if a is None else a[rows, ...] for a in arrays)
    return tuple(None if a is None else xp.take(a, rows, axis=0) for a in arrays)


@dataclass(frozen=True)
class BatchGradients:
    """The array work of an update before the optimizer's step: backpropagation, the L2
    penalty and clipping on one batch (``output``: evaluate the output activation,
    which a fused cost skips).

    A pure function of the parameters and the batch, and hashable: the step that a
    compiler traces once per fit configuration (``_compile``).
    """

    xp: Any
    phis: tuple[Activation, ...]
    cost: Cost
    alpha: float
    clip_norm: float | None
    wide: Any
    output: bool

    @classmethod
    def of(cls, model: Any, cost: Cost, config: FitConfig, wide: Any) -> BatchGradients:
        """The batch gradients of ``model``'s network under ``cost`` and ``config``."""
        fused = is_fused(model.phis[-1], cost)
        return cls(model.xp, tuple(model.phis), cost, config.alpha, config.clip_norm, wide, not fused)

    def __call__(
        self, params: list[Any], batch: tuple[Any, Any, Any], diagnose: bool = False
    ) -> tuple[Any, Any, list[Any], list[Any] | None]:
        """The batch's summed (weighted) cost with penalty and its total weight (see
        ``objective_gradients``), the gradients (weights then biases), clipped to a
        global norm of ``clip_norm``, and with ``diagnose`` the norms ‖∇Ωʲ‖ taken
        before clipping (0-d arrays; else None)."""
        xp = self.xp
        total, weight, dW, db = objective_gradients(
            xp, params, self.phis, batch, self.cost, self.alpha, self.wide, output=self.output
        )
        norms = [global_norm(xp, [g]) for g in dW] if diagnose else None
        grads = [*dW, *db]
        if self.clip_norm is not None:
            norm = global_norm(xp, grads)
            grads = [g * (self.clip_norm / xp.maximum(norm, self.clip_norm)) for g in grads]
        return total, weight, grads, norms


def _update(
    model: Any,
    params: list[Any],
    state: Any,
    batch: tuple[Any, Any, Any],
    cost: Cost,
    config: FitConfig,
    step: int,
    wide: Any,
    *,
    diagnose: bool = False,
) -> tuple[list[Any], Any, Any, Any, list[Any] | None]:
    """One update on a batch ``(x, y, sample weights or None)``: backpropagation,
    L2 penalty, clipping, the optimizer's step.

    Returns the new parameters and state, the batch's summed (weighted) cost
    with penalty and its total weight (both summed over the epoch, see
    ``objective_gradients``), and with ``diagnose`` the norms ‖∇Ωʲ‖ as 0-d device arrays
    (taken before the step, which may overwrite ∇Ω).
    """
    xp, optimizer, alpha = model.xp, config.optimizer, config.alpha
    gradients = BatchGradients.of(model, cost, config, wide)
    total, weight, grads, norms = gradients(params, batch, diagnose)
    output = gradients.output
    lr = learning_rate(config.schedule, step)
    if getattr(optimizer, "needs_value_and_grad", False):

        def value_and_grad(trial: list[Any]) -> tuple[Any, list[Any]]:
            trial_total, trial_weight, trial_dW, trial_db = objective_gradients(
                xp, trial, model.phis, batch, cost, alpha, wide, output=output
            )
            return trial_total / trial_weight, [*trial_dW, *trial_db]

        params, state = optimizer.step(
            params, grads, state, lr, value=total / weight, value_and_grad=value_and_grad
        )
    elif getattr(optimizer, "needs_objective", False):

        def objective(trial: list[Any]) -> float:
            return objective_value(xp, trial, model.phis, batch, cost, alpha, wide)

        params, state = optimizer.step(
            params, grads, state, lr, value=ratio(total, weight), objective=objective
        )
    else:  # in place on the epoch's working copies (and on grads) where the optimizer can
        params, state = owned_step(optimizer)(params, grads, state, lr)
    return list(params), state, total, weight, norms


def _end_epoch(
    model: Any,
    data: TrainingData,
    cost: Cost,
    history: History,
    params: list[Any],
    sums: tuple[Any, Any, list[Any]],
    wide: Any,
) -> bool:
    """Record the epoch from one device→host transfer; False if it diverged.

    The epoch's loss is Σ cost / Σ weight (``sums``): NaN, and no divergence,
    when the epoch drew only samples of weight 0.
    """
    (loss_sum, weight_sum, norms), xp, n_layers = sums, model.xp, len(model.phis)
    # 0·max θ + 0·min θ is NaN when any parameter is not finite, and 0 otherwise (no sum to overflow).
    probe = sum(0.0 * xp.max(p) + 0.0 * xp.min(p) for p in params)
    values = [loss_sum + probe, loss_sum / weight_sum, *norms]
    if data.x_val is not None:
        zs, activations = forward(xp, params[:n_layers], params[n_layers:], model.phis, data.x_val)
        val_losses = output_error(xp, model.phis[-1], cost, zs[-1], activations[-1], data.y_val)[0]
        values += [
            xp.sum(val_losses, dtype=wide) / val_losses.shape[0],
            score(xp, cost, data.y_val, activations[-1]),
        ]
    read = host_floats(xp, values)
    if not math.isfinite(read[0]):
        return False
    history.loss.append(read[1])
    history.layer_grad_norms.append(read[2 : n_layers + 2])
    if data.x_val is not None:
        history.val_loss.append(read[-2])
        history.val_score.append(read[-1])
    return True


def gradient_norm(model: Any, data: TrainingData, cost: Cost, config: FitConfig, wide: Any) -> float:
    """‖∇‖ over all parameters, on the full data set, of the objective that the
    updates seek (seed 004's stopping test): Σ wᵢCᵢ / Σ wᵢ + (α/2M̄) Σⱼ‖Ωʲ‖², with
    M̄ = M Σw / N the mean total weight of a batch of M rows (M = N for gradient
    descent; Σw = N without sample weights): the batches' own penalty."""
    n = data.x.shape[0]
    rows = n if config.batch_size is None else config.batch_size
    rows = rows if config.sampling == "uniform" else min(rows, n)
    params, batch = [*model.weights, *model.biases], (data.x, data.y, data.sample_weight)
    alpha = config.alpha * n / rows
    _, _, dW, db = objective_gradients(model.xp, params, model.phis, batch, cost, alpha, wide)
    return float(global_norm(model.xp, [*dW, *db]))


def _diverged(on_divergence: str, epoch: int) -> None:
    message = (
        f"training diverged in epoch {epoch + 1}: the loss or the parameters became "
        "NaN or infinite; the model keeps the parameters of the last finite epoch "
        "(try a smaller lr)"
    )
    if on_divergence == "raise":
        raise FloatingPointError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` that makes a warning issued by this module's caller point at
    the first frame outside the mlp_xp package: the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def _report(history: History, epoch: int, epochs: int) -> None:
    line = f"epoch {epoch + 1}/{epochs}  loss {history.loss[-1]:.6g}"
    if history.val_loss:
        line += f"  val_loss {history.val_loss[-1]:.6g}  val_score {history.val_score[-1]:.4g}"
    if history.grad_norm:
        line += f"  |grad| {history.grad_norm[-1]:.3g}"
    print(f"{line}  {history.time[-1]:.3f} s", flush=True)
