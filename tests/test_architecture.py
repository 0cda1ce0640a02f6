"""Structural promises: the math speaks only the Array API; fit reads the device once per epoch."""

import ast
from pathlib import Path

import numpy as np
import pytest

import mlp_xp
from mlp_xp import training

PACKAGE = Path(mlp_xp.__file__).parent
# The edge: the only modules that may know array libraries by name (backends,
# host data sets, memory-maps and sparse matrices read a batch at a time, the .npz
# file format, plotting grids, communicators, compilers, ONNX export).
EDGE = {
    "_backend.py",
    "_comm.py",
    "_compile.py",
    "_engines.py",
    "_host_data.py",
    "_kernels_cupy.py",
    "_onnx.py",
    "_model_file.py",
    "_model_metadata.py",
    "_npz.py",
    "datasets.py",
    "persistence.py",
    "plots.py",
}
LIBRARIES = {"numpy", "cupy", "cupyx", "torch", "array_api_strict", "jax", "scipy", "ndonnx"}


MODULES = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


def test_every_module_is_checked():
    assert "estimators/_base.py" in MODULES and "training.py" in MODULES


@pytest.mark.parametrize("module", [m for m in MODULES if m not in EDGE])
def test_math_imports_no_array_library(module):
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
    }
    assert not imported & LIBRARIES, f"{module} imports {imported & LIBRARIES}; only {EDGE} may"


@pytest.mark.parametrize("source", ["array", "memmap"])
def test_fit_reads_the_device_once_per_epoch(monkeypatch, rng, tmp_path, source):
    """Counted on array_api_strict: every scalar read of an array (float, bool, int)
    goes through these methods, and the loop's one transfer per epoch through
    ``host_floats``. The data checks read a few booleans once per fit; the loop
    itself makes one transfer per epoch, whatever the number of batches, even
    with validation data and an L2 penalty, and with batches read from a
    memory-map and moved to the device one by one."""
    xs = pytest.importorskip("array_api_strict")
    reads = []
    array_type = type(xs.asarray(0.0))
    for method in ("__float__", "__bool__", "__int__", "__index__"):
        original = getattr(array_type, method)
        monkeypatch.setattr(
            array_type, method, lambda self, _f=original, _m=method: reads.append(_m) or _f(self)
        )
    transfers = []
    monkeypatch.setattr(
        training,
        "host_floats",
        lambda xp, values, _f=training.host_floats: transfers.append(1) or _f(xp, values),
    )
    x, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    options = dict(loss="cross_entropy", batch_size=4, alpha=1e-3, validation_data=(x[:8], y[:8]))
    if source == "memmap":
        np.save(tmp_path / "x.npy", x)
        x = np.load(tmp_path / "x.npy", mmap_mode="r")
    model = mlp_xp.MLP([3, 4, 2], "relu", "softmax", backend="array_api_strict", seed=0)
    model.fit(x, y, epochs=1, **options)
    checks = len(reads)
    reads.clear()
    transfers.clear()
    history = model.fit(x, y, epochs=6, **options)
    assert len(transfers) == 6 == history.n_epochs
    assert len(reads) == checks
    assert "__float__" not in reads


# --- Layering: no import cycle, no imports hidden in functions ------------------------------

# What functions may import: optional dependencies, where they are needed.
OPTIONAL = {
    "sklearn",
    "matplotlib",
    "tqdm",
    "mlp_xp.estimators",
    "mpi4py",
    "torch",
    "cupy",
    "cupyx",
    "ndonnx",
    "jax",
}


def _imports(source: str, module: str) -> tuple[set[str], set[str]]:
    """(mlp_xp modules imported on import of ``module``, everything imported in its functions)."""
    package = ["mlp_xp", *Path(module).parent.parts]
    tree = ast.parse(source)
    on_import = {id(node) for node in _run_on_import(tree.body)}
    top, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            names = [_module_of(base, alias.name) for alias in node.names]
        else:
            continue
        (top if id(node) in on_import else nested).update(names)
    return {name for name in top if name.split(".")[0] == "mlp_xp"}, nested


def _run_on_import(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements run on import: the module's, and those of its top-level if/try blocks."""
    found = []
    for node in body:
        found.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            blocks = [node.body, node.orelse, getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            found.extend(_run_on_import([statement for block in blocks for statement in block]))
    return found


def _module_of(base: str, name: str) -> str:
    """``from base import name``: the submodule ``base.name`` if there is one, else ``base``."""
    if base.split(".")[0] != "mlp_xp":
        return base
    candidate = PACKAGE.joinpath(*base.split(".")[1:], name)
    return f"{base}.{name}" if candidate.with_suffix(".py").exists() or candidate.is_dir() else base


def _dotted(module: str) -> str:
    parts = ["mlp_xp", *Path(module).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, str] = {}

    def visit(path: list[str]) -> list[str] | None:
        state[path[-1]] = "open"
        for imported in sorted(graph.get(path[-1], ())):
            if state.get(imported) == "open":
                return [*path[path.index(imported) :], imported]
            found = None if imported in state else visit([*path, imported])
            if found:
                return found
        state[path[-1]] = "done"
        return None

    return next(filter(None, (visit([m]) for m in sorted(graph) if m not in state)), None)


def _package_imports(module: str) -> tuple[set[str], set[str]]:
    return _imports((PACKAGE / module).read_text(encoding="utf-8"), module)


def test_the_package_has_no_import_cycle():
    graph = {_dotted(module): _package_imports(module)[0] for module in MODULES}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"
    # The model file below the model, load above both.
    assert "mlp_xp._model_file" in graph["mlp_xp.persistence"]
    assert "mlp_xp.persistence" in graph["mlp_xp.model"] and "mlp_xp.model" in graph["mlp_xp.io"]


@pytest.mark.parametrize("module", MODULES)
def test_functions_import_only_optional_dependencies(module):
    hidden = {name for name in _package_imports(module)[1] if name.split(".")[0] not in OPTIONAL}
    hidden -= OPTIONAL
    assert not hidden, f"{module} imports {sorted(hidden)} inside a function: import it at module level"


def test_the_import_checks_see_cycles_and_hidden_imports():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    source = """
from . import _arrays
from ..model import MLP
try:
    import numpy
except ImportError:
    pass
def f():
    from ..persistence import save
    import tqdm
"""
    top, nested = _imports(source, "estimators/_example.py")
    assert top == {"mlp_xp.estimators._arrays", "mlp_xp.model"}
    assert nested == {"mlp_xp.persistence", "tqdm"}
