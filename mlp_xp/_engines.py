"""The communication engines: the one module that knows mpi4py, torch.distributed and CuPy's NCCL by name.

``communicator(comm)`` wraps what ``fit(comm=...)`` gets in a ``Communicator``:

- ``None``: ``LOCAL``, one process, where nothing is ever exchanged;
- an mpi4py communicator (``MPI.COMM_WORLD``): the buffer methods ``Allreduce``
  and ``Bcast`` on NumPy arrays (torch CPU tensors through a NumPy view of
  their memory); CUDA arrays (CuPy, torch) go to MPI as they are where the
  library takes CUDA memory (MPI 4.1's info key ``mpi_memory_alloc_kinds``
  names ``cuda``, or ``MLP_XP_CUDA_AWARE_MPI=1``), else through pinned host
  memory;
- a ``torch.distributed`` process group (gloo on the CPU, nccl on CUDA);
- a ``cupyx.distributed.NCCLBackend`` (CuPy arrays on their GPU);
- a ``Communicator`` of your own.

``launched`` gives the communicator of a job that mpiexec or torchrun started.
The CUDA paths (CUDA-aware MPI, pinned staging, nccl, CuPy's NCCL) have not
yet run on a GPU.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import array_api_compat
import numpy as np

from ._backend import to_numpy
from ._comm import LOCAL, Communicator


def communicator(comm: Any) -> Communicator:
    """The ``Communicator`` of ``fit(comm=...)``; ``TypeError`` naming what was given otherwise.

    ``mlp_xp.communicator(group)`` is also the way to give an estimator a torch
    process group: scikit-learn's ``clone`` deep-copies parameters, which a
    ProcessGroup refuses, while a ``Communicator`` copies as itself.
    """
    if comm is None:
        return LOCAL
    if isinstance(comm, Communicator):
        return comm
    library = type(comm).__module__.split(".")[0]
    if library == "mpi4py" and hasattr(comm, "Allreduce"):
        return MPIComm(comm)
    if library == "torch" and hasattr(comm, "rank") and hasattr(comm, "size"):
        return TorchComm(comm)
    if library == "cupyx" and hasattr(comm, "all_reduce"):
        return NCCLComm(comm)
    raise TypeError(
        "comm must be None, an mpi4py communicator (MPI.COMM_WORLD), a torch.distributed "
        "process group (torch.distributed.group.WORLD), a cupyx.distributed.NCCLBackend or an "
        f"mlp_xp Communicator, got {type(comm).__module__}.{type(comm).__qualname__}"
    )


@contextmanager
def launched(kind: str | None, device: Any = None) -> Iterator[Any]:
    """The communicator of every process of a job started by a launcher, for the block:
    None for ``kind=None`` (one process); ``"mpi"`` (mpiexec): ``MPI.COMM_WORLD``;
    ``"torch"`` (torchrun): torch.distributed's default group, started here (nccl for
    a CUDA ``device``, else gloo) unless it already is, and ended after the block."""
    if kind is None:
        yield None
    elif kind == "mpi":
        from mpi4py import MPI

        yield MPI.COMM_WORLD
    else:
        import torch.distributed as dist

        started = not dist.is_initialized()
        if started:
            cuda = str(getattr(device, "type", device or "cpu")).startswith("cuda")
            dist.init_process_group("nccl" if cuda else "gloo")
        try:
            yield dist.group.WORLD
        finally:
            if started:
                dist.destroy_process_group()


def _exit(reason: str) -> None:
    print(reason, file=sys.stderr, flush=True)
    os._exit(1)


def _is_cuda(buffer: Any) -> bool:
    if array_api_compat.is_cupy_array(buffer):
        return True
    return array_api_compat.is_torch_array(buffer) and buffer.device.type == "cuda"


def _host_view(buffer: Any) -> tuple[np.ndarray, bool]:
    """A NumPy array of ``buffer``'s values, and whether it is ``buffer``'s own memory
    (NumPy, torch on the CPU) rather than a copy (other libraries)."""
    shared = array_api_compat.is_numpy_array(buffer) or (
        array_api_compat.is_torch_array(buffer) and buffer.device.type == "cpu"
    )
    host = to_numpy(buffer)
    return (host, True) if shared else (np.array(host), False)


def _like(buffer: Any, host: np.ndarray) -> Any:
    """``host``'s values as an array of ``buffer``'s library and device."""
    xp = array_api_compat.array_namespace(buffer)
    return xp.asarray(host, device=array_api_compat.device(buffer))


def _on_host(buffer: Any, operate: Callable[[np.ndarray], Any]) -> Any:
    """``operate`` on a writable NumPy array of ``buffer``'s values; the result in ``buffer``'s library."""
    host, shared = _host_view(buffer)
    operate(host)
    return buffer if shared else _like(buffer, host)


class MPIComm(Communicator):
    """An mpi4py communicator: its upper-case buffer methods, ``Abort`` on failure."""

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self._mpi, self._comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.cuda_aware = _takes_cuda_memory(comm)
        self._pinned: dict[tuple, Any] = {}

    def allreduce_sum(self, buffer: Any) -> Any:
        return self._run(buffer, lambda b: self._comm.Allreduce(self._mpi.IN_PLACE, b, op=self._mpi.SUM))

    def broadcast(self, buffer: Any) -> Any:
        return self._run(buffer, lambda b: self._comm.Bcast(b, root=0))

    def abort(self, reason: str) -> None:
        print(reason, file=sys.stderr, flush=True)
        self._comm.Abort(1)
        os._exit(1)  # where Abort returns before the launcher ends this process

    def _run(self, buffer: Any, operate: Callable[[Any], Any]) -> Any:
        if not _is_cuda(buffer):
            return _on_host(buffer, operate)
        if self.cuda_aware:
            _synchronize(buffer)
            operate(buffer)
            return buffer
        return _through_pinned(buffer, operate, self._pinned)


def _takes_cuda_memory(comm: Any) -> bool:
    """Whether the MPI library reads and writes CUDA memory itself: MPI 4.1's
    ``mpi_memory_alloc_kinds`` (e.g. "mpi,system,cuda:device") names ``cuda``,
    or the environment says so with ``MLP_XP_CUDA_AWARE_MPI=1`` (``0``: never)."""
    declared = os.environ.get("MLP_XP_CUDA_AWARE_MPI", "").strip()
    if declared in ("0", "1"):
        return declared == "1"
    info = comm.Get_info()
    try:
        kinds = info.Get("mpi_memory_alloc_kinds") or ""
    finally:
        info.Free()
    return "cuda" in kinds


def _synchronize(buffer: Any) -> None:
    """Wait for the GPU work queued on ``buffer``'s stream: MPI reads device memory from the host side."""
    if array_api_compat.is_cupy_array(buffer):
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    else:
        import torch

        torch.cuda.current_stream(buffer.device).synchronize()


