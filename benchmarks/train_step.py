"""Training throughput of mlp_xp against the same step's matrix products alone.

    python benchmarks/train_step.py --backend numpy --workload T --batch-size 256

One training step is three matrix products per layer (forward ζ = αW, the
backpropagated αΩᵀ... and the weight gradient αᵀ𝓑): 6·B·Σ n_{j−1}n_j FLOPs.
The "GEMM floor" times exactly those products on the same backend, in the same
run; ``floor / step`` is the fraction of the step spent on useful arithmetic.
Prints a table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import mlp_xp

WORKLOADS = {
    "T": [784, 256, 256, 10],
    "M": [1024, 2048, 2048, 2048, 10],
    "L": [4096, 8192, 8192, 4096],
    "C": [1024, 1024, 1024, 10],
}


def synchronize(xp) -> None:
    """Wait for queued device work (CuPy, CUDA torch); a no-op on the CPU."""
    if "cupy" in xp.__name__:
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif "torch" in xp.__name__:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def timed(xp, fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs, after one warm-up."""
    fn()
    synchronize(xp)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(xp)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(backend: str, sizes: list[int], batch: int, steps: int, repeats: int, dtype: str) -> dict:
    model = mlp_xp.MLP(sizes, "relu", "softmax", backend=backend, dtype=dtype, seed=0)
    xp, device = model.xp, model.device
    rng = np.random.default_rng(0)
    n = batch * steps
    x = xp.asarray(rng.normal(size=(n, sizes[0])), dtype=model.dtype, device=device)
    y = xp.asarray(rng.integers(0, sizes[-1], size=n), device=device)

    def epoch():
        model.fit(x, y, loss="cross_entropy", lr=1e-3, batch_size=batch, epochs=1, seed=0)

    a = [xp.ones((batch, k), dtype=model.dtype, device=device) for k in sizes]

    def gemm_floor():
        for _ in range(steps):
            for j, W in enumerate(model.weights):
                a[j] @ W  # forward ζ
                a[j].T @ a[j + 1]  # ∇Ω = αᵀ𝓑
                if j > 0:
                    a[j + 1] @ W.T  # backpropagated error
        synchronize(xp)

    step = timed(xp, epoch, repeats) / steps
    floor = timed(xp, gemm_floor, repeats) / steps
    flops = 6 * batch * sum(m * k for m, k in itertools.pairwise(sizes))
    return {
        "backend": backend,
        "device": str(device),
        "layer_sizes": sizes,
        "batch_size": batch,
        "dtype": dtype,
        "step_s": step,
        "gemm_floor_s": floor,
        "samples_per_s": batch / step,
        "gemm_floor_efficiency": floor / step,
        "achieved_gflops": flops / step / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", nargs="+", default=["numpy"])
    parser.add_argument("--workload", choices=WORKLOADS, default="T")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    rows = [
        run(backend, WORKLOADS[args.workload], batch, args.steps, args.repeats, args.dtype)
        for backend in args.backend
        for batch in args.batch_size
    ]
    print(f"{'backend':<18}{'B':>6}{'samples/s':>14}{'GEMM floor':>12}{'GFLOP/s':>10}")
    for r in rows:
        print(
            f"{r['backend']:<18}{r['batch_size']:>6}{r['samples_per_s']:>14.0f}"
            f"{r['gemm_floor_efficiency']:>11.0%}{r['achieved_gflops']:>10.1f}"
        )
    today = datetime.date.today().isoformat()
    record = {
        "date": today,
        "machine": platform.processor() or platform.machine(),
        "workload": args.workload,
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"train_step-{args.workload}-{platform.machine()}-{today}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
