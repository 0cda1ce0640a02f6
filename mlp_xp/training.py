"""The training loop: gradient descent, SGD and mini-batch SGD (seeds 002–004).

One loop serves all three: an epoch visits the data in batches of N
(``batch_size=None``: gradient descent, one update per epoch), 1 (SGD) or M
samples (mini-batch SGD), either as a shuffled pass or by drawing indices
uniformly with replacement, as the seeds write it.  Batch orders are drawn on
the host and moved to the device once per epoch (``_data``: arrays on the
device, or rows of host data read and moved a batch at a time).  The loss is summed on the
device in float64 (where the device has it); once per epoch one transfer
brings back the loss, a finiteness probe of the parameters, the layers'
gradient norms and the validation results.

Each epoch updates copies of the model's parameters (taken after the last
epoch's callbacks, which may set them) and of the optimizer state, in place
where the optimizer is written so (``owned_step``); the model takes them over
when the epoch ends with finite values, so arrays handed out earlier never
change.  With a fused cost the output activation is not evaluated.

With a communicator (``FitConfig.comm``) the same loop trains data-parallel
(``_data_parallel``): rank 0's parameters and optimizer state at the start,
one all-reduce per step after the local gradient sums, the epoch's values and
every decision taken on global values; an error on one process ends the job.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from types import FrameType
from typing import Any

from ._backend import host_floats, quiet_overflow
from ._comm import LOCAL, Communicator, abort_on_error, rank_generator
from ._compile import compiled_epoch
from ._data import TrainingData, epoch_order, one_batch
from ._data_parallel import (
    batch_rows,
    mean_over_processes,
    padded,
    reduce_sums,
    shard_sizes,
    start_from_rank0,
)
from ._validation import check_parameters
from .activations import Activation
from .costs import Cost
from .history import BestEpoch, EarlyStopping, History
from .lbfgs import value_and_grad_from_state, without_evaluation
from .metrics import score
from .network import forward, output_error
from .objective import accumulation_dtype, global_norm, objective_gradients, objective_value, ratio
from .optimizers import copy_tree, owned_step, updates_in_place
from .schedules import Adaptive, learning_rate

_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


@dataclass(frozen=True)
class FitConfig:
    """The validated settings of one ``fit``.

    With ``resume`` the epochs continue the model's optimizer state and update
    count; otherwise they start from ``optimizer.init`` and 0.  ``comm``: the
    processes that train together (``LOCAL``: this one alone); ``shards``:
    every process's number of rows, set by ``train``.  ``compiler`` names the
    compiler of ``_compile`` that runs the epochs' updates (None: eagerly, one
    array call at a time).
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
    comm: Communicator = LOCAL
    shards: tuple[int, ...] = ()
    compiler: str | None = None


def train(
    model: Any, data: TrainingData, cost: Cost, config: FitConfig, rng: Any, run: Any = None
) -> History:
    """Run ``config.epochs`` epochs of ``config.optimizer`` on ``model``; return its History.

    The model's parameters, optimizer, optimizer state, update count,
    schedule state and History (the one returned, filled epoch by epoch) are
    replaced together at the end of each epoch whose loss and parameters are
    finite: an interrupted or diverging epoch leaves those of the last finite
    epoch, and a fit stopped in its first epoch leaves the model as it was.

    With a communicator the model first takes rank 0's parameters, optimizer
    state and update count, and each process draws its batch orders from
    ``rng`` and its rank; an exception on one process then ends every process.
    A ``run`` (``checkpoint.CheckpointRun``) gives the History and early-stopping
    bookkeeping to continue, and its ``end_epoch`` hears each finite epoch.
    """
    params = [*model.weights, *model.biases]
    if config.resume:  # an evaluation the state keeps is of the last fit's objective, unless this fit's own
        own = run is not None and run.saved is not None
        state = model.optimizer_state if own else without_evaluation(model.optimizer_state)
        step = model.n_updates
    else:
        state, step = config.optimizer.init(params), 0
    if config.comm.distributed:
        config = replace(config, shards=shard_sizes(config.comm, data.batches.n_rows))
        state, step = start_from_rank0(model, config.comm, state, step, config.schedule)
        rng = rank_generator(rng, config.comm.rank)
    history = History() if run is None else run.history
    best = BestEpoch(config.early_stopping) if run is None else run.best
    with quiet_overflow(), abort_on_error(config.comm):
        diverged = _epochs(model, data, cost, config, rng, history, best, state, step, run)
    if diverged is not None:
        _diverged(config.on_divergence, diverged)
    best.restore(model)
    return history