def _through_pinned(buffer: Any, operate: Callable[[np.ndarray], Any], pinned: dict[tuple, Any]) -> Any:
    """``operate`` on a pinned host copy of the CUDA array ``buffer``, then the result copied
    back into ``buffer``; the pinned arrays are kept in ``pinned`` for the next steps."""
    key = (type(buffer).__module__, tuple(buffer.shape), str(buffer.dtype))
    if array_api_compat.is_cupy_array(buffer):
        import cupyx

        host = pinned.get(key)
        if host is None:
            host = pinned[key] = cupyx.empty_pinned(buffer.shape, buffer.dtype)
        buffer.get(out=host)
        operate(host)
        buffer.set(host)
        return buffer
    import torch

    staging = pinned.get(key)
    if staging is None:
        staging = pinned[key] = torch.empty(buffer.shape, dtype=buffer.dtype, pin_memory=True)
    staging.copy_(buffer)
    operate(staging.numpy())
    buffer.copy_(staging)
    return buffer


class TorchComm(Communicator):
    """A torch.distributed process group; arrays of other libraries travel as torch tensors
    of the group's device (the CPU for gloo, the current CUDA device for nccl)."""

    def __init__(self, group: Any) -> None:
        import torch
        import torch.distributed as dist

        self._torch, self._dist, self._group = torch, dist, group
        self.rank, self.size = dist.get_rank(group), dist.get_world_size(group)
        backend = str(dist.get_backend(group))  # "gloo", "nccl", or "cpu:gloo,cuda:nccl"
        self._devices = {kind for kind, name in (("cpu", "gloo"), ("cuda", "nccl")) if name in backend}
        gpu = "gloo" not in backend
        self._device = torch.device("cuda", torch.cuda.current_device()) if gpu else torch.device("cpu")
        self._root = dist.get_global_rank(group, 0)

    def allreduce_sum(self, buffer: Any) -> Any:
        return self._run(buffer, lambda t: self._dist.all_reduce(t, group=self._group))

    def broadcast(self, buffer: Any) -> Any:
        return self._run(buffer, lambda t: self._dist.broadcast(t, src=self._root, group=self._group))

    def abort(self, reason: str) -> None:
        _exit(reason)  # torchrun then ends the other processes

    def _run(self, buffer: Any, operate: Callable[[Any], Any]) -> Any:
        torch = self._torch
        if array_api_compat.is_torch_array(buffer) and buffer.device.type in self._devices:
            operate(buffer)
            return buffer

        def on_tensor(host: np.ndarray) -> None:
            tensor = torch.from_numpy(host).to(self._device)  # the host memory itself on the CPU
            operate(tensor)
            if tensor.device.type != "cpu":
                host[...] = tensor.cpu().numpy()

        return _on_host(buffer, on_tensor)


class NCCLComm(Communicator):
    """A ``cupyx.distributed.NCCLBackend``: CuPy arrays on its GPU; others through it."""

    def __init__(self, comm: Any) -> None:
        self._comm = comm
        self.rank, self.size = comm.rank, comm._n_devices

    def allreduce_sum(self, buffer: Any) -> Any:
        return self._run(buffer, lambda a: self._comm.all_reduce(a, a, "sum"))

    def broadcast(self, buffer: Any) -> Any:
        return self._run(buffer, lambda a: self._comm.broadcast(a, 0))

    def abort(self, reason: str) -> None:
        _exit(reason)  # the launcher (mpiexec, torchrun) then ends the other processes

    def _run(self, buffer: Any, operate: Callable[[Any], Any]) -> Any:
        import cupy

        if array_api_compat.is_cupy_array(buffer):
            operate(buffer)
            return buffer

        def on_gpu(host: np.ndarray) -> None:
            device = cupy.asarray(host)
            operate(device)
            host[...] = device.get()

        return _on_host(buffer, on_gpu)
