"""Training throughput of mlp_xp against PyTorch, scikit-learn, a native loop and the GEMM floor.

    python benchmarks/train_step.py --backend numpy --workload T          # CPU, B = 32 and 256
    python benchmarks/train_step.py --backend numpy --workload C --dtype float64
    python benchmarks/train_step.py --backend numpy --workload T --sweep batch
    python benchmarks/train_step.py --backend cupy --workload M           # CUDA GPU, B = 64, 1024, 4096
    python benchmarks/train_step.py --backend torch --device cuda --workload L
    python benchmarks/train_step.py --backend cupy --workload L --precision tf32
    python benchmarks/train_step.py --backend numpy --workload D           # the digits network

Every contender (see ``_contenders.py``) trains the same network — ReLU hidden
layers, softmax + cross-entropy output, plain SGD — from the same initial
weights on the same data, resident on the device, in the same batch order
(scikit-learn excepted).  For each configuration the script

1. checks correctness: k steps on the same k batches from the same weights
   must give the native loop's batch losses and parameters within the dtype's
   tolerance;
2. times whole epochs of N = steps·B samples, the contenders taking turns,
   one warm-up epoch then ``--repeats`` timed epochs each (medians kept); the
   number of steps is chosen so that an epoch of the native loop lasts about
   ``--epoch-seconds``;
3. measures each contender's peak memory during its first epoch, and during
   the three epochs after it, to see that it stays flat (not in sweeps): on
   the CPU in a fresh process (Linux), on a GPU from the allocator in this one.

One step costs 6·B·Σ n_{j−1}n_j FLOPs (three matrix products per layer); the
GEMM floor times those products alone on the contender's library, and
``floor / step`` is the fraction of the step spent on them.  mlp_xp is timed
through its public ``fit``, one call per epoch, so its per-call validation,
conversion and one-hot encoding of the data and its per-epoch loss read are
part of its cost; the row ``mlp_xp:loop`` is the same epochs timed by
``History.time``, fit's epoch loop alone (the difference is ``fit_overhead_s``).
Results: a markdown table on stdout, merged into
``benchmarks/results/<device>-<date>.json`` and ``.md``.

Beside a NumPy or CuPy run, ``mlp_xp_torch`` is mlp_xp on ``backend="torch"``
on the same device; beside a CuPy run, ``mlp_xp_kernels`` is mlp_xp on CuPy with
its fused kernels switched on (``MLP_XP_CUPY_KERNELS``).  ``--precision tf32``
lets every contender's float32 matrix products use TF32 (CuPy's ``CUPY_TF32``,
PyTorch's ``allow_tf32``), set once for the whole run.  On a CUDA GPU (``--backend cupy``, or ``torch`` with a
CUDA device) epochs are timed between device synchronisations, PyTorch also
runs as a whole-step CUDA graph, scikit-learn is left out and memory is read
from the CuPy pool / PyTorch allocator.  That path has not yet run on a GPU;
``benchmarks/gpu_run.sh`` runs it with the test suite in one call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import _harness as h
import _report as report
import numpy as np
from _contenders import Native, contender_names, make
from _problem import Problem

MAX_SAMPLES = 2**19  # data set size bound of a calibrated epoch
LOOP = "mlp_xp:loop"  # mlp_xp's fit timed by its own History.time: the epoch loop without fit's set-up

SWEEPS = {
    # name: (CPU values, GPU values)
    "batch": ((16, 32, 64, 128, 256, 512, 1024), (64, 256, 1024, 4096, 8192)),
    "width": ((128, 256, 512, 1024), (1024, 2048, 4096, 8192)),
    "depth": ((1, 2, 4, 8), (1, 2, 4, 8)),
    "n": ((4, 16, 64), (4, 16, 64, 256)),
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--backend", choices=("numpy", "cupy", "torch"), default="numpy")
    add("--device", help="torch device for --backend torch (default: cuda if present, else cpu)")
    add("--workload", choices=h.WORKLOADS, default="T")
    add("--sizes", help="layer sizes n_0,...,n_L instead of the workload's, e.g. 784,256,10")
    add("--batch-size", type=int, nargs="+", help="default: the workload's for the device")
    add("--dtype", choices=("float32", "float64"), default="float32")
    add("--precision", choices=("float32", "tf32"), default="float32",
        help="float32 matrix products in float32 or (CUDA GPUs) TF32, for every contender")  # fmt: skip
    add("--repeats", type=int, default=5, help="timed epochs per contender (median kept)")
    add("--epoch-seconds", type=float, default=0.2, help="target native-loop epoch time")
    add("--steps", type=int, help="steps per epoch (default: from --epoch-seconds)")
    add("--check-steps", type=int, default=3, help="k steps of the correctness check")
    add("--lr", type=float, default=0.01)
    add("--seed", type=int, default=0)
    add("--threads", type=int, default=h.cores(), help="BLAS and torch threads")
    add("--contenders", nargs="+", help="a subset of the contenders (default: all)")
    add("--sweep", choices=SWEEPS, help="scale batch size, hidden width, depth or N")
    add("--no-memory", dest="memory", action="store_false", help="skip the memory probes")
    add("--out", type=Path, default=report.RESULTS)
    add("--probe", help=argparse.SUPPRESS)  # internal: one memory probe in this process
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = default_device(args.backend)
    return args


def default_device(backend: str) -> str:
    if backend == "cupy":
        import cupy

        return f"cuda:{cupy.cuda.Device().id}"
    if backend == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"


Config = tuple[tuple[int, ...], int, "int | None"]  # (sizes, batch, steps or None: calibrate)


def configurations(args: argparse.Namespace, gpu: str | None) -> list[Config]:
    """``(sizes, batch, steps or None)`` of every configuration to run."""
    workload = h.WORKLOADS[args.workload]
    sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else workload.sizes
    batches = args.batch_size or (workload.gpu_batches if gpu else workload.cpu_batches)
    if not batches:
        raise SystemExit(f"workload {args.workload} is a GPU workload; pass --batch-size to run it anyway")
    if args.sweep is None:
        return [(sizes, b, args.steps) for b in batches]
    values = SWEEPS[args.sweep][gpu is not None]
    n_in, n_out, hidden = sizes[0], sizes[-1], sizes[1:-1]
    if args.sweep == "batch":
        return [(sizes, b, args.steps) for b in values]
    if args.sweep == "width":
        return [((n_in, *[w] * len(hidden), n_out), batches[-1], args.steps) for w in values]
    if args.sweep == "depth":
        return [((n_in, *[hidden[0]] * d, n_out), batches[-1], args.steps) for d in values]
    return [(sizes, batches[0], steps) for steps in values]


def problem(args: argparse.Namespace, sizes: tuple[int, ...], batch: int, steps: int) -> Problem:
    data = h.WORKLOADS[args.workload].data
    return Problem(sizes, batch, steps, args.dtype, args.lr, args.seed, args.backend, args.device, data)


def calibrate(args: argparse.Namespace, sizes: tuple[int, ...], batch: int, timer: Any) -> int:
    """Steps per epoch for a native-loop epoch of about ``--epoch-seconds``: 3 to 5000, and at
    most ``MAX_SAMPLES`` samples (a launch-bound GPU step at a large batch would ask for gigabytes).

    The fastest of three 3-step epochs after a warm-up one: the first calls
    start thread pools and fault pages in, and other processes only slow down.
    """
    native = Native(problem(args, sizes, batch, 3))
    native.epoch(0)
    seconds = min(timer(native.epoch, r)[0] for r in (1, 2, 3)) / 3
    return max(3, min(5000, MAX_SAMPLES // batch, math.ceil(args.epoch_seconds / seconds)))


def check(p: Problem, names: list[str], k: int) -> dict[str, dict[str, Any]]:
    """k steps on the same k batches from the same weights, compared with the native loop.

    Two numbers: the largest relative error of the k batch losses, and the
    relative L2 error of the parameter update θ_k − θ_0.  Their tolerances
    (float32: 1e-4 and 1e-2; float64: 1e-10 and 1e-6) allow what two correct
    implementations differ by: rounding, and the rare ReLU unit whose ζ lies
    within rounding of 0 and so is on in one and off in the other, which moves
    one row of ∇Ω by a full term (about 1e-3 of the update in float32).
    """
    batches = [p.order(0)[i * p.batch : (i + 1) * p.batch] for i in range(min(k, p.steps))]
    start = np.concatenate([a.ravel() for a in p.weights + p.biases]).astype(np.float64)

    def run(name: str) -> tuple[np.ndarray, np.ndarray]:
        contender = make(name, p)
        losses = np.array(contender.train(batches))
        W, b = contender.parameters()
        return losses, np.concatenate([a.ravel() for a in W + b]) - start

    ref_losses, ref_update = run("native")
    tol_loss, tol_update = (1e-4, 1e-2) if p.dtype == "float32" else (1e-10, 1e-6)
    out = {}
    for name in names:
        if name == "native" or name.startswith("floor_"):
            continue
        losses, update = run(name)
        loss_err = float(np.max(np.abs(losses - ref_losses) / np.abs(ref_losses)))
        update_err = float(np.linalg.norm(update - ref_update) / np.linalg.norm(ref_update))
        ok = loss_err <= tol_loss and update_err <= tol_update
        out[name] = {
            "ok": ok,
            "status": "ok" if ok else "FAILED",
            "steps": len(batches),
            "loss_rel_err": loss_err,
            "update_rel_err": update_err,
            "tolerances": [tol_loss, tol_update],
        }
        print(f"  check {name:<12} {'ok' if ok else 'FAILED'}: loss rel. err {loss_err:.1e}, "
              f"update rel. err {update_err:.1e}")  # fmt: skip
    return out


def measure_memory(p: Problem, name: str, gpu: str | None) -> dict[str, Any]:
    """Peak memory of a fresh contender's first epoch, and of its next three above what it held before."""
    contender = make(name, p)
    allocator = None if gpu is None else contender.library  # the CuPy pool or PyTorch's allocator
    first = h.peak_memory(lambda: float(contender.epoch(0)), allocator)
    later = h.peak_memory(lambda: [float(contender.epoch(r)) for r in (1, 2, 3)], allocator)
    # the peak of epochs 2-4 above the memory held before epoch 1: flat if it is not above epoch 1's
    return {**first, "later_growth_bytes": first["retained_bytes"] + later["growth_bytes"]}


