"""scikit-learn's array API check of the estimators, values compared, on every input library.

``check_array_api_input(..., check_values=True)`` fits on NumPy data and on the
same data in another library, then compares fitted attributes and every
method's output (``score`` too) with the tolerance of the dtype.  scikit-learn
needs ``SCIPY_ARRAY_API=1`` before SciPy is imported, so the checks run in a
fresh Python process (this file run as a script), once per backend that the
estimators train on.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from unittest import SkipTest

import pytest

import mlp_xp

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_array_api_input

ESTIMATORS = ("MLPClassifier", "MLPRegressor")
# (input library, its device, dtype): array_api_strict on both of its devices.
INPUTS = [
    (namespace, device, dtype)
    for namespace, device in (
        ("numpy", None),
        ("array_api_strict", None),
        ("array_api_strict", "device1"),
        ("torch", "cpu"),
    )
    for dtype in ("float32", "float64")
]


def _key(estimator: str, namespace: str, device: str | None, dtype: str) -> str:
    return f"{estimator} {namespace} {device} {dtype}"


def check_every_input(backend: str) -> dict[str, str]:
    """Run every check with estimators that train on ``backend``: "ok", "skip: why" or the traceback."""
    warnings.simplefilter("error")
    warnings.simplefilter("ignore", ConvergenceWarning)  # a short training on purpose
    device = None
    if backend == "array_api_strict":
        device = importlib.import_module("array_api_strict").Device("device1")
    results = {}
    for name in ESTIMATORS:
        # A few epochs: scores far from 0 and 1, where float32 rounding would show.
        estimator = getattr(mlp_xp, name)((8,), max_iter=5, backend=backend, device=device)
        for namespace, input_device, dtype in INPUTS:
            key = _key(name, namespace, input_device, dtype)
            try:
                check_array_api_input(
                    name, estimator, namespace, device_name=input_device, dtype_name=dtype, check_values=True
                )
                results[key] = "ok"
            except SkipTest as skip:
                results[key] = f"skip: {skip}"
            except Exception:
                results[key] = traceback.format_exc()
    return results


@functools.cache
def _results(backend: str) -> dict[str, str]:
    root = str(Path(mlp_xp.__file__).resolve().parents[1])
    path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    # JAX_ENABLE_X64: float64 on backend="jax" needs JAX's 64-bit mode, as in conftest.
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "PYTHONPATH": path, "JAX_ENABLE_X64": "1"}
    done = subprocess.run(
        [sys.executable, __file__, backend], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(("namespace", "input_device", "dtype"), INPUTS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_scikit_learn_array_api_check(backend, estimator, namespace, input_device, dtype):
    result = _results(backend)[_key(estimator, namespace, input_device, dtype)]
    if result.startswith("skip: "):
        pytest.skip(result)
    assert result == "ok", result


if __name__ == "__main__":
    print(json.dumps(check_every_input(sys.argv[1])))
