"""Batches for the training loop: arrays on the device, or rows streamed from the host.

``DeviceData`` holds x, the targets and the sample weights on the model's
device: an epoch's order is drawn on the host and moved to the device once, and
each batch is a slice (``"sequential"``), a gather by a view of that order, or
all the rows (gradient descent).  ``HostData`` leaves x on the host, as a
memory-map (a ``.npy`` file) or a SciPy sparse matrix, never read whole: its
values are checked a block at a time, and each batch's rows are read there,
prepared and moved to the device, the next batch in a background thread while
the current one trains.  Both draw the same orders from the same generator,
so a fit gives the same parameters on either, bit for bit.

Either source gives the contiguous block of rows of one process out of
``size`` (``shard``); the library-specific reading and copying is in
``_host_data``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import array_api_compat

from . import _host_data as host
from . import _validation as check
from ._backend import dtype_name, namespace_of, to_namespace
from .costs import Cost

BLOCK_ELEMENTS = 2**20  # values of host data checked, or rows predicted, at a time


@dataclass(frozen=True)
class TrainingData:
    """What ``fit`` trains on: its batches (``DeviceData`` or ``HostData``) and the
    validation arrays on the model's device."""

    batches: Any
    x_val: Any = None
    y_val: Any = None


def one_batch(n: int, batch_size: int | None, sampling: str) -> bool:
    """True when an epoch is one batch of all ``n`` rows in order (gradient descent)."""
    return batch_size is None or (batch_size >= n and sampling != "uniform")


