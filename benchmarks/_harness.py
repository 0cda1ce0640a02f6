"""Measuring: workloads, threads, clocks and memory, shared by the benchmark scripts.

Nothing here trains a network (the contenders are in ``_contenders.py``) or
writes results (``_report.py``).  This module

- describes the workloads and their arithmetic (FLOPs, memory need);
- pins the BLAS and PyTorch thread pools to one number and records it;
- times a call by the host clock, on a CUDA GPU between two device-wide
  synchronisations, interleaving the contenders and keeping medians;
- measures the peak memory of one epoch (resident set size on the CPU, the
  CuPy / PyTorch allocator on a GPU).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.util
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Workload:
    """Layer sizes ``[n_0, ..., n_L]``, the batch sizes worth timing on CPU and GPU, and the
    data: ``"random"`` (standard normal) or ``"digits"`` (the training part of
    ``mlp_xp.datasets.digits()``, repeated to the rows of an epoch)."""

    sizes: tuple[int, ...]
    cpu_batches: tuple[int, ...]
    gpu_batches: tuple[int, ...]
    data: str = "random"


WORKLOADS = {
    "T": Workload((784, 256, 256, 10), (32, 256), (32, 256, 4096)),
    "M": Workload((1024, 2048, 2048, 2048, 10), (64, 256), (64, 1024, 4096)),
    "L": Workload((4096, 8192, 8192, 4096), (), (8192,)),
    "C": Workload((1024, 1024, 1024, 10), (256,), (256,)),
    "S": Workload((64, 32, 10), (32,), (32,)),
    "D": Workload((64, 64, 10), (32,), (32,), data="digits"),
}


def step_flops(sizes: Sequence[int], batch: int) -> int:
    """6·B·Σ n_{j−1}n_j: three matrix products of 2·B·n_{j−1}·n_j FLOPs per layer."""
    return 6 * batch * sum(m * n for m, n in itertools.pairwise(sizes))


def memory_need(sizes: Sequence[int], batch: int, itemsize: int) -> int:
    """Bytes a step cannot do without: parameters, their gradients, and the kept
    activations α⁰..αᴸ of one batch, B·Σ_{j=0}^{L} n_j."""
    params = sum(m * n + n for m, n in itertools.pairwise(sizes))
    return itemsize * (2 * params + batch * sum(sizes))


# --- threads -----------------------------------------------------------------------------


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_limits: list[Any] = []  # keeps the threadpoolctl limiter alive for the whole process


def set_threads(n: int) -> dict[str, Any]:
    """Pin every BLAS/OpenMP pool (NumPy's OpenBLAS, SciPy's, PyTorch's) to ``n`` threads.

    threadpoolctl only reaches libraries already loaded, so the array libraries
    are imported first.
    """
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError as exc:
        raise SystemExit(
            "the benchmarks pin BLAS threads with threadpoolctl: pip install threadpoolctl"
        ) from exc

    loaded = [
        importlib.import_module(m) for m in ("numpy", "scipy.linalg", "torch") if importlib.util.find_spec(m)
    ]
    _limits.append(threadpool_limits(limits=n))
    record: dict[str, Any] = {"requested": n}
    if any(m.__name__ == "torch" for m in loaded):
        import torch

        torch.set_num_threads(n)
        record["torch"] = torch.get_num_threads()
    record["pools"] = [
        {key: pool.get(key) for key in ("internal_api", "version", "num_threads", "filepath")}
        for pool in threadpool_info()
    ]
    return record


def set_precision(precision: str, gpu: str | None) -> str:
    """Let every contender's float32 matrix products run in TF32 (``"tf32"``) or in float32
    (``"float32"``), for the whole run; returns the precision in effect (float32 on the CPU).

    CuPy reads ``CUPY_TF32`` at its first float32 matrix product and PyTorch its float32
    matmul precision at every one: set here, before any contender multiplies, the choice
    holds for all of them.
    """
    if gpu is None:
        if precision == "tf32":
            print("TF32 exists on CUDA GPUs only: this CPU run multiplies in float32", file=sys.stderr)
        return "float32"
    os.environ["CUPY_TF32"] = "1" if precision == "tf32" else "0"
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    return precision


# --- clocks ------------------------------------------------------------------------------


def cuda_library(backend: str, device: str) -> str | None:
    """The library whose CUDA events time this run: 'cupy', 'torch', or None on the CPU."""
    if backend == "cupy":
        return "cupy"
    if backend == "torch" and device.startswith("cuda"):
        return "torch"
    return None


def synchronize(gpu: str | None) -> None:
    """Wait until the device has finished the work every loaded CUDA library queued; no-op on the CPU.

    Both libraries' calls wait for the whole device (``cudaDeviceSynchronize``);
    each is called so that a run mixing CuPy and torch contenders waits on the
    current device of each.
    """
    if gpu is None:
        return
    if "cupy" in sys.modules:
        sys.modules["cupy"].cuda.Device().synchronize()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def clock(gpu: str | None) -> Callable[..., tuple[float, Any]]:
    """A timer ``timer(fn, *args) -> (seconds, fn(*args))`` by the host's ``perf_counter``.

    On a CUDA GPU the device is synchronised before the clock starts (earlier
    work is not charged) and before it stops (all of ``fn``'s work is): exact
    whatever stream or library ``fn`` launches on, at the cost of two
    synchronisations (microseconds) per timed epoch (milliseconds or more).
    """

    def timer(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
        synchronize(gpu)
        start = time.perf_counter()
        result = fn(*args)
        synchronize(gpu)
        return time.perf_counter() - start, result

    return timer


def interleaved(
    epochs: dict[str, Callable[[int], Any]], repeats: int, timer: Callable
) -> dict[str, dict[str, list[float]]]:
    """Time ``epochs[name](r)`` for r = 0..repeats, the contenders taking turns.

    Epoch 0 of every contender is a warm-up and is not kept.  The order of the
    contenders rotates from one repeat to the next, so no contender always runs
    after the same neighbour.  Returns, per name, the seconds and the epoch
    losses (each epoch returns its mean loss, read only after the clock stops).

    Garbage is collected before each epoch, so that no collection falls inside
    one.  What is alive when timing starts (the libraries, the contenders) is
    frozen out of those collections, which would otherwise walk every object
    that torch and scikit-learn hold: tenths of a second each.
    """
    names = list(epochs)
    out: dict[str, dict[str, list[float]]] = {n: {"seconds": [], "loss": []} for n in names}
    gc.collect()
    gc.freeze()
    try:
        for r in range(repeats + 1):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                seconds, loss = timer(epochs[name], r)
                if r > 0:
                    out[name]["seconds"].append(seconds)
                    out[name]["loss"].append(float(loss) if loss is not None else float("nan"))
    finally:
        gc.unfreeze()
    return out


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- memory ------------------------------------------------------------------------------


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def peak_memory(fn: Callable[[], Any], gpu: str | None) -> dict[str, Any]:
    """Bytes by which one call of ``fn`` raises the peak memory above what is held before
    it (``growth_bytes``), and by which it leaves the memory held raised (``retained_bytes``).

    ``gpu`` is None on the CPU, else the library whose allocator serves ``fn``
    (on a GPU the allocators count their own arrays only, so the call may run
    in a process that holds others).  CPU: the resident set size's high-water mark (Linux ``VmHWM``, reset
    through ``/proc/self/clear_refs``) minus ``VmRSS`` before the call, after
    ``malloc_trim`` has handed the C allocator's cached free memory back; run
    it in a fresh process.  ``"cupy"``: the bytes the CuPy pool holds after the
    call (it never frees during it, so an upper bound of the peak) minus those
    in use before, its cached blocks freed first.  ``retained_bytes`` is read
    after a garbage collection and ``malloc_trim``.  ``"torch"``:
    ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` before.
    """
    gc.collect()
    if gpu == "cupy":
        import cupy

        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        before = pool.used_bytes()
        fn()
        cupy.cuda.Device().synchronize()
        return {
            "method": "cupy memory pool total_bytes",
            "growth_bytes": pool.total_bytes() - before,
            "retained_bytes": pool.used_bytes() - before,
        }
    if gpu == "torch":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        growth = torch.cuda.max_memory_allocated() - before
        retained = torch.cuda.memory_allocated() - before
        return {
            "method": "torch.cuda.max_memory_allocated",
            "growth_bytes": growth,
            "retained_bytes": retained,
        }
    _trim()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current VmRSS (Linux ≥ 4.0)
    before = _proc_status_kib("VmRSS")
    fn()
    growth = 1024 * (_proc_status_kib("VmHWM") - before)
    _trim()
    retained = 1024 * (_proc_status_kib("VmRSS") - before)
    return {"method": "VmHWM - VmRSS (Linux RSS)", "growth_bytes": growth, "retained_bytes": retained}


def _trim() -> None:
    """Hand memory that the C allocator keeps from earlier frees back to the system."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
