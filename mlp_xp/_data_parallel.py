"""Data-parallel training: what the processes of a ``fit(comm=...)`` exchange, and when.

Each process holds its own rows and its own copy of the model.  At the start
of ``fit`` every process takes rank 0's parameters and optimizer state (one
broadcast, ``replicate``).  One global step combines one local batch of every
process: each computes the sums of its batch, and one all-reduce of one flat
buffer (``reduce_sums``) gives every process the sums of the global batch,
from which every process takes the same update.  A process whose rows are
used up for the epoch joins the step with an empty batch, so that every
process makes the number of steps agreed at the start (``padded``).  What the
processes agree on before training is ``_agreement``'s.

The communicator (``_comm``) is the edge; this module speaks the Array API.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat

from ._data import one_batch
from .schedules import Adaptive


def reduce_sums(
    xp: Any, comm: Any, total: Any, weight: Any, grads: Sequence[Any]
) -> tuple[Any, Any, list[Any]]:
    """The sums of a global batch from those of this process's part of it, by one all-reduce.

    Parameters
    ----------
    total : 0-d array
        Σ wᵢCᵢ over this process's rows (wᵢ = 1 without sample weights).
    weight : float or 0-d array
        Σ wᵢ over them (the row count without sample weights).
    grads : list of arrays
        The gradients of their mean, Σ wᵢ∇Cᵢ / Σ wᵢ (0 for a weight of 0),
        for every parameter; may be empty.

    Returns
    -------
    The global Σ wᵢCᵢ (of ``total``'s dtype), Σ wᵢ (a 0-d array of the
    gradients' dtype) and the gradients of the global mean.

    Notes
    -----
    ∇𝓔 = Σₚ Σ_{i∈p} wᵢ∇Cᵢ / Σₚ Σ_{i∈p} wᵢ over the processes p.  The buffer
    holds Σ wᵢ∇Cᵢ (the local mean's gradients times Σ wᵢ) for every parameter,
    then Σ wᵢ and Σ wᵢCᵢ, all in the gradients' dtype: one call, as torch
    DDP's gradient buckets.
    """
    dtype = grads[0].dtype if grads else total.dtype
    device = array_api_compat.device(total)
    weight = xp.asarray(weight, dtype=dtype, device=device) if isinstance(weight, float) else weight
    scalars = xp.stack([xp.astype(weight, dtype), xp.astype(total, dtype)])
    local_sums = [xp.reshape(g, (-1,)) * weight for g in grads]  # the local Σ wᵢ∇Cᵢ
    flat = comm.allreduce_sum(xp.concat([*local_sums, scalars]))
    weight, summed = flat[-2], xp.astype(flat[-1], total.dtype)
    means, start, views = flat[:-2] / xp.where(weight > 0.0, weight, 1.0), 0, []
    for g in grads:
        size = math.prod(g.shape)
        views.append(xp.reshape(means[start : start + size], g.shape))
        start += size
    return summed, weight, views


def shard_sizes(comm: Any, n_rows: int) -> tuple[int, ...]:
    """Every process's number of training rows, in rank order (one exchange per ``fit``)."""
    return tuple(int(n) for n in comm.gather_numbers(n_rows))


def n_batches(n_rows: int, batch_size: int | None, sampling: str) -> int:
    """The number of batches an epoch makes of ``n_rows`` rows (``_data.epoch_order``)."""
    if batch_size is None or one_batch(n_rows, batch_size, sampling):
        return 1
    return math.ceil(n_rows / batch_size)


class Padded:
    """An epoch's ``batches`` followed by empty ones (``source.empty()``: no rows, weight
    0) up to ``steps``, the global number of steps of the epoch."""

    def __init__(self, batches: Any, source: Any, steps: int) -> None:
        self.batches, self.source, self.steps = batches, source, steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Any]:
        yield from self.batches
        for _ in range(self.steps - len(self.batches)):
            yield self.source.empty()


def padded(batches: Any, source: Any, shards: Sequence[int], batch_size: int | None, sampling: str) -> Padded:
    """``batches`` of ``source`` padded to the most batches any process makes of its rows."""
    return Padded(batches, source, max(n_batches(n, batch_size, sampling) for n in shards))


def batch_rows(n_rows: int, batch_size: int | None, sampling: str) -> int:
    """The rows of one full batch of a process with ``n_rows`` rows."""
    rows = n_rows if batch_size is None else batch_size
    return rows if sampling == "uniform" else min(rows, n_rows)


def mean_over_processes(comm: Any, n_rows: int, means: Sequence[float]) -> list[float]:
    """Means over every process's rows, from each process's means over its ``n_rows`` rows."""
    sums = comm.allreduce_host([*(n_rows * m for m in means), float(n_rows)])
    return [s / sums[-1] for s in sums[:-1]]


@dataclass(frozen=True)
class _Slot:
    """An array's place in a tree sent from rank 0: its shape and dtype name."""

    shape: tuple[int, ...]
    dtype: str


def replicate(xp: Any, device: Any, comm: Any, tree: Any) -> Any:
    """Rank 0's ``tree`` (lists, tuples and dicts of arrays and host values) on every process.

    Rank 0 sends its layout (the tree with its arrays replaced by their shapes
    and dtypes) as a small object, then its arrays in one broadcast of one
    flat buffer per dtype, as Horovod's ``broadcast_parameters``; the other
    processes build the tree from those, whatever their own held.
    """
    names = {dtype: name for name, dtype in xp.__array_namespace_info__().dtypes(device=device).items()}
    arrays: list[Any] = []
    layout = comm.broadcast_object(_layout(tree, arrays, names))
    slots = _slots(layout)
    received: list[Any] = [None] * len(slots)
    for name in sorted({slot.dtype for slot in slots}):
        dtype, chosen = getattr(xp, name), [i for i, slot in enumerate(slots) if slot.dtype == name]
        sizes = [math.prod(slots[i].shape) for i in chosen]
        if comm.rank == 0:
            flat = xp.concat([xp.reshape(arrays[i], (-1,)) for i in chosen])
        else:
            flat = xp.zeros((sum(sizes),), dtype=dtype, device=device)
        flat, start = comm.broadcast(flat), 0
        for i, size in zip(chosen, sizes):
            received[i] = xp.reshape(flat[start : start + size], slots[i].shape)
            start += size
    return _filled(layout, iter(received))


def _layout(tree: Any, arrays: list[Any], names: dict[Any, str]) -> Any:
    if isinstance(tree, dict):
        return {key: _layout(value, arrays, names) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_layout(value, arrays, names) for value in tree)
    if array_api_compat.is_array_api_obj(tree):
        arrays.append(tree)
        return _Slot(tuple(tree.shape), names[tree.dtype])
    return tree


def _slots(layout: Any) -> list[_Slot]:
    if isinstance(layout, dict):
        return [slot for value in layout.values() for slot in _slots(value)]
    if isinstance(layout, (list, tuple)):
        return [slot for value in layout for slot in _slots(value)]
    return [layout] if isinstance(layout, _Slot) else []


def _filled(layout: Any, arrays: Iterator[Any]) -> Any:
    if isinstance(layout, dict):
        return {key: _filled(value, arrays) for key, value in layout.items()}
    if isinstance(layout, (list, tuple)):
        return type(layout)(_filled(value, arrays) for value in layout)
    return next(arrays) if isinstance(layout, _Slot) else layout


def start_from_rank0(model: Any, comm: Any, state: Any, step: int, schedule: Any) -> tuple[Any, int]:
    """Give ``model`` rank 0's parameters and return rank 0's optimizer state and update
    count; an ``"adaptive"`` schedule takes rank 0's state too."""
    adaptive = schedule.state() if isinstance(schedule, Adaptive) else None
    start = ([*model.weights, *model.biases], state, step, adaptive)
    params, state, step, adaptive = replicate(model.xp, model.device, comm, start)
    n_layers = len(model.phis)
    model.weights[:], model.biases[:] = params[:n_layers], params[n_layers:]
    if adaptive is not None:
        schedule.resume(adaptive)
    return state, step
