"""The benchmark harness's GPU paths: on the CPU through stand-ins for CUDA, on a GPU for real.

``benchmarks/`` is a folder of scripts, not a package: its modules are
imported from it by name, as the scripts import each other.  The stand-ins
replace attributes of the real ``torch.cuda`` with ``monkeypatch.setattr``,
which fails on a name torch does not have; CuPy, absent on the CPU, is a
small module of the calls the harness makes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mlp_xp.datasets

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
MODULES = ("_harness", "_problem", "_contenders", "_report", "train_step")


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield types.SimpleNamespace(**{name.lstrip("_"): importlib.import_module(name) for name in MODULES})
    finally:
        sys.path.remove(str(BENCHMARKS))


def fake_cupy(calls: list[str], pool: object) -> types.ModuleType:
    """CuPy as far as the harness uses it: device synchronisation, the memory pool, device names."""
    device = types.SimpleNamespace(id=0, synchronize=lambda: calls.append("cupy sync"))
    runtime = types.SimpleNamespace(getDeviceProperties=lambda i: {"name": b"Fake GPU"})
    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(Device=lambda: device, runtime=runtime)
    module.get_default_memory_pool = lambda: pool
    return module


class FakePool:
    """A memory pool that keeps freed blocks until ``free_all_blocks``, as CuPy's does."""

    def __init__(self, used: int, cached: int) -> None:
        self.used, self.cached = used, cached

    def free_all_blocks(self) -> None:
        self.cached = 0

    def used_bytes(self) -> int:
        return self.used

    def total_bytes(self) -> int:
        return self.used + self.cached

    def allocate(self, n: int) -> None:
        taken = min(n, self.cached)
        self.cached -= taken
        self.used += n

    def free(self, n: int) -> None:
        self.used -= n
        self.cached += n


def test_gpu_timer_waits_for_every_cuda_library_before_and_after_the_call(bench, monkeypatch):
    torch = pytest.importorskip("torch")
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(calls, FakePool(0, 0)))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: calls.append("torch sync"))
    seconds, result = bench.harness.clock("cupy")(lambda x: calls.append("work") or x + 1, 1)
    assert result == 2 and seconds >= 0.0
    assert calls == ["cupy sync", "torch sync", "work", "cupy sync", "torch sync"]
    calls.clear()
    bench.harness.clock(None)(lambda: calls.append("work"))
    assert calls == ["work"]


def test_cupy_peak_memory_is_the_pools_growth_over_what_was_in_use(bench, monkeypatch):
    pool = FakePool(used=100, cached=50)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy([], pool))

    def epoch():
        pool.allocate(30)
        pool.free(30)
        pool.allocate(10)  # from the freed block: the pool does not grow

    memory = bench.harness.peak_memory(epoch, "cupy")
    assert (memory["growth_bytes"], memory["retained_bytes"]) == (30, 10)


def test_torch_peak_memory_reads_the_allocators_counters(bench, monkeypatch):
    torch = pytest.importorskip("torch")
    counters = {"allocated": 100, "peak": 400}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    reset = lambda: counters.update(peak=counters["allocated"])  # noqa: E731
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda: counters["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: counters["peak"])

    def epoch():
        counters.update(peak=counters["allocated"] + 70, allocated=counters["allocated"] + 5)

    memory = bench.harness.peak_memory(epoch, "torch")
    assert (memory["growth_bytes"], memory["retained_bytes"]) == (70, 5)


def test_gpu_model_names_the_cupy_device(bench, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy([], FakePool(0, 0)))
    assert bench.report.gpu_model("cupy") == "Fake GPU"
    assert bench.report.device_slug({"gpu": "NVIDIA H200", "cpu": "x"}) == "gpu-nvidia-h200"


@pytest.fixture
def eager_cuda_graphs(monkeypatch):
    """torch.cuda's streams and graphs as stand-ins on the CPU: streams are no-ops, and a
    captured step runs once, when captured (the real capture runs nothing: the contender
    undoes its warm-up either way); ``replay`` is for the test to set."""
    torch = pytest.importorskip("torch")
    stream = types.SimpleNamespace(wait_stream=lambda other: None)
    monkeypatch.setattr(torch.cuda, "Stream", lambda: stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: stream)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: types.SimpleNamespace(replay=None))
    monkeypatch.setattr(torch.cuda, "graph", lambda g: contextlib.nullcontext())


@pytest.mark.usefixtures("eager_cuda_graphs")
def test_whole_step_graph_steps_as_the_native_loop(bench):
    """The graph contender's static buffers (row indices, parameters, loss sum) carry each
    step's batch and result, and its warm-up and capture leave the initial weights."""
    p = bench.problem.Problem((6, 5, 4, 3), 4, 3, "float64", 0.1, 0, "numpy", "cpu")
    graphed = bench.contenders.make("torch_graph", p)
    for got, start in zip([*graphed.parameters()[0], *graphed.parameters()[1]], [*p.weights, *p.biases]):
        np.testing.assert_array_equal(got, start)
    graphed.graph.replay = graphed.captured_step  # the stand-in graph replays eagerly
    native = bench.contenders.make("native", p)
    batches = [p.order(0)[i * p.batch : (i + 1) * p.batch] for i in range(p.steps)]
    np.testing.assert_allclose(graphed.train(batches), native.train(batches), rtol=1e-12)
    for got, want in zip(graphed.parameters(), native.parameters()):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(float(graphed.epoch(1)), float(native.epoch(1)), rtol=1e-12)


