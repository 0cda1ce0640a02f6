"""The site's prose pages stay true: their code runs, as written.

Every ```` ```python ```` block of a page under ``docs/`` runs, in order, in one
namespace per page and in a fresh folder, as a reader would run them; every
``$ mlp-xp ...`` line of a ```` ```console ```` block runs through the command
line's ``main`` in that folder and must succeed. A block that needs a library that
is not installed (an ``import``, or a ``backend=`` naming it) is skipped, and the
page's blocks after it, which may read what it defines. Sphinx is
not needed: the pages are read as text.
"""

import ast
import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp_xp
from mlp_xp import ACTIVATIONS, COSTS
from mlp_xp.cli import main

DOCS = Path(__file__).parents[1] / "docs"
GENERATED = ("_build", "auto_examples", "api/generated", "benchmarks/generated")
PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.relative_to(DOCS).as_posix().startswith(GENERATED))
FENCE = re.compile(r"^```(python|console)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BACKEND_MODULES = {"cupy": "cupy", "torch": "torch", "array_api_strict": "array_api_strict", "jax": "jax"}


def blocks(page: Path) -> list[tuple[str, str]]:
    """The page's (language, code) fenced blocks, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def needs(code: str) -> set[str]:
    """The top-level modules a Python block imports or names as a backend."""
    modules = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.keyword) and node.arg == "backend" and isinstance(node.value, ast.Constant):
            modules.add(BACKEND_MODULES.get(node.value.value, "numpy"))
    return modules


def installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.fixture
def registries():
    """User activations and costs registered by a page are forgotten after it."""
    saved = dict(ACTIVATIONS), dict(COSTS)
    yield
    for registry, before in zip((ACTIVATIONS, COSTS), saved):
        registry.clear()
        registry.update(before)


def name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=name)
def test_page_code_runs(page, tmp_path, monkeypatch, registries):
    monkeypatch.chdir(tmp_path)
    namespace, ran = {"__name__": "__docs__"}, 0
    for language, code in blocks(page):
        missing = sorted(m for m in needs(code) if not installed(m)) if language == "python" else []
        if missing and not ran:
            pytest.skip(f"{page.name} starts with a block that needs {', '.join(missing)}")
        if missing:
            break  # the blocks after it may read what it defines
        if language == "console":
            for line in code.splitlines():
                if line.startswith("$ mlp-xp "):
                    assert main(shlex.split(line)[2:]) == 0, line
                    ran += 1
            continue
        exec(compile(code, f"{page.name}, block {ran + 1}", "exec"), namespace)
        ran += 1
    assert ran, f"{page.name}: no block could run"


def test_the_cost_and_activation_tables_name_every_built_in():
    """The hand-written formula tables cover every built-in cost and activation."""
    text = (DOCS / "user_guide" / "costs_and_activations.md").read_text(encoding="utf-8")
    for name, entry in {**COSTS, **ACTIVATIONS}.items():
        module = getattr(getattr(entry, "value", None), "__module__", "")
        if module in ("mlp_xp.costs", "mlp_xp.activations"):
            assert f"| `{name}`" in text, f"{name} is missing from the page's tables"


def test_the_api_reference_lists_every_public_name():
    """A public name added to ``mlp_xp`` or to one of its subpackages (``estimators``, ``cli``)
    gets its page: one line in ``docs/api/index.rst``."""
    entries = set(re.findall(r"^   (\S+)$", (DOCS / "api" / "index.rst").read_text(encoding="utf-8"), re.M))
    public = {*mlp_xp.__all__, "MLPClassifier", "MLPRegressor"}
    for subpackage in ("estimators", "cli"):
        names = importlib.import_module(f"mlp_xp.{subpackage}").__all__
        public |= {f"{subpackage}.{name}" for name in names if name not in public}
    missing = public - entries
    assert not missing, f"add these to an autosummary list of docs/api/index.rst: {sorted(missing)}"


def test_the_pages_with_code_are_found():
    """A guard on the block parser: a page whose blocks it missed would not be tested."""
    found = {name(p) for p in PAGES if blocks(p)}
    assert {"getting_started.md", "user_guide/training.md", "user_guide/command_line.md"} <= found


MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(
    MPIEXEC is None or not installed("mpi4py"), reason="needs mpiexec and mpi4py (pip install mpi4py mpich)"
)
def test_the_distributed_script_runs_under_mpiexec(tmp_path, rng):
    """The distributed page's ``train.py`` (a ``code-block``, which a single process cannot run)
    trains under ``mpiexec -n 2`` on files of 128 rows and writes one model."""
    page = (DOCS / "user_guide" / "distributed.md").read_text(encoding="utf-8")
    script = re.search(r"```\{code-block\} python\n:caption: train\.py.*?\n\n(.*?)^```$", page, re.S | re.M)
    (tmp_path / "train.py").write_text(script.group(1), encoding="utf-8")
    np.save(tmp_path / "x.npy", rng.random((128, 784)))
    np.save(tmp_path / "y.npy", rng.integers(0, 10, size=128))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DOCS.parent), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "train.py"],
        cwd=tmp_path,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert job.returncode == 0, job.stderr[-4000:]
    model = mlp_xp.load(tmp_path / "model.npz")
    assert model.layer_sizes == [784, 256, 10] and model.n_updates == 10  # 64 rows a process: 1 step an epoch