def probe_memory(args: argparse.Namespace, p: Problem, name: str, gpu: str | None) -> dict[str, Any] | None:
    """``measure_memory`` of ``name``: on a GPU in this process, on the CPU in a fresh one."""
    if gpu is not None:
        return measure_memory(p, name, gpu)
    command = [
        sys.executable, __file__, "--probe", name, "--backend", args.backend, "--device", args.device,
        "--sizes", ",".join(map(str, p.sizes)), "--batch-size", str(p.batch), "--steps", str(p.steps),
        "--dtype", p.dtype, "--lr", str(p.lr), "--seed", str(p.seed), "--threads", str(args.threads),
        "--workload", args.workload, "--precision", args.precision,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"memory probe of {name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_probe(args: argparse.Namespace, gpu: str | None) -> None:
    p = problem(args, tuple(int(n) for n in args.sizes.split(",")), args.batch_size[0], args.steps)
    print(json.dumps(measure_memory(p, args.probe, gpu)))


def run_configuration(args: argparse.Namespace, config: Config, gpu: str | None) -> list[dict[str, Any]]:
    """Check, time and probe every contender on one configuration; one result row each."""
    sizes, batch, steps = config
    timer = h.clock(gpu)
    p = problem(args, sizes, batch, steps or calibrate(args, sizes, batch, timer))
    names = [n for n in contender_names(p, gpu) if args.contenders is None or n in args.contenders]
    print(f"\n{sizes} B={batch} {args.dtype}: {p.steps} steps per epoch; {', '.join(names)}", flush=True)
    checks = check(p, names, args.check_steps)
    contenders = {name: make(name, p) for name in names}
    timings = h.interleaved({n: c.epoch for n, c in contenders.items()}, args.repeats, timer)
    memory = {}
    if args.memory and args.sweep is None:  # sweeps stay cheap: no probes
        memory = {n: probe_memory(args, p, n, gpu) for n in names if not n.startswith("floor_")}
    if "mlp_xp" in contenders:  # fit's own epoch loop, without its set-up (History.time)
        ours = contenders["mlp_xp"]
        contenders = {"mlp_xp": ours, LOOP: ours, **contenders}
        timings[LOOP] = {"seconds": ours.inside_fit[1:], "loss": timings["mlp_xp"]["loss"]}
        checks[LOOP] = checks.get("mlp_xp")
    rows = [
        result_row(args, p, name, contender, timings, checks.get(name), memory.get(name))
        for name, contender in contenders.items()
    ]
    print(report.markdown(rows), flush=True)
    return rows


def result_row(
    args: argparse.Namespace,
    p: Problem,
    name: str,
    contender: Any,
    timings: dict[str, dict[str, list[float]]],
    checked: dict[str, Any] | None,
    memory: dict[str, Any] | None,
) -> dict[str, Any]:
    """The measurements of one contender on one configuration, with ratios to the others."""
    step_s = {n: h.median(t["seconds"]) / p.steps for n, t in timings.items()}
    seconds, floor = step_s[name], step_s.get(f"floor_{contender.library}")
    is_floor = name.startswith("floor_")
    itemsize = np.dtype(p.dtype).itemsize
    param_bytes = itemsize * sum(w.size + b.size for w, b in zip(p.weights, p.biases))
    need = h.memory_need(p.sizes, p.batch, itemsize)
    peak = None if memory is None else param_bytes + memory["growth_bytes"]
    row = {
        "workload": None if args.sizes else args.workload,
        "sizes": list(p.sizes),
        "batch": p.batch,
        "dtype": p.dtype,
        "precision": args.precision,
        "backend": p.backend,
        "device": p.device,
        "sweep": args.sweep,
        "threads": args.threads,
        "contender": name,
        "library": contender.library,
        "steps_per_epoch": p.steps,
        "step_s": seconds,
        "step_s_min": min(timings[name]["seconds"]) / p.steps,
        "step_s_repeats": [t / p.steps for t in timings[name]["seconds"]],
        "samples_per_s": p.batch / seconds,
        "gflops": h.step_flops(p.sizes, p.batch) / seconds / 1e9,
        "gemm_floor_efficiency": None if floor is None or is_floor else floor / seconds,
        **{
            f"{ours}_speedup": None if ours not in step_s or is_floor else seconds / step_s[ours]
            for ours in report.OURS
        },
        "check": "ref." if name == "native" else None if checked is None else checked["status"],
        "check_detail": checked,
        "memory": memory,
        "peak_mib": None if peak is None else peak / 2**20,
        "need_mib": need / 2**20,
        "memory_ratio": None if peak is None else peak / need,
        "memory_later_ratio": later_ratio(memory),
        "load_average": os.getloadavg(),
    }
    if "native" in timings and name in (*report.OURS, LOOP, "torch", "torch_graph"):
        # same weights, same batch orders: the timed epochs' losses must follow the native loop's
        ours, native = np.array(timings[name]["loss"]), np.array(timings["native"]["loss"])
        diff = float(np.max(np.abs(ours - native) / np.abs(native)))
        row["epoch_loss_rel_diff_vs_native"] = diff
        if diff > (1e-3 if p.dtype == "float32" else 1e-8):
            print(f"  WARNING: {name}'s epoch losses differ from the native loop's by {diff:.1e}: "
                  "not the same batch order?")  # fmt: skip
            row["check"] = "order?"
    if name == "mlp_xp":  # validation, conversion and one-hot encoding of (x, y), once per call
        row["fit_overhead_s"] = h.median(timings[name]["seconds"]) - h.median(timings[LOOP]["seconds"])
    return row


def later_ratio(memory: dict[str, Any] | None) -> float | None:
    """Peak of epochs 2-4 ÷ peak of epoch 1 (both above the memory held before epoch 1)."""
    return None if memory is None else memory["later_growth_bytes"] / max(memory["growth_bytes"], 1)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    threads = h.set_threads(args.threads)
    gpu = h.cuda_library(args.backend, args.device)
    args.precision = h.set_precision(args.precision, gpu)
    if args.probe:
        run_probe(args, gpu)
        return
    record = {
        "environment": {**report.environment(gpu, threads), "precision": args.precision},
        "script": "benchmarks/train_step.py",
    }
    rows: list[dict[str, Any]] = []
    for config in configurations(args, gpu):
        rows += run_configuration(args, config, gpu)
        path = report.save(record, rows, args.out)  # after each: a run stopped early keeps what it measured
    print("\n" + report.targets_markdown(rows))
    print(f"\nwrote {path} and {path.with_suffix('.md').name}")


if __name__ == "__main__":
    main()