def test_contenders_by_device(bench, monkeypatch):
    torch = pytest.importorskip("torch")
    names = bench.contenders.contender_names
    cpu = bench.problem.Problem((6, 5, 3), 4, 3, "float32", 0.1, 0, "numpy", "cpu")
    on_cpu = names(cpu, None)
    assert {"mlp_xp", "mlp_xp_torch", "native", "torch", "floor_numpy", "floor_torch"} <= set(on_cpu)
    assert "torch_graph" not in on_cpu
    gpu = bench.problem.Problem((6, 5, 3), 4, 3, "float32", 0.1, 0, "cupy", "cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert names(gpu, "cupy") == [
        "mlp_xp", "native", "mlp_xp_kernels", "mlp_xp_torch", "torch", "torch_graph", "floor_cupy",
        "floor_torch",
    ]  # fmt: skip
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU build of torch beside CuPy
    assert names(gpu, "cupy") == ["mlp_xp", "native", "mlp_xp_kernels", "floor_cupy"]


def test_gpu_targets_are_judged_for_mlp_xp_on_each_backend(bench):
    def row(contender, **ratios):
        return {"workload": "T", "device": "cuda:0", "batch": 256, "dtype": "float32", "sweep": None,
                "backend": "cupy", "contender": contender, **ratios}  # fmt: skip

    table = bench.report.targets_markdown(
        [row("torch", mlp_xp_speedup=3.2, mlp_xp_torch_speedup=1.1), row("torch_graph", mlp_xp_speedup=0.9)]
    )
    assert "| T | cuda:0 | 256 | float32 | cupy | ≥ 3× PyTorch eager | 3.20 | yes |" in table
    assert "| T | cuda:0 | 256 | float32 | torch | ≥ 3× PyTorch eager | 1.10 | **no** |" in table
    assert "| cupy | ≥ 1.0× PyTorch's whole-step CUDA graph | 0.90 | **no** |" in table


def _cuda_backend() -> str | None:
    """'cupy' or 'torch' if that library reaches a CUDA device (torch needed for the references)."""
    torch = importlib.util.find_spec("torch") and importlib.import_module("torch")
    if not torch or not torch.cuda.is_available():
        return None
    try:
        return "cupy" if importlib.import_module("cupy").cuda.runtime.getDeviceCount() else "torch"
    except Exception:  # no CuPy, or CuPy without a driver: torch alone
        return "torch"


def test_benchmark_runs_on_the_gpu(bench, tmp_path):
    """One small configuration through the script: every contender (the whole-step graph
    included) matches the native loop, is timed, and has its memory measured."""
    backend = _cuda_backend()
    if backend is None:
        pytest.skip("needs torch with a CUDA device")
    bench.train_step.main(
        ["--backend", backend, "--device", "cuda:0", "--sizes", "32,64,64,10", "--batch-size", "16",
         "--steps", "4", "--repeats", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    (path,) = tmp_path.glob("gpu-*.json")
    rows = {row["contender"]: row for row in json.loads(path.read_text())["rows"]}
    assert {"mlp_xp", "native", "torch", "torch_graph", f"floor_{backend}"} <= set(rows)
    assert backend == "torch" or {"mlp_xp_torch", "mlp_xp_kernels"} <= set(rows)
    for name, row in rows.items():
        assert row["step_s"] > 0
        if not name.startswith("floor_"):
            assert row["check"] in ("ok", "ref."), (name, row["check_detail"])
        if not name.startswith("floor_") and name != bench.train_step.LOOP:  # the loop: mlp_xp's epochs
            assert row["memory"]["growth_bytes"] > 0, name


def test_tf32_is_set_once_for_every_contender_and_only_on_a_gpu(bench, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    precisions: list[str] = []
    monkeypatch.setattr(torch, "set_float32_matmul_precision", precisions.append)
    monkeypatch.setenv("CUPY_TF32", "0")
    assert bench.harness.set_precision("tf32", "cupy") == "tf32"
    assert os.environ["CUPY_TF32"] == "1" and precisions == ["high"]
    assert bench.harness.set_precision("float32", "torch") == "float32"
    assert os.environ["CUPY_TF32"] == "0" and precisions == ["high", "highest"]
    assert bench.harness.set_precision("tf32", None) == "float32"  # the CPU has no TF32: said, not done
    assert "CUDA GPUs only" in capsys.readouterr().err and precisions == ["high", "highest"]


def test_tf32_rows_are_kept_apart_and_the_targets_judge_float32(bench):
    row = {"workload": "L", "device": "cuda:0", "batch": 8192, "dtype": "float32", "sweep": None,
           "backend": "cupy", "contender": "torch", "mlp_xp_speedup": 1.2, "sizes": [4, 2],
           "steps_per_epoch": 3}  # fmt: skip
    tf32 = {**row, "precision": "tf32", "mlp_xp_speedup": 0.5}
    assert bench.report.row_key(row) != bench.report.row_key(tf32)
    assert bench.report.row_key(row) == bench.report.row_key({**row, "precision": "float32"})
    table = bench.report.targets_markdown([row, tf32])
    assert "| 1.20 | yes |" in table and "0.50" not in table
    assert "float32 (TF32)" in bench.report.markdown([tf32])


def test_the_digits_workload_trains_on_the_digits_repeated(bench):
    pytest.importorskip("sklearn")
    p = bench.problem.Problem((64, 64, 10), 32, 50, "float32", 0.1, 0, "numpy", "cpu", data="digits")
    x, _, labels, _ = mlp_xp.datasets.digits()
    assert p.x.shape == (1600, 64) and p.x.dtype == np.float32
    np.testing.assert_array_equal(p.x[: len(x)], x.astype(np.float32))
    np.testing.assert_array_equal(p.x[len(x) :], x[: 1600 - len(x)].astype(np.float32))
    np.testing.assert_array_equal(p.labels, np.resize(labels, 1600))