def epoch_order(rng: Any, n: int, batch_size: int | None, sampling: str) -> tuple[Any, list[slice]]:
    """One epoch's batches, drawn on the host by ``rng``: ``(order, spans)``, batch k
    being the rows ``order[spans[k]]``, or the rows ``spans[k]`` when ``order`` is None
    (``"sequential"``, or one batch of all rows).  ``order`` is a permutation
    (``"shuffle"``) or ⌈N/M⌉·M indices drawn uniformly with replacement (``"uniform"``)."""
    if batch_size is None or one_batch(n, batch_size, sampling):
        return None, [slice(0, n)]
    order = None
    if sampling == "shuffle":
        order = rng.permutation(n)
    elif sampling == "uniform":
        order = rng.integers(0, n, size=math.ceil(n / batch_size) * batch_size)
    total = n if order is None else order.shape[0]
    return order, [slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


def shard_rows(n: int, rank: int, size: int) -> slice:
    """The contiguous block of rows of process ``rank`` out of ``size``: sizes differ by at most 1."""
    size = check.check_int(size, "size")
    if check.check_int(rank, "rank", minimum=0) >= size:
        raise ValueError(f"rank must be in 0..{size - 1} (size={size}), got {rank}")
    return slice(rank * n // size, (rank + 1) * n // size)


class Batches:
    """An epoch's batches, ``make(rows)`` for each rows of ``selectors``, made as they are
    iterated; ``len`` is their number."""

    def __init__(self, make: Callable[..., Any], selectors: list[Any]) -> None:
        self.make, self.selectors = make, selectors

    def __len__(self) -> int:
        return len(self.selectors)

    def __iter__(self) -> Iterator[Any]:
        return map(self.make, self.selectors)


class Prefetched(Batches):
    """Batches made one ahead in a background thread: the next batch is read and copied
    while the current one trains.  ``mark()``, called in the consumer's thread as each
    batch is asked for, tells ``make(rows, after)`` what its copy must wait for."""

    def __init__(self, make: Callable[..., Any], selectors: list[Any], mark: Callable[[], Any]) -> None:
        super().__init__(make, selectors)
        self.mark = mark

    def __iter__(self) -> Iterator[Any]:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlp_xp-batches") as worker:
            pending = worker.submit(self.make, self.selectors[0], self.mark())
            for rows in self.selectors[1:]:
                ready = pending.result()
                pending = worker.submit(self.make, rows, self.mark())
                yield ready
            yield pending.result()


class DeviceData:
    """x, the prepared targets and the sample weights (or None) on the model's device."""

    def __init__(self, x: Any, y: Any, sample_weight: Any = None) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.xp, self.device = namespace_of(x), array_api_compat.device(x)

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    def whole(self) -> tuple[Any, Any, Any]:
        """``(x, y, sample weights or None)``: every row."""
        return self.x, self.y, self.sample_weight

    def epoch(self, rng: Any, batch_size: int | None, sampling: str) -> Any:
        """The epoch's batches ``(x, y, w or None)``: slices, gathers by views of one
        device order (moved once), or all the rows."""
        if one_batch(self.n_rows, batch_size, sampling):
            return [self.whole()]
        order, rows = epoch_order(rng, self.n_rows, batch_size, sampling)
        if order is not None:
            order = self.xp.asarray(order, device=self.device)
            rows = [order[span] for span in rows]
        return Batches(self._take, rows)

    def empty(self) -> tuple[Any, Any, Any]:
        """A batch of no rows (a data-parallel step of a process whose rows are used up)."""
        return self._take(slice(0, 0))

    def shard(self, rank: int, size: int) -> DeviceData:
        """The rows of process ``rank`` out of ``size`` (``shard_rows``), as views."""
        rows = shard_rows(self.n_rows, rank, size)
        return DeviceData(*(None if a is None else a[rows, ...] for a in self.whole()))

    def _take(self, rows: Any) -> tuple[Any, Any, Any]:
        if isinstance(rows, slice):
            x, y, w = (None if a is None else a[rows, ...] for a in self.whole())
        else:
            x, y, w = (None if a is None else self.xp.take(a, rows, axis=0) for a in self.whole())
        return x, y, w


class HostData:
    """x on the host (a memory-map, a row view of one, a CSR matrix) with its targets and
    sample weights (host arrays, the weights prepared), read a batch of rows at a time.

    A batch is x's rows in the model's dtype (``dtype``, a name), y's rows as the cost
    reads them (one-hot rows of ``n_classes`` for integer labels) and the weights'
    rows, moved by ``copy`` (``_host_data.device_copy``).
    """

    def __init__(
        self, x: Any, y: Any, sample_weight: Any, n_classes: int | None, dtype: str, copy: Any
    ) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n_classes, self.dtype, self.copy = n_classes, dtype, copy

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    def epoch(self, rng: Any, batch_size: int | None, sampling: str) -> Prefetched:
        """The epoch's batches ``(x, y, w or None)`` on the device, prefetched."""
        order, rows = epoch_order(rng, self.n_rows, batch_size, sampling)
        return Prefetched(self._batch, rows if order is None else [order[r] for r in rows], self.copy.mark)

    def empty(self) -> tuple[Any, Any, Any]:
        """A batch of no rows on the device (a data-parallel step of a process whose rows are used up)."""
        return self._batch(slice(0, 0), self.copy.mark())

    def shard(self, rank: int, size: int) -> HostData:
        """The rows of process ``rank`` out of ``size`` (``shard_rows``)."""
        rows = shard_rows(self.n_rows, rank, size)
        x, y, w = (None if a is None else host.take(a, rows) for a in (self.x, self.y, self.sample_weight))
        return HostData(x, y, w, self.n_classes, self.dtype, self.copy)

    def _batch(self, rows: Any, after: Any) -> tuple[Any, Any, Any]:
        x = host.gather(self.x, rows, self.dtype)
        if self.n_classes is None:
            y = host.gather(self.y, rows, self.dtype)
            y = host.HOST_XP.reshape(y, (y.shape[0], -1))
        else:
            labels = host.gather(self.y, rows)
            y = check.one_hot(host.HOST_XP, labels, self.n_classes, _host_dtype(self.dtype), host.HOST_DEVICE)
        w = None if self.sample_weight is None else host.gather(self.sample_weight, rows)
        return tuple(self.copy((x, y, w), after))


def streamed(model: Any, cost: Cost, x: Any, y: Any, sample_weight: Any, config: Any) -> HostData | None:
    """``HostData`` for an ``x`` that is host data (a path of a ``.npy`` file, a
    memory-map, a sparse matrix) trained in mini-batches, every value checked a block
    at a time; None for any other x, or gradient descent, which use x whole."""
    data = host.open_data(x, "x")
    if data is None:
        return None
    check.check_features_shape(tuple(data.shape), model.layer_sizes[0], "x")
    if one_batch(data.shape[0], config.batch_size, config.sampling):
        return None
    if config.tol is not None:
        raise ValueError(
            f"tol={config.tol!r} tests the gradient on all rows at once, which fit does not hold for "
            "memory-mapped or sparse x in mini-batches; use early_stopping, or batch_size=None"
        )
    dtype, n = dtype_name(model.xp, model.dtype), data.shape[0]
    _check_values(data.data if host.is_sparse(data) else data, dtype, "x")
    y = _checked_targets(y, n, model.layer_sizes[-1], cost, dtype)
    n_classes = model.layer_sizes[-1] if cost.targets == "distribution" and y.ndim == 1 else None
    if sample_weight is not None:
        weights = host.whole(sample_weight, "sample_weight")
        sample_weight = check.as_sample_weight(host.HOST_XP, weights, n, _host_dtype(dtype), host.HOST_DEVICE)
    return HostData(data, y, sample_weight, n_classes, dtype, host.device_copy(model.xp, model.device))


def feature_blocks(x: Any, n_features: int) -> Iterator[Any] | None:
    """Host data x as dense host blocks of about ``BLOCK_ELEMENTS`` values (at least one
    row), read one at a time, for prediction; None for any other x."""
    data = host.open_data(x, "x")
    if data is None:
        return None
    check.check_features_shape(tuple(data.shape), n_features, "x")
    spans = host.blocks(data, max(1, BLOCK_ELEMENTS // n_features))
    return (host.whole(host.gather(data, rows), "x") for rows in spans)


def _check_values(values: Any, dtype: str, name: str) -> None:
    """Every value of host data (a memory-map's rows, a sparse matrix's stored values),
    a block at a time: real numbers, finite in ``dtype``."""
    step = max(1, BLOCK_ELEMENTS // math.prod(values.shape[1:]))
    for rows in host.blocks(values, step):
        block = to_namespace(host.gather(values, rows), host.HOST_XP, host.HOST_DEVICE, name)
        check.as_finite(host.HOST_XP, block, _host_dtype(dtype), name)


def _checked_targets(y: Any, n: int, n_outputs: int, cost: Cost, dtype: str) -> Any:
    """y as a host array (a memory-map stays one), its values checked a block at a time."""
    targets = host.open_data(y, "y")
    if targets is None or host.is_sparse(targets):
        targets = to_namespace(host.whole(y, "y"), host.HOST_XP, host.HOST_DEVICE, "y")
    if targets.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got shape {tuple(targets.shape)}")
    if targets.shape[0] != n:
        raise ValueError(f"y has {targets.shape[0]} samples, but x has {n}")
    step = max(1, BLOCK_ELEMENTS // math.prod(targets.shape[1:]))
    for rows in host.blocks(targets, step):
        block = host.gather(targets, rows)
        check.as_targets(
            host.HOST_XP, block, n_outputs, block.shape[0], cost, _host_dtype(dtype), host.HOST_DEVICE, "y"
        )
    return targets


def _host_dtype(name: str) -> Any:
    return getattr(host.HOST_XP, name)
