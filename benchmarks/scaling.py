"""Data-parallel scaling of ``fit`` on this machine: 1 → 2 processes under mpiexec, one BLAS thread each.

    python benchmarks/scaling.py                           # workloads T and C, strong and weak scaling
    python benchmarks/scaling.py --workload T --rounds 5   # more rounds, one workload

Every process trains its own rows (float32, ReLU, softmax + cross-entropy, SGD,
shuffled batches) with ``fit(comm=MPI.COMM_WORLD)``; an epoch's time is the
slowest process's (they wait for each other at every step).

- Strong scaling: one epoch of N rows with a global batch of G rows per step,
  on 1 process, then on 2 (N/2 rows and G/2 per step each). Efficiency
  t₁ / (2 t₂): 100 % when 2 processes take half the time.
- Weak scaling: n rows and B per step on each process; 2 processes do twice
  the work of 1. Efficiency t₁ / t₂: 100 % when they take the same time.
- The all-reduce alone: ``allreduce_sum`` of a buffer of the model's
  parameters (+2), timed on 2 processes, the cost a step pays on top of its
  arithmetic; and the data-parallel path's own cost: the whole exchange of a
  step (``reduce_sums``: packing, the all-reduce, unpacking) on 1 process, and
  1 process's epochs with a communicator against those without.

The configurations take turns, round after round (``--rounds``), so that the
load of a shared machine falls on all of them alike; the tables give medians.
Results: a markdown table on stdout, ``benchmarks/results/scaling-<device>-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import WORKLOADS, median, set_threads, step_flops
from _report import RESULTS, device_slug, environment

# Rows and batch per process of weak scaling (strong scaling: the same per process on 2,
# twice both on 1), chosen for epochs of about half a second to a second on one core.
SHAPES = {"T": (8192, 256), "C": (2048, 256)}
ALLREDUCE_REPEATS = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", nargs="+", choices=sorted(SHAPES), default=["T", "C"])
    parser.add_argument("--rounds", type=int, default=3, help="turns of every configuration")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run (after one warm-up)")
    parser.add_argument(
        "--worker", nargs=5, metavar=("WORKLOAD", "ROWS", "BATCH", "MODE", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        workload, rows, batch, mode, out = args.worker
        return _worker(workload, int(rows), int(batch), mode, args.epochs, Path(out))
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        raise SystemExit("needs mpiexec: pip install mpi4py mpich")
    env = environment(None, {"requested": 1, "note": "OMP_NUM_THREADS=1 and threadpoolctl in each process"})
    runs = _measure(mpiexec, args.workload, args.rounds, args.epochs)
    rows = _rows(runs)
    record = {"environment": env, "settings": vars(args), "runs": runs, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"scaling-{device_slug(env)}-{datetime.date.today().isoformat()}"
    Path(f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    report = _markdown(env, args, rows)
    Path(f"{stem}.md").write_text(report)
    print(report)


def _configurations(workload: str) -> list[tuple[str, int, int, int, str]]:
    """(name, processes, rows per process, batch per process, mode) of one workload."""
    n, batch = SHAPES[workload]
    return [
        ("strong-1", 1, 2 * n, 2 * batch, "comm"),
        ("weak-1", 1, n, batch, "comm"),
        ("both-2", 2, n, batch, "comm"),
        ("local-1", 1, n, batch, "local"),
    ]


def _measure(mpiexec: str, workloads: list[str], rounds: int, epochs: int) -> list[dict[str, Any]]:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(rounds):
            for workload in workloads:
                for name, size, rows, batch, mode in _configurations(workload):
                    out = Path(tmp) / f"{workload}-{name}-{turn}.json"
                    command = [mpiexec, "-n", str(size), sys.executable, __file__, "--epochs", str(epochs)]
                    command += ["--worker", workload, str(rows), str(batch), mode, str(out)]
                    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
                    subprocess.run(command, check=True, env=env, timeout=900)
                    run = json.loads(out.read_text())
                    runs.append({"workload": workload, "config": name, "round": turn, **run})
                    print(
                        f"round {turn + 1}/{rounds} {workload} {name}: {median(run['epoch_seconds']):.3f} s",
                        flush=True,
                    )
    return runs


def _worker(workload: str, rows: int, batch: int, mode: str, epochs: int, out: Path) -> None:
    """One process of a run: train ``epochs`` + 1 epochs, time the all-reduce, rank 0 writes."""
    set_threads(1)
    import numpy as np
    from mpi4py import MPI

    import mlp_xp

    world, sizes = MPI.COMM_WORLD, WORKLOADS[workload].sizes
    rank, size = world.Get_rank(), world.Get_size()
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=rows)
    model = mlp_xp.MLP(list(sizes), "relu", "softmax", seed=0)
    comm = world if mode == "comm" else None
    history = model.fit(x, y, loss="cross_entropy", lr=0.01, batch_size=batch, epochs=epochs + 1, comm=comm)
    slowest = np.max(world.allgather(history.time[1:]), axis=0).tolist()
    n_params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    allreduce = _allreduce_seconds(mlp_xp.communicator(world), n_params) if size > 1 else None
    exchange = _exchange_seconds(model, mlp_xp.communicator(world)) if mode == "comm" and size == 1 else None
    if rank == 0:
        steps = -(-rows // batch)
        found = {"processes": size, "rows": rows, "batch": batch, "mode": mode, "steps": steps}
        found.update(epoch_seconds=slowest, allreduce_seconds=allreduce, n_params=n_params)
        out.write_text(json.dumps({**found, "exchange_seconds": exchange}))


def _allreduce_seconds(comm: Any, n_params: int) -> list[float]:
    """Seconds of ``allreduce_sum`` of the flat buffer a step exchanges (parameters + 2, float32)."""
    import numpy as np

    buffer, seconds = np.ones(n_params + 2, dtype=np.float32), []
    for _ in range(ALLREDUCE_REPEATS + 1):
        comm.barrier()
        start = time.perf_counter()
        buffer = comm.allreduce_sum(buffer)
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


def _exchange_seconds(model: Any, comm: Any) -> list[float]:
    """Seconds of a step's whole exchange, ``reduce_sums`` on gradients shaped like the parameters."""
    from mlp_xp._data_parallel import reduce_sums

    grads, total, seconds = [*model.weights, *model.biases], model.xp.asarray(1.0), []
    for _ in range(ALLREDUCE_REPEATS + 1):
        start = time.perf_counter()
        reduce_sums(model.xp, comm, total, 256.0, grads)
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