def _epochs(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    rng: Any,
    history: History,
    best: BestEpoch,
    state: Any,
    step: int,
    run: Any,
) -> int | None:
    """The epochs, until the last, a stop, or a divergence: then the epoch that diverged
    (counting the epochs restored from a checkpoint)."""
    wide = accumulation_dtype(model.xp, model.device)
    in_place = updates_in_place(config.optimizer)
    for epoch in range(config.epochs):
        started = time.perf_counter()
        # Working copies of the model's parameters (as callbacks left them) and of the optimizer
        # state, updated in place: the model's arrays change only once the epoch is finite.
        params = copy_tree([*model.weights, *model.biases])
        state = copy_tree(state) if in_place else state
        params, state, step, sums = _epoch(model, data, cost, config, rng, params, state, step, wide)
        if not _end_epoch(model, data, cost, config, history, params, sums, wide):
            return history.n_epochs
        _take_over(model, config, history, params, state, step)
        history.time.append(time.perf_counter() - started)
        stop = _stops(model, data, cost, config, history, best, params, epoch, wide)
        if run is not None:
            run.end_epoch(model, history, best, stop)
        if stop:
            break
    return None


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
        return _compiled_epoch(config.compiler, model, data, cost, config, rng, params, state, step, wide)
    loss_sum, weight_sum = 0.0, 0.0
    epoch_batches = data.batches.epoch(rng, config.batch_size, config.sampling)
    if config.shards:  # as many steps as every other process, empty once this one's rows are used up
        epoch_batches = padded(epoch_batches, data.batches, config.shards, config.batch_size, config.sampling)
    for k, batch in enumerate(epoch_batches):
        last = k == len(epoch_batches) - 1  # its gradient norms go to the History
        params, state, loss, weight, norms = _update(
            model, params, state, batch, cost, config, step, wide, diagnose=last
        )
        loss_sum, weight_sum, step = loss_sum + loss, weight_sum + weight, step + 1
    return params, state, step, (loss_sum, weight_sum, norms)


