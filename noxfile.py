"""Test matrix: one ``tests`` session per backend, ``lint``, and ``gpu_dry_run``; ``deep`` on request.

python -m nox                      # every session (cupy skips without a CUDA GPU; jax on the CPU)
python -m nox -s "tests(numpy)"    # one backend
python -m nox -s tests -- -k xor   # arguments after -- go to pytest
python -m nox -s gpu_dry_run       # benchmarks/gpu_run.sh --dry-run: the GPU run's steps on the CPU
python -m nox -s deep              # the long runs (not in the default run)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests", "gpu_dry_run"]

# A CPU build of torch is all the tests need; PyPI's Linux wheels are CUDA
# builds of several GB.  Override with MLP_XP_TORCH_REQUIREMENT, and point pip
# at a CPU wheel index with PIP_EXTRA_INDEX_URL if yours has one.
TORCH_REQUIREMENT = os.environ.get("MLP_XP_TORCH_REQUIREMENT", "torch==2.13.0")
CUPY_REQUIREMENT = os.environ.get("MLP_XP_CUPY_EXTRA", "cuda12")
BACKENDS = ["numpy", "array_api_strict", "torch", "cupy", "jax"]


def _has_cuda_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


@nox.session
@nox.parametrize("backend", BACKENDS, ids=BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite on one backend."""
    if backend == "cupy" and not _has_cuda_gpu():
        session.skip("cupy needs a CUDA GPU and none is present (no nvidia-smi, no /dev/nvidia0)")
    session.install("-e", ".[test,jax]" if backend == "jax" else ".[test]")  # jax: its CPU build
    if backend == "torch":
        session.install(TORCH_REQUIREMENT)
    if backend == "cupy":
        session.install(f".[{CUPY_REQUIREMENT}]")
    session.run("pytest", *session.posargs, env={"MLP_XP_BACKENDS": backend})


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "mlp_xp", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "mlp_xp", "tests", "benchmarks", "noxfile.py")


@nox.session
def gpu_dry_run(session: nox.Session) -> None:
    """Run the prepared GPU run on the CPU (numpy, torch-CPU, tiny workloads); fail if a step fails."""
    project = nox.project.load_toml("pyproject.toml")["project"]
    extras = project["optional-dependencies"]
    # As on the GPU machine: the libraries are installed, the project is not (it runs from the
    # checkout), and array-api-compat and array-api-strict come as wheels from a folder.
    needs = [*project["dependencies"], *extras["test"], *extras["bench"]]
    session.install(*[n for n in needs if not n.startswith(("array-api", "torch"))], "pytest-timeout")
    session.install(TORCH_REQUIREMENT)
    tmp = Path(session.create_tmp())
    for stale in ("whl", "out"):  # one version of each wheel; this run's results only
        shutil.rmtree(tmp / stale, ignore_errors=True)
    session.run(
        "python", "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(tmp / "whl"),
        "array-api-compat", "array-api-strict",
    )  # fmt: skip
    session.run(
        "bash", "benchmarks/gpu_run.sh", "--dry-run", str(tmp / "out"),
        env={"MLP_XP_WHEELS": str(tmp / "whl")}, external=True,
    )  # fmt: skip


@nox.session
def deep(session: nox.Session) -> None:
    """The test suite on numpy with the long runs: 50,000 fuzzed model files."""
    session.install("-e", ".[test]")
    deep_counts = {"MLP_XP_FUZZ_FILES": os.environ.get("MLP_XP_FUZZ_FILES", "50000")}
    session.run("pytest", *session.posargs, env={"MLP_XP_BACKENDS": "numpy", **deep_counts})
