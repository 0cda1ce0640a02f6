"""Data-parallel fit on the real engines: ``worker.py`` under ``mpiexec -n 1, 2, 3`` (mpi4py,
NumPy) and under torchrun with 2 processes (torch.distributed's gloo, backend torch).

Each job runs under a time limit, so that a hang fails the test instead of stalling
the run.  Skipped where mpiexec and mpi4py (or torch.distributed) are missing; the
nox session ``distributed`` installs them (``pip install mpi4py mpich``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cases import CASES
from conftest import BACKENDS

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
WORKER = HERE / "worker.py"
TIMEOUT = 240  # seconds for one job: the three of them take about 10 s on two cores
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
HAS_MPI = MPIEXEC is not None and importlib.util.find_spec("mpi4py") is not None
# The MPI jobs train NumPy models, the torch.distributed ones torch models: each runs with its backend.
needs_mpi = pytest.mark.skipif(
    not HAS_MPI or "numpy" not in BACKENDS,
    reason="needs mpiexec and mpi4py (pip install mpi4py mpich) and the numpy backend",
)


def _has_gloo() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_gloo_available()


HAS_GLOO = "torch" in BACKENDS and _has_gloo()
needs_gloo = pytest.mark.skipif(not HAS_GLOO, reason="needs the torch backend with torch.distributed's gloo")


def launch(command: list[str], timeout: float = TIMEOUT, **variables: str) -> subprocess.CompletedProcess:
    """Run a job; a job still running after ``timeout`` seconds fails the test as a hang."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", **variables)
    try:
        return subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{' '.join(command)} hung: still running after {timeout} s\n{expired.stderr}")


def mpiexec(size: int, *arguments: str) -> list[str]:
    return [MPIEXEC, "-n", str(size), sys.executable, str(WORKER), *arguments]


def torchrun(size: int, *arguments: str) -> list[str]:
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={size}"]
    return [*run, str(WORKER), *arguments]


def results(outdir: Path, job: subprocess.CompletedProcess, size: int) -> list[dict]:
    assert job.returncode == 0, job.stderr[-4000:]
    return [json.loads((outdir / f"rank{rank}.json").read_text(encoding="utf-8")) for rank in range(size)]


def test_the_engines_are_there_where_the_run_needs_them():
    """The nox session sets MLP_XP_REQUIRE_ENGINES=1: there, a missing engine fails instead of skipping."""
    if os.environ.get("MLP_XP_REQUIRE_ENGINES") != "1":
        pytest.skip("MLP_XP_REQUIRE_ENGINES=1 is not set")
    assert HAS_MPI, "mpiexec or mpi4py is missing"
    assert HAS_GLOO, "torch.distributed's gloo is missing (or torch is not in MLP_XP_BACKENDS)"
    assert "numpy" in BACKENDS


@pytest.fixture(scope="module", params=[1, 2, 3], ids=["mpiexec-n1", "mpiexec-n2", "mpiexec-n3"])
def mpi_job(request, tmp_path_factory):
    if not HAS_MPI or "numpy" not in BACKENDS:
        pytest.skip("needs mpiexec and mpi4py (pip install mpi4py mpich) and the numpy backend")
    outdir = tmp_path_factory.mktemp(f"mpi{request.param}")
    return request.param, results(outdir, launch(mpiexec(request.param, str(outdir), "cases")), request.param)


@pytest.fixture(scope="module")
def torch_job(tmp_path_factory):
    if not HAS_GLOO:
        pytest.skip("needs the torch backend with torch.distributed's gloo")
    outdir = tmp_path_factory.mktemp("torch2")
    return 2, results(outdir, launch(torchrun(2, str(outdir), "cases", "--engine", "torch")), 2)


