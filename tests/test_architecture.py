"""Structural promises: the math speaks only the Array API; fit reads the device once per epoch."""

import ast
from pathlib import Path

import pytest

import mlp_xp

PACKAGE = Path(mlp_xp.__file__).parent
# The edge: the only modules that may know array libraries by name.
EDGE = {"_backend.py", "datasets.py", "__main__.py"}
LIBRARIES = {"numpy", "cupy", "torch", "array_api_strict", "jax"}


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in EDGE))
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
    """Counted on array_api_strict: every host read of an array (float, bool, int) goes
    through these methods. The data checks read a few booleans once per fit; the
    loop itself reads one float per epoch, whatever the number of batches."""
    xs = pytest.importorskip("array_api_strict")
    reads = []
    array_type = type(xs.asarray(0.0))
    for method in ("__float__", "__bool__", "__int__", "__index__"):
        original = getattr(array_type, method)
        monkeypatch.setattr(
            array_type, method, lambda self, _f=original, _m=method: reads.append(_m) or _f(self)
        )
    x, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    model = mlp_xp.MLP([3, 4, 2], "relu", "softmax", backend="array_api_strict", seed=0)
    model.fit(x, y, loss="cross_entropy", batch_size=4, epochs=1)
    one_epoch = len(reads)
    reads.clear()
    model.fit(x, y, loss="cross_entropy", batch_size=4, epochs=6)
    assert len(reads) == one_epoch + 5
    assert reads.count("__float__") == 6
