"""Structural promises: the math speaks only the Array API; fit reads the device once per epoch."""

import ast
from pathlib import Path

import pytest

import mlp_xp
from mlp_xp import training

PACKAGE = Path(mlp_xp.__file__).parent
# The edge: the only modules that may know array libraries by name (backends,
# host data sets, the .npz file format, plotting grids).
EDGE = {"_backend.py", "_model_file.py", "_npz.py", "datasets.py", "persistence.py", "plots.py"}
LIBRARIES = {"numpy", "cupy", "torch", "array_api_strict", "jax"}


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


def test_fit_reads_the_device_once_per_epoch(monkeypatch, rng):
    """Counted on array_api_strict: every scalar read of an array (float, bool, int)
    goes through these methods, and the loop's one transfer per epoch through
    ``host_floats``. The data checks read a few booleans once per fit; the loop
    itself makes one transfer per epoch, whatever the number of batches, even
    with validation data and an L2 penalty."""
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
    model = mlp_xp.MLP([3, 4, 2], "relu", "softmax", backend="array_api_strict", seed=0)
    options = dict(loss="cross_entropy", batch_size=4, alpha=1e-3, validation_data=(x[:8], y[:8]))
    model.fit(x, y, epochs=1, **options)
    checks = len(reads)
    reads.clear()
    transfers.clear()
    history = model.fit(x, y, epochs=6, **options)
    assert len(transfers) == 6 == history.n_epochs
    assert len(reads) == checks
    assert "__float__" not in reads
