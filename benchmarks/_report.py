"""The record of a benchmark run: the machine it ran on, a markdown table, the JSON file.

Results go to ``benchmarks/results/<device>-<date>.json`` (the device from
``/proc/cpuinfo`` or the GPU's name), one file per device and day that collects
every configuration run that day, with a markdown table (and the CPU and GPU
targets, met or not) written next to it.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import json
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _harness import cores

RESULTS = Path(__file__).parent / "results"


# --- the machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model(gpu: str | None) -> str | None:
    if gpu == "cupy":
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
        return name.decode() if isinstance(name, bytes) else name
    if gpu == "torch":
        import torch

        return torch.cuda.get_device_name()
    return None


def environment(gpu: str | None, threads: dict[str, Any]) -> dict[str, Any]:
    """Machine, library versions and thread settings of this run."""
    versions = {"python": platform.python_version()}
    for name in ("mlp_xp", "numpy", "array_api_compat", "torch", "sklearn", "cupy", "threadpoolctl"):
        if importlib.util.find_spec(name) is not None:
            versions[name] = getattr(importlib.import_module(name), "__version__", "?")
    tf32 = None
    if gpu is not None and "torch" in versions:
        import torch

        # both libraries multiply float32 in full float32 unless told otherwise (TF32 off)
        tf32 = {
            "torch": torch.backends.cuda.matmul.allow_tf32,
            "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
            "CUPY_TF32": os.environ.get("CUPY_TF32"),
        }
    return {
        "cpu": cpu_model(),
        "cores": cores(),
        "gpu": gpu_model(gpu),
        "tf32": tf32,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "threads": threads,
        "versions": versions,
    }


def device_slug(env: dict[str, Any]) -> str:
    """'cpu-amd-epyc' or 'gpu-nvidia-h100-80gb-hbm3': the device part of a results file name."""
    kind, model = ("gpu", env["gpu"]) if env["gpu"] else ("cpu", env["cpu"])
    return kind + "-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


# --- reports -----------------------------------------------------------------------------

COLUMNS = (
    ("workload", "workload", "{}"),
    ("backend", "backend", "{}"),
    ("layers", "layers", "{}"),
    ("B", "batch", "{}"),
    ("N", "n", "{}"),
    ("dtype", "dtype", "{}"),
    ("contender", "contender", "{}"),
    ("samples/s", "samples_per_s", "{:,.0f}"),
    ("mlp_xp ÷ it", "mlp_xp_speedup", "{:.2f}×"),
    ("mlp_xp_torch ÷ it", "mlp_xp_torch_speedup", "{:.2f}×"),
    ("mlp_xp_kernels ÷ it", "mlp_xp_kernels_speedup", "{:.2f}×"),
    ("GEMM floor", "gemm_floor_efficiency", "{:.0%}"),
    ("GFLOP/s", "gflops", "{:.1f}"),
    ("peak MiB", "peak_mib", "{:.1f}"),
    ("÷ need", "memory_ratio", "{:.2f}"),
    ("check", "check", "{}"),
)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One markdown table of result rows (missing values are left blank)."""
    lines = [
        "| " + " | ".join(title for title, _, _ in COLUMNS) + " |",
        "|" + "|".join("---:" if fmt != "{}" else "---" for _, _, fmt in COLUMNS) + "|",
    ]
    for row in rows:
        dtype = row["dtype"] + (" (TF32)" if row.get("precision") == "tf32" else "")
        row = {**row, "layers": "-".join(map(str, row["sizes"])), "n": row["batch"] * row["steps_per_epoch"],
               "dtype": dtype}  # fmt: skip
        cells = [
            "" if row.get(key) is None else fmt.format(row[key]).replace(",", "\u202f")
            for _, key, fmt in COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


KEY = ("workload", "backend", "device", "dtype", "batch", "sizes", "contender", "sweep")
OURS = ("mlp_xp", "mlp_xp_torch", "mlp_xp_kernels")  # mlp_xp on the run's backend, on torch, with kernels


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    """What a row measures; a later row with the same key replaces it (N too in an N sweep)."""
    n = str(row["steps_per_epoch"]) if row.get("sweep") == "n" else ""
    return (*(str(row.get(k)) for k in KEY), row.get("precision", "float32"), n)


# (device kind, workload or None for any, batch sizes or None for any, contender, metric, bound,
#  "min" or "max", label).  A speedup metric is read off the contender's row, others off mlp_xp's.
TARGETS = (
    ("cpu", "T", (32,), "sklearn", "speedup", 3.0, "min", "≥ 3× scikit-learn"),
    ("cpu", "T", (32,), "torch", "speedup", 3.0, "min", "≥ 3× PyTorch eager"),
    ("cpu", "T", (256,), "sklearn", "speedup", 1.3, "min", "≥ 1.3× scikit-learn"),
    ("cpu", "C", (256,), "sklearn", "speedup", 1.3, "min", "≥ 1.3× scikit-learn"),
    ("cpu", "T", (256,), "torch", "speedup", 1.0, "min", "≥ 1.0× PyTorch eager"),
    ("cpu", "C", (256,), "torch", "speedup", 1.0, "min", "≥ 1.0× PyTorch eager"),
    ("cpu", "T", (256,), None, "gemm_floor_efficiency", 0.9, "min", "≥ 90 % of the GEMM floor"),
    ("cpu", "C", (256,), None, "gemm_floor_efficiency", 0.9, "min", "≥ 90 % of the GEMM floor"),
    ("cpu", "S", (32,), "native", "speedup", 0.9, "min", "≥ 0.9× the native loop"),
    ("cpu", "D", (32,), "native", "speedup", 0.9, "min", "≥ 0.9× the native loop"),
    ("cpu", "D", (32,), "sklearn", "speedup", 3.0, "min", "≥ 3× scikit-learn"),
    ("cpu", None, None, "native", "speedup", 0.98, "min", "abstraction cost ≤ 2 % vs the native loop"),
    ("cpu", None, None, None, "memory_ratio", 1.3, "max", "peak memory ≤ 1.3× need"),
    ("gpu", "L", (8192,), "torch", "speedup", 1.0, "min", "≥ 1.0× PyTorch eager"),
    ("gpu", "L", (8192,), None, "gemm_floor_efficiency", 0.95, "min", "≥ 95 % of the GEMM floor"),
    ("gpu", "M", (1024,), "torch", "speedup", 1.05, "min", "≥ 1.05× PyTorch eager"),
    ("gpu", "T", (256,), "torch", "speedup", 3.0, "min", "≥ 3× PyTorch eager"),
    ("gpu", "T", (256,), "torch_graph", "speedup", 1.0, "min", "≥ 1.0× PyTorch's whole-step CUDA graph"),
    ("gpu", None, None, None, "memory_ratio", 1.5, "max", "peak memory ≤ 1.5× need"),
    (None, None, None, None, "memory_later_ratio", 1.05, "max", "flat: epochs 2–4 peak ≤ 1.05× epoch 1"),
)


def device_kind(row: dict[str, Any]) -> str:
    return "cpu" if row["device"] == "cpu" else "gpu"


def targets_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The CPU and GPU targets against the measured float32 rows of the named workloads, for
    mlp_xp on the run's backend and, where they ran, on torch (``mlp_xp_torch``) and with
    the CuPy kernels (``mlp_xp_kernels``)."""
    lines = ["| workload | device | B | dtype | mlp_xp on | target | measured | met |"]
    lines.append("|---|---|---:|---|---|---|---:|---|")
    for row in rows:
        if row["sweep"] is not None or row["workload"] is None or row.get("precision") == "tf32":
            continue
        for kind, workload, batches, contender, metric, bound, sense, label in TARGETS:
            if kind not in (None, device_kind(row)) or workload not in (None, row["workload"]):
                continue
            if batches is not None and row["batch"] not in batches:
                continue
            # the native loop is written in the run's library: it measures mlp_xp on that one only
            for ours in [o for o in OURS if contender != "native" or o != "mlp_xp_torch"]:
                key = f"{ours}_speedup" if metric == "speedup" else metric
                if row["contender"] != (contender or ours) or row.get(key) is None:
                    continue
                value = row[key]
                met = value >= bound if sense == "min" else value <= bound
                on = {"mlp_xp": row["backend"], "mlp_xp_torch": "torch"}.get(ours, "cupy + kernels")
                lines.append(
                    f"| {row['workload']} | {row['device']} | {row['batch']} | {row['dtype']} | {on} | "
                    f"{label} | {value:.2f} | {'yes' if met else '**no**'} |"
                )
    return "## Targets\n\n" + "\n".join(lines) + "\n"


def save(record: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> Path:
    """Merge ``rows`` into ``out/<device>-<date>.json`` and rewrite the markdown next to it.

    Rows of an earlier run of the same day with the same workload, backend,
    dtype, batch size, layer sizes and contender are replaced, so one file per
    device and day collects every workload that was run.
    """
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{device_slug(record['environment'])}-{datetime.date.today().isoformat()}"
    path = out / f"{stem}.json"
    kept = json.loads(path.read_text())["rows"] if path.exists() else []
    new_keys = {row_key(r) for r in rows}
    record = {**record, "rows": [r for r in kept if row_key(r) not in new_keys] + rows}
    path.write_text(json.dumps(record, indent=1) + "\n")
    env = record["environment"]
    header = (
        f"# Training-step throughput — {env['gpu'] or env['cpu']}, {env['cores']} cores, "
        f"{datetime.date.today().isoformat()}\n\n"
        f"Threads: {env['threads']['requested']} (BLAS and PyTorch). Versions: "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f". Load average at start: {', '.join(f'{v:.2f}' for v in env['load_average_at_start'])}.\n\n"
    )
    table = markdown(record["rows"]) + "\n\n" + targets_markdown(record["rows"])
    path.with_suffix(".md").write_text(header + table)
    return path