def _compiled_epoch(
    compiler: str,
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
    """``_epoch`` run by ``_compile``'s ``compiler``: ``BatchGradients`` and the optimizer's
    ``apply`` traced once; the batch order (drawn as for the eager loop, but kept on the host,
    then moved in one transfer), the learning rates and the optimizer's numbers
    computed on the host before the epoch runs."""
    n = data.batches.n_rows
    order, spans = epoch_order(rng, n, config.batch_size, config.sampling)
    if one_batch(n, config.batch_size, config.sampling):
        rows: list[Any] = [None]
    else:
        rows = spans if order is None else [order[span] for span in spans]
    lrs = [learning_rate(config.schedule, step + k) for k in range(len(rows))]
    gradients, arrays = BatchGradients.of(model, cost, config, wide), data.batches.whole()
    params, state, sums = compiled_epoch(
        compiler, gradients, config.optimizer, params, state, arrays, rows, lrs
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
    if config.verbose and config.comm.rank == 0:
        _report(history, epoch, config.epochs)
    stop = best.update(history, params)
    votes = any([callback(model, history) for callback in config.callbacks])
    if config.comm.distributed:  # a callback's stop on any process stops every process
        votes = config.comm.allreduce_host([float(votes)])[0] > 0.0
    stop = votes or stop
    if config.callbacks:
        check_parameters(model.xp, model.weights, model.biases, model.layer_sizes, model.dtype, model.device)
    history.stopped_early = stop and not history.converged
    return history.converged or stop


@dataclass(frozen=True)
class BatchGradients:
    """The array work of an update before the optimizer's step: backpropagation, the L2
    penalty and clipping on one batch (``reduce``: the all-reduce of a data-parallel
    step, ``_data_parallel.reduce_sums``; None for one process).

    A pure function of the parameters and the batch, and hashable: the step that a
    compiler traces once per fit configuration (``_compile``).
    """

    xp: Any
    phis: tuple[Activation, ...]
    cost: Cost
    alpha: float
    clip_norm: float | None
    wide: Any
    reduce: Callable[..., tuple[Any, Any, list[Any]]] | None = None

    @classmethod
    def of(cls, model: Any, cost: Cost, config: FitConfig, wide: Any) -> BatchGradients:
        """The batch gradients of ``model``'s network under ``cost`` and ``config``."""
        reduce = _reducer(model.xp, config)
        return cls(model.xp, tuple(model.phis), cost, config.alpha, config.clip_norm, wide, reduce)

    def __call__(
        self, params: list[Any], batch: tuple[Any, Any, Any], diagnose: bool = False
    ) -> tuple[Any, Any, list[Any], list[Any]]:
        """The batch's summed (weighted) cost with penalty and its total weight (see
        ``objective_gradients``), the gradients (weights then biases), clipped to a
        global norm of ``clip_norm``, and with ``diagnose`` the norms ‖∇Ωʲ‖ taken
        before clipping (0-d arrays; else an empty list)."""
        xp = self.xp
        total, weight, dW, db = objective_gradients(
            xp, params, self.phis, batch, self.cost, self.alpha, self.wide, reduce=self.reduce
        )
        norms = [global_norm(xp, [g]) for g in dW] if diagnose else []
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
) -> tuple[list[Any], Any, Any, Any, list[Any]]:
    """One update on a batch ``(x, y, sample weights or None)``: backpropagation,
    L2 penalty, clipping, the optimizer's step.

    Returns the new parameters and state, the batch's summed (weighted) cost
    with penalty and its total weight (both summed over the epoch, see
    ``objective_gradients``), and with ``diagnose`` the norms ‖∇Ωʲ‖ as 0-d device arrays
    (taken before the step, which may overwrite ∇Ω).  With a communicator, all
    of these are the global batch's.
    """
    xp, optimizer, alpha = model.xp, config.optimizer, config.alpha
    if getattr(optimizer, "needs_value_and_grad", False):
        return _value_and_grad_update(model, params, state, batch, cost, config, step, wide, diagnose)
    gradients = BatchGradients.of(model, cost, config, wide)
    total, weight, grads, norms = gradients(params, batch, diagnose)
    reduce = gradients.reduce
    lr = learning_rate(config.schedule, step)
    if getattr(optimizer, "needs_objective", False):

        def objective(trial: list[Any]) -> float:
            return objective_value(xp, trial, model.phis, batch, cost, alpha, wide, reduce=reduce)

        params, state = optimizer.step(
            params, grads, state, lr, value=ratio(total, weight), objective=objective
        )
    else:  # in place on the epoch's working copies (and on grads) where the optimizer can
        params, state = owned_step(optimizer)(params, grads, state, lr)
    return list(params), state, total, weight, norms


def _value_and_grad_update(
    model: Any,
    params: list[Any],
    state: Any,
    batch: tuple[Any, Any, Any],
    cost: Cost,
    config: FitConfig,
    step: int,
    wide: Any,
    diagnose: bool,
) -> tuple[list[Any], Any, Any, Any, list[Any]]:
    """``_update`` for an optimizer that evaluates θ ↦ (𝓔, ∇𝓔) itself (L-BFGS's line search).

    In full-batch training 𝓔 and ∇𝓔 at θ are those its state keeps of the θ its
    last step returned, when θ has not been changed since; otherwise they are
    evaluated.  The batch's sums returned are 𝓔 over a weight of 1.
    """
    xp, reduce = model.xp, _reducer(model.xp, config)

    def value_and_grad(trial: list[Any]) -> tuple[Any, list[Any]]:
        total, weight, dW, db = objective_gradients(
            xp, trial, model.phis, batch, cost, config.alpha, wide, reduce=reduce
        )
        return total / weight, [*dW, *db]

    if config.batch_size is not None:  # each batch has its own objective: evaluate at every step
        state = without_evaluation(state)
    value, grads, state = value_and_grad_from_state(params, state, value_and_grad)
    norms = [global_norm(xp, [g]) for g in grads[: len(model.phis)]] if diagnose else []
    lr = learning_rate(config.schedule, step)
    params, state = config.optimizer.step(
        params, grads, state, lr, value=value, value_and_grad=value_and_grad
    )
    return list(params), state, xp.asarray(value, dtype=wide, device=model.device), 1.0, norms


def _reducer(xp: Any, config: FitConfig) -> Callable[..., tuple[Any, Any, list[Any]]] | None:
    """The sums of a process's batch -> those of the global batch; None for one process."""
    return partial(reduce_sums, xp, config.comm) if config.comm.distributed else None


def _end_epoch(
    model: Any,
    data: TrainingData,
    cost: Cost,
    config: FitConfig,
    history: History,
    params: list[Any],
    sums: tuple[Any, Any, list[Any]],
    wide: Any,
) -> bool:
    """Record the epoch from one device→host transfer; False if it diverged.

    The epoch's loss is Σ cost / Σ weight (``sums``): NaN, and no divergence,
    when the epoch drew only samples of weight 0.  With a communicator the
    validation loss and score are the means over every process's validation rows.
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
        validation = read[-2:]
        if config.comm.distributed:
            validation = mean_over_processes(config.comm, data.x_val.shape[0], validation)
        history.val_loss.append(validation[0])
        history.val_score.append(validation[1])
    return True


def gradient_norm(model: Any, data: TrainingData, cost: Cost, config: FitConfig, wide: Any) -> float:
    """‖∇‖ over all parameters, on the full data set, of the objective that the
    updates seek (seed 004's stopping test): Σ wᵢCᵢ / Σ wᵢ + (α/2M̄) Σⱼ‖Ωʲ‖², with
    M̄ = M Σw / N the mean total weight of a batch of M rows (M = N for gradient
    descent; Σw = N without sample weights): the batches' own penalty.  With a
    communicator: over every process's rows, M the rows of a global batch."""
    shards = config.shards or (data.batches.n_rows,)
    n, rows = sum(shards), sum(batch_rows(s, config.batch_size, config.sampling) for s in shards)
    params, batch = [*model.weights, *model.biases], data.batches.whole()
    alpha = config.alpha * n / rows
    reduce = _reducer(model.xp, config)
    _, _, dW, db = objective_gradients(model.xp, params, model.phis, batch, cost, alpha, wide, reduce=reduce)
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
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def _report(history: History, epoch: int, epochs: int) -> None:
    done = history.n_epochs  # epochs restored from a checkpoint included
    line = f"epoch {done}/{epochs + done - epoch - 1}  loss {history.loss[-1]:.6g}"
    if history.val_loss:
        line += f"  val_loss {history.val_loss[-1]:.6g}  val_score {history.val_score[-1]:.4g}"
    if history.grad_norm:
        line += f"  |grad| {history.grad_norm[-1]:.3g}"
    print(f"{line}  {history.time[-1]:.3f} s", flush=True)