def check_cases(size: int, found: list[dict]) -> None:
    """Every process holds the same bits, equal (to rounding) to one process on the global batches."""
    for name, case in CASES.items():
        runs = [process["cases"][name] for process in found]
        assert all(run["params"] == runs[0]["params"] for run in runs), f"{name}: processes differ"
        reference, histories = case.reference(size)
        want = [np.asarray(p).tolist() for p in (*reference.weights, *reference.biases)]
        for got, expected in zip(runs[0]["params"], want):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13, err_msg=name)
        for got, expected in zip(runs[0]["histories"], histories):
            assert got["best_epoch"] == expected.best_epoch and len(got["loss"]) == expected.n_epochs
            for key in ("loss", "val_loss", "grad_norm"):
                np.testing.assert_allclose(got[key], getattr(expected, key), rtol=1e-10, atol=1e-13)


def check_the_rest(size: int, found: list[dict]) -> None:
    steps = [process["steps"] for process in found]
    assert len(steps[0]) == 2 * -(-max({1: [22], 2: [12, 10], 3: [8, 8, 6]}[size]) // 3)
    assert all(s == steps[0] for s in steps), "the parameters differ between processes after a step"
    for rank, process in enumerate(found):
        if size > 1:
            expected = "x contains NaN" if rank == 1 else f"process 1 of {size} refused its input"
            assert expected in process["invalid"] and process["invalid"].endswith("updates 0")
        assert process["save"]["same"] and process["save"]["path"] == found[0]["save"]["path"]
        estimator = process["estimator"]
        classes = ["a", "b"] if size == 1 else ["a", "b", "c"]
        assert estimator["classes"] == classes and estimator["clone_keeps_comm"]
        assert estimator["coefs"] == found[0]["estimator"]["coefs"]


@needs_mpi
def test_mpi_fit_equals_one_process(mpi_job):
    size, found = mpi_job
    check_cases(size, found)


@needs_mpi
def test_mpi_steps_errors_save_and_estimators(mpi_job):
    check_the_rest(*mpi_job)


@needs_gloo
def test_torch_distributed_fit_equals_one_process(torch_job):
    check_cases(*torch_job)


@needs_gloo
def test_torch_distributed_steps_errors_save_and_estimators(torch_job):
    check_the_rest(*torch_job)


@needs_mpi
def test_an_error_on_one_mpi_process_aborts_the_job_with_its_reason(tmp_path):
    job = launch(mpiexec(2, str(tmp_path), "crash"), timeout=120)
    assert job.returncode != 0
    assert "process 1 of 2 failed during training; aborting all 2 processes" in job.stderr
    assert "RuntimeError: rank 1 ran out of disk" in job.stderr


@needs_gloo
def test_an_error_on_one_torch_process_ends_the_job_with_its_reason(tmp_path):
    job = launch(torchrun(2, str(tmp_path), "crash", "--engine", "torch"), timeout=180)
    assert job.returncode != 0
    assert "RuntimeError: rank 1 ran out of disk" in job.stderr + job.stdout


# ------------------------------------------------------------------ on CUDA GPUs
# Not yet run on a GPU: the paths they test (CuPy and torch CUDA arrays through MPI,
# nccl) are written, and these tests are what a GPU run executes.


def _gpus(library: str) -> int:
    """The number of CUDA devices that ``library`` (cupy or torch) sees; 0 without it."""
    if importlib.util.find_spec(library) is None:
        return 0
    try:
        if library == "cupy":
            import cupy

            return cupy.cuda.runtime.getDeviceCount()
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # no driver, no device
        return 0


def _on_gpus(library: str, count: int, mpi: bool = True) -> pytest.MarkDecorator:
    missing = [f"{count} CUDA GPU(s) seen by {library}"] if _gpus(library) < count else []
    missing += ["mpiexec and mpi4py"] if mpi and not HAS_MPI else []
    return pytest.mark.skipif(bool(missing), reason=f"needs {' and '.join(missing)} (not yet run on a GPU)")


def _mpi_takes_cuda_memory() -> bool:
    query = (
        "from mpi4py import MPI; from mlp_xp._engines import _takes_cuda_memory; "
        "print(_takes_cuda_memory(MPI.COMM_WORLD))"
    )
    return (
        launch([sys.executable, "-c", query], timeout=60, MLP_XP_CUDA_AWARE_MPI="").stdout.strip() == "True"
    )


def check_gpu_job(tmp_path: Path, command: list[str], **variables: str) -> None:
    found = results(tmp_path, launch(command, **variables), 2)
    check_cases(2, found)
    check_the_rest(2, found)


@_on_gpus("cupy", 1)
@pytest.mark.parametrize("cuda_aware", ["0", "1"], ids=["pinned-host", "cuda-aware"])
def test_mpi_with_cupy_arrays(cuda_aware, tmp_path):
    """Two processes (on one GPU, or one each): CuPy buffers staged through pinned host memory,
    or handed to MPI as they are where the MPI library takes CUDA memory."""
    if cuda_aware == "1" and not _mpi_takes_cuda_memory():
        pytest.skip("the MPI library does not take CUDA memory (mpi_memory_alloc_kinds names no cuda)")
    command = mpiexec(2, str(tmp_path), "cases", "--backend", "cupy")
    check_gpu_job(tmp_path, command, MLP_XP_CUDA_AWARE_MPI=cuda_aware)


@_on_gpus("torch", 1)
def test_mpi_with_torch_cuda_tensors(tmp_path):
    command = mpiexec(2, str(tmp_path), "cases", "--backend", "torch", "--device", "cuda")
    check_gpu_job(tmp_path, command, MLP_XP_CUDA_AWARE_MPI="0")


@_on_gpus("torch", 2, mpi=False)
def test_torch_distributed_nccl(tmp_path):
    """nccl needs one GPU per process."""
    check_gpu_job(tmp_path, torchrun(2, str(tmp_path), "cases", "--engine", "torch", "--device", "cuda"))


@_on_gpus("cupy", 2)
def test_cupy_nccl(tmp_path):
    """cupyx.distributed's NCCLBackend, bootstrapped by MPI, one GPU per process."""
    check_gpu_job(tmp_path, mpiexec(2, str(tmp_path), "cases", "--engine", "nccl", "--backend", "cupy"))


# ------------------------------------------------------------------ the command line

CLI = ["-m", "mlp_xp", "train", "--data", "moons", "--batch-size", "full", "--epochs", "20", "--lr", "0.5"]


def _cli_reference(tmp_path: Path) -> list[np.ndarray]:
    """The same training on one process: full-batch gradient descent over every training row."""
    from mlp_xp.cli import main

    assert main([*CLI[2:], "--quiet", "--save", str(tmp_path / "one.npz")]) == 0
    return _parameters(tmp_path / "one.npz")


def _parameters(path: Path) -> list[np.ndarray]:
    import mlp_xp

    model = mlp_xp.load(path)
    return [np.asarray(p) for p in (*model.weights, *model.biases)]


def check_cli_job(job: subprocess.CompletedProcess, tmp_path: Path, size: int) -> None:
    """Rank 0 alone prints and writes; the model is the one-process model (float32 rounding)."""
    assert job.returncode == 0, job.stderr[-4000:]
    assert job.stdout.count("final training loss") == 1, job.stdout
    assert f"data-parallel on {size} processes" in job.stdout and job.stdout.count("saved the model") == 1
    for got, want in zip(_parameters(tmp_path / "many.npz"), _cli_reference(tmp_path)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


@needs_mpi
def test_the_command_line_trains_under_mpiexec(tmp_path):
    command = [
        MPIEXEC,
        "-n",
        "3",
        sys.executable,
        *CLI,
        "--distributed",
        "mpi",
        "--save",
        str(tmp_path / "many.npz"),
    ]
    check_cli_job(launch(command), tmp_path, 3)


@needs_gloo
def test_the_command_line_trains_under_torchrun(tmp_path):
    run = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "-m",
        "mlp_xp",
    ]
    command = [*run, *CLI[2:], "--distributed", "torch", "--save", str(tmp_path / "many.npz")]
    check_cli_job(launch(command), tmp_path, 2)
