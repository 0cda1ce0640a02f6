"""Test matrix: one ``tests`` session per backend, and ``lint``; ``deep`` on request.

python -m nox                      # every session (cupy skips without a CUDA GPU)
python -m nox -s "tests(numpy)"    # one backend
python -m nox -s tests -- -k xor   # arguments after -- go to pytest
python -m nox -s deep              # the long runs (not in the default run)
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests"]

# A CPU build of torch is all the tests need; PyPI's Linux wheels are CUDA
# builds of several GB.  Override with MLP_XP_TORCH_REQUIREMENT, and point pip
# at a CPU wheel index with PIP_EXTRA_INDEX_URL if yours has one.
TORCH_REQUIREMENT = os.environ.get("MLP_XP_TORCH_REQUIREMENT", "torch==2.13.0")
CUPY_REQUIREMENT = os.environ.get("MLP_XP_CUPY_EXTRA", "cuda12")
BACKENDS = ["numpy", "array_api_strict", "torch", "cupy"]


def _has_cuda_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


@nox.session
@nox.parametrize("backend", BACKENDS, ids=BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite on one backend."""
    if backend == "cupy" and not _has_cuda_gpu():
        session.skip("cupy needs a CUDA GPU and none is present (no nvidia-smi, no /dev/nvidia0)")
    session.install("-e", ".[test]")
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
def deep(session: nox.Session) -> None:
    """The test suite on numpy with the long runs: 50,000 fuzzed model files."""
    session.install("-e", ".[test]")
    deep_counts = {"MLP_XP_FUZZ_FILES": os.environ.get("MLP_XP_FUZZ_FILES", "50000")}
    session.run("pytest", *session.posargs, env={"MLP_XP_BACKENDS": "numpy", **deep_counts})
