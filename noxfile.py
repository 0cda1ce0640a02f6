"""Test matrix: one ``tests`` session per backend, ``lint``, ``distributed`` and ``gpu_dry_run``;
``deep`` on request.

python -m nox                      # every session (cupy skips without a CUDA GPU; jax on the CPU)
python -m nox -s "tests(numpy)"    # one backend
python -m nox -s tests -- -k xor   # arguments after -- go to pytest
python -m nox -s distributed       # data-parallel fit under mpiexec -n 1, 2, 3 and torchrun (gloo)
python -m nox -s gpu_dry_run       # benchmarks/gpu_run.sh --dry-run: the GPU run's steps on the CPU
python -m nox -s deep              # the long runs (not in the default run)
python -m nox -s docs              # the site: docs/_build/html/index.html
python -m nox -s mutation          # mutation testing of the core (not in the default run)
"""

from __future__ import annotations

import collections
import os
import re
import shutil
from pathlib import Path

import nox

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests", "distributed", "gpu_dry_run", "docs"]

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
    """Check style and common mistakes with ruff, and the types of mlp_xp with mypy."""
    project = nox.project.load_toml("pyproject.toml")["project"]
    # mypy reads the types of the dependencies (NumPy, array-api-compat); the optional ones
    # are read as Any ([tool.mypy] in pyproject.toml), and the package itself from the checkout.
    session.install(*project["dependencies"], *project["optional-dependencies"]["lint"])
    session.run("ruff", "check", "mlp_xp", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "mlp_xp", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session
def distributed(session: nox.Session) -> None:
    """Data-parallel fit on real engines: MPI as wheels (mpi4py and the mpich runtime, whose
    mpiexec lands in the session's bin), torch.distributed's gloo; the jobs run under time limits."""
    session.install("-e", ".[test]", "mpi4py", "mpich")
    session.install(TORCH_REQUIREMENT)
    session.run("mpiexec", "--version", silent=True)
    session.run(
        "pytest",
        "tests/distributed",
        "-ra",
        *session.posargs,
        env={"MLP_XP_BACKENDS": "numpy,torch", "MLP_XP_REQUIRE_ENGINES": "1"},
    )


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
    """The long runs: the suite on numpy with 50,000 fuzzed model files and 5,000 random
    networks, then the random networks on array_api_strict and torch."""
    session.install("-e", ".[test]")
    session.install(TORCH_REQUIREMENT)
    deep_counts = {
        "MLP_XP_FUZZ_FILES": os.environ.get("MLP_XP_FUZZ_FILES", "50000"),
        "MLP_XP_PROPERTY_EXAMPLES": os.environ.get("MLP_XP_PROPERTY_EXAMPLES", "5000"),
    }
    session.run("pytest", *session.posargs, env={"MLP_XP_BACKENDS": "numpy", **deep_counts})
    # Networks of at most 32 units: one thread spares torch its synchronisation on each small product.
    session.run(
        "pytest", "tests/test_properties.py", *session.posargs,
        env={"MLP_XP_BACKENDS": "array_api_strict,torch", "OMP_NUM_THREADS": "1", **deep_counts},
    )  # fmt: skip


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site (gallery executed, warnings and broken references as errors)."""
    session.install("-e", ".[docs]")
    session.install(TORCH_REQUIREMENT)  # the gallery trains one model on every installed backend
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html", *session.posargs
    )


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the core modules on numpy with mutmut ([tool.mutmut] in pyproject.toml).

    Prints each module's score: the mutants killed among those not listed as surviving
    for a reason in tests/mutation/equivalent.md, then the survivors not listed there.
    Arguments after -- are mutant names or patterns (e.g. "mlp_xp.costs*") to run again.
    Results are kept in mutants/ (git-ignored): a later run tests only the mutants of
    functions that changed; delete the folder for a fresh run.
    """
    session.install("-e", ".[test]", "mutmut>=3.8")
    env = {"MLP_XP_BACKENDS": "numpy", "DASK_SCHEDULER": "synchronous"}  # dask's threads hang in forks
    session.run("mutmut", "run", *session.posargs, env=env)
    results = session.run("mutmut", "results", "--all", "true", env=env, silent=True) or ""
    listed = set(re.findall(r"`(\w+\.x\w+__mutmut_\d+)`", Path("tests/mutation/equivalent.md").read_text()))
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    unlisted = []
    for line in results.splitlines():
        name, _, status = line.strip().removeprefix("mlp_xp.").rpartition(": ")
        module = name.split(".")[0]
        counts[module]["mutants"] += 1
        counts[module]["killed" if status == "killed" else "listed" if name in listed else "other"] += 1
        if status != "killed" and name not in listed:
            unlisted.append(f"{name}: {status}")
    for module, count in sorted(counts.items()):
        score = count["killed"] / (count["mutants"] - count["listed"])
        session.log(
            f"{module}: {count['mutants']} mutants, {count['killed']} killed, "
            f"{count['listed']} listed as surviving for a reason: {score:.1%} of the others killed"
        )
    session.log(f"survivors not in tests/mutation/equivalent.md: {unlisted or 'none'}")