def _rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per workload: medians of every configuration, efficiencies, the all-reduce's share of a step."""
    rows = []
    for workload in dict.fromkeys(run["workload"] for run in runs):
        mine = [run for run in runs if run["workload"] == workload]
        t = {
            c: median([s for r in mine if r["config"] == c for s in r["epoch_seconds"]]) for c in _names(mine)
        }
        two = next(r for r in mine if r["config"] == "both-2")
        allreduce = median([s for r in mine if r["config"] == "both-2" for s in r["allreduce_seconds"]])
        step = t["both-2"] / two["steps"]
        one = next(r for r in mine if r["config"] == "weak-1")
        exchange = median([s for r in mine if r["config"] == "weak-1" for s in r["exchange_seconds"]])
        buffer_bytes = 4 * (two["n_params"] + 2)
        rows.append(
            {
                "workload": workload,
                "layers": "-".join(map(str, WORKLOADS[workload].sizes)),
                "params": two["n_params"],
                "rows_per_process": two["rows"],
                "batch_per_process": two["batch"],
                "epoch_seconds": t,
                "strong_efficiency": t["strong-1"] / (2 * t["both-2"]),
                "strong_speedup": t["strong-1"] / t["both-2"],
                "weak_efficiency": t["weak-1"] / t["both-2"],
                "comm_path_overhead": t["weak-1"] / t["local-1"] - 1.0,
                "exchange_seconds_1": exchange,
                "exchange_share_of_step_1": exchange / (t["weak-1"] / one["steps"]),
                "step_seconds_2": step,
                "allreduce_seconds": allreduce,
                "allreduce_share_of_step": allreduce / step,
                "allreduce_bus_gb_per_s": 2 * (2 - 1) / 2 * buffer_bytes / allreduce / 1e9,
                "gflops_per_process_2": step_flops(WORKLOADS[workload].sizes, two["batch"]) / step / 1e9,
                "samples": sum(len(r["epoch_seconds"]) for r in mine if r["config"] == "both-2"),
            }
        )
    return rows


def _names(runs: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(run["config"] for run in runs))


def _markdown(env: dict[str, Any], args: argparse.Namespace, rows: list[dict[str, Any]]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    load = ", ".join(f"{v:.2f}" for v in env["load_average_at_start"])
    lines = [
        f"# Data-parallel scaling, 1 → 2 processes (MPI) — {env['cpu']}, {datetime.date.today().isoformat()}",
        "",
        f"{env['cores']} cores; one BLAS thread per process; float32, ReLU, softmax + cross-entropy, SGD, "
        f"shuffled batches; medians of {args.rounds} rounds × {args.epochs} epochs, the configurations "
        f"taking turns. Versions: {versions}. Load average at start: {load} (a shared machine: other "
        "work ran beside these measurements).",
        "",
        "| workload | params | rows, batch per process | epoch s: strong 1 / weak 1 / 2 processes | "
        "strong speedup | strong efficiency | weak efficiency |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for row in rows:
        t = row["epoch_seconds"]
        lines.append(
            f"| {row['workload']} {row['layers']} | {row['params']:,} | {row['rows_per_process']}, "
            f"{row['batch_per_process']} | {t['strong-1']:.3f} / {t['weak-1']:.3f} / {t['both-2']:.3f} | "
            f"{row['strong_speedup']:.2f}× | {row['strong_efficiency']:.0%} | {row['weak_efficiency']:.0%} |"
        )
    lines += [
        "",
        "| workload | step ms (2 processes) | all-reduce ms (2) | all-reduce ÷ step | bus GB/s | "
        "step's exchange on 1 process, ms | ÷ step | 1 process: epoch with comm ÷ without |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['workload']} | {1e3 * row['step_seconds_2']:.1f} | "
            f"{1e3 * row['allreduce_seconds']:.2f} | {row['allreduce_share_of_step']:.1%} | "
            f"{row['allreduce_bus_gb_per_s']:.2f} | "
            f"{1e3 * row['exchange_seconds_1']:.3f} | {row['exchange_share_of_step_1']:.2%} | "
            f"{1 + row['comm_path_overhead']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
