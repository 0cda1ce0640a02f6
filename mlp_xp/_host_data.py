"""The host-data edge: memory-maps, ``.npy`` files and SciPy sparse matrices, read
a batch of rows at a time, and the copy of a batch to the device.

The one module that knows NumPy memory-maps, SciPy's sparse matrices and CuPy's
pinned memory and streams by name; the batch logic (orders, prefetching,
validation) is ``_data``'s.  SciPy is not imported here: a sparse matrix can
only exist where SciPy has been imported already, so it is looked up in
``sys.modules`` (as array-api-compat finds torch and CuPy arrays).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ._backend import to_namespace

HOST_XP = array_api_compat.array_namespace(np.empty(0))  # the host's Array API namespace
HOST_DEVICE = "cpu"


def is_sparse(a: Any) -> bool:
    """True for a SciPy sparse matrix or array."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(a)


def is_streamable(a: Any) -> bool:
    """True for data that ``fit`` reads a batch at a time: a memory-map, a row view, a sparse matrix."""
    return isinstance(a, (np.memmap, Rows)) or is_sparse(a)


@dataclass(frozen=True)
class Rows:
    """The rows ``index`` (host integers) of a memory-map, read only when used."""

    base: Any
    index: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.index.shape[0], *self.base.shape[1:])

    @property
    def dtype(self) -> Any:
        return self.base.dtype

    @property
    def ndim(self) -> int:
        return self.base.ndim


def open_data(a: Any, name: str) -> Any:
    """Host data that ``a`` is or names: a path opened as a read-only memory-map, a
    sparse matrix as CSR (converted once, never densified), a memory-map or a row
    view as it is; None for anything else (arrays, lists), which is not host data."""
    if isinstance(a, (str, os.PathLike)):
        try:
            a = np.load(a, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{name}: {os.fspath(a)!r} is not a .npy file of numbers: {exc}") from exc
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{name} must name a .npy file (one array), got an archive of arrays")
    if is_sparse(a):
        a = a.tocsr() if a.format != "csr" else a
        return a if a.has_canonical_format else _canonical(a)
    return a if is_streamable(a) else None


def _canonical(a: Any) -> Any:
    """A copy of a CSR matrix with sorted column indices and no duplicate entries (summed)."""
    a = a.copy()
    a.sum_duplicates()
    return a


def whole(a: Any, name: str) -> Any:
    """``a`` itself, or the whole of the host data it is or names: for data used
    whole (validation data, gradient descent); a sparse matrix is densified."""
    data = open_data(a, name)
    if data is None or isinstance(data, np.memmap):  # a memory-map is read by whoever reads it whole
        return a if data is None else data
    return data.toarray() if is_sparse(data) else gather(data, slice(None))  # a row view, copied


def take(a: Any, rows: Any) -> Any:
    """The ``rows`` (a slice or host integers) of host data: a sparse matrix's rows
    copied, a memory-map's as a view, read only when used."""
    if is_sparse(a) or (isinstance(rows, slice) and not isinstance(a, Rows)):
        return a[rows]
    return Rows(a.base, a.index[rows]) if isinstance(a, Rows) else Rows(a, np.asarray(rows))


def blocks(a: Any, rows_per_block: int) -> list[slice]:
    """Slices of at most ``rows_per_block`` rows covering ``a``: at least one, empty for no rows."""
    n = a.shape[0]
    return [slice(start, min(start + rows_per_block, n)) for start in range(0, max(n, 1), rows_per_block)]


def gather(a: Any, rows: Any, dtype: str | None = None) -> Any:
    """The ``rows`` (a slice or host integer indices) of host data, copied into memory:
    a NumPy array, or a CSR matrix for sparse data; cast to ``dtype`` if given.

    Indices are read in increasing order (a memory-map is read in file order),
    then put back in the order asked.
    """
    if isinstance(a, Rows):
        a, rows = a.base, a.index[rows]
    if isinstance(rows, slice) or is_sparse(a):
        block = a[rows]
        return block.astype(dtype or block.dtype) if is_sparse(a) else np.array(block, dtype=dtype)
    order = np.argsort(rows, kind="stable")
    block = np.empty((rows.shape[0], *a.shape[1:]), dtype=dtype or a.dtype)
    block[order] = a[rows[order]]
    return block


def device_copy(xp: Any, device: Any) -> Any:
    """The copy of host batches to ``device``: through pinned memory on a side stream
    for CuPy, a plain move for the others (``to_namespace``)."""
    if array_api_compat.is_cupy_namespace(xp):
        return _PinnedCopy(device)
    return _PlainCopy(xp, device)


class _PlainCopy:
    """Host arrays (sparse ones densified on the host) moved to ``device``."""

    def __init__(self, xp: Any, device: Any) -> None:
        self.xp, self.device = xp, device

    def mark(self) -> None:
        """Nothing to wait for: the copy is made by the thread that asks for it."""

    def __call__(self, arrays: Any, after: Any = None) -> list[Any]:
        dense = [a.toarray() if is_sparse(a) else a for a in arrays]
        return [None if a is None else to_namespace(a, self.xp, self.device, "batch") for a in dense]


class _PinnedCopy:
    """Host arrays copied to the current CUDA device through pinned host memory on a
    side stream, a sparse batch as its CSR arrays, densified on the device.

    Not yet run on a GPU.  ``mark`` (called by the consumer, in its thread) records
    an event on the consumer's stream; the copy (in a background thread) waits for
    it, so that it cannot overwrite device memory that work queued before it still
    reads, and waits for its own completion before the pinned buffers are released.
    """

    def __init__(self, device: Any) -> None:
        self.cupy, self.cupyx = importlib.import_module("cupy"), importlib.import_module("cupyx.scipy.sparse")
        self.device = device
        with device:
            self.stream = self.cupy.cuda.Stream(non_blocking=True)

    def mark(self) -> Any:
        return self.cupy.cuda.get_current_stream().record()

    def __call__(self, arrays: Any, after: Any = None) -> list[Any]:
        with self.device, self.stream:
            if after is not None:
                self.stream.wait_event(after)
            copies = [None if a is None else self._copy(a) for a in arrays]
            self.stream.synchronize()
        return copies

    def _copy(self, a: Any) -> Any:
        if is_sparse(a):
            parts = (a.data, a.indices.astype(np.int32), a.indptr.astype(np.int32))
            return self.cupyx.csr_matrix(tuple(self._copy(p) for p in parts), shape=a.shape).toarray()
        pinned = importlib.import_module("cupyx").empty_pinned(a.shape, a.dtype)
        pinned[...] = a
        copy = self.cupy.empty(a.shape, a.dtype)
        copy.set(pinned, stream=self.stream)
        return copy
