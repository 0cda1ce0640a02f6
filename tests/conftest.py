"""Fixtures: every test that asks for ``backend``/``xp``/``device`` runs once per backend.

The backends are those installed (numpy and array_api_strict always; torch
when importable; cupy when a CUDA device answers), narrowed by the environment
variable ``MLP_XP_BACKENDS`` (comma-separated), as nox's sessions do.  A
backend named there but unavailable is an error, not a skip.  On
array_api_strict the device is the non-default ``Device("device1")``: any
array created without ``device=`` then fails loudly.  On torch it is the
default (the CPU) unless ``MLP_XP_TORCH_DEVICE`` names another, e.g.
``MLP_XP_TORCH_DEVICE=cuda``: the suite then runs torch on that GPU.  On jax
it is JAX's default device, and the suite turns on JAX's 64-bit mode (the
float64 tests need it; mlp_xp itself never sets it, and refuses float64
without it).
"""

from __future__ import annotations

import importlib
import itertools
import os
from functools import partial

import numpy as np
import pytest

import mlp_xp
from mlp_xp._backend import get_device, get_namespace, to_numpy
from mlp_xp.costs import COSTS


def _available(name: str) -> bool:
    try:
        get_namespace(name)
    except (ImportError, RuntimeError):
        return False
    return True


def _backends() -> list[str]:
    requested = os.environ.get("MLP_XP_BACKENDS", "").strip()
    if not requested:
        return [b for b in ("numpy", "array_api_strict", "torch", "cupy", "jax") if _available(b)]
    names = [b.strip() for b in requested.split(",") if b.strip()]
    for name in names:
        get_namespace(name)  # raises with an install hint if unavailable
    return names


BACKENDS = _backends()
if "jax" in BACKENDS:
    importlib.import_module("jax").config.update("jax_enable_x64", True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "skip_backend(*names, reason): skip the test on these backends, for the reason given",
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    for marker in request.node.iter_markers("skip_backend"):
        if request.param in marker.args:
            pytest.skip(f"{request.param}: {marker.kwargs['reason']}")
    return request.param


@pytest.fixture
def xp(backend: str):
    return get_namespace(backend)


TORCH_DEVICE = os.environ.get("MLP_XP_TORCH_DEVICE", "").strip()


@pytest.fixture
def device(backend: str, xp):
    if backend == "array_api_strict":
        return importlib.import_module("array_api_strict").Device("device1")
    if backend == "torch" and TORCH_DEVICE:
        return get_device(xp, TORCH_DEVICE)  # torch.device("cuda:0") for "cuda", as models report it
    return None


@pytest.fixture
def make_mlp(backend: str, device):
    """``MLP`` with this test's backend and device filled in."""
    return partial(mlp_xp.MLP, backend=backend, device=device)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


def host(a) -> np.ndarray:
    """A NumPy copy of an array of any backend, for assertions."""
    return np.asarray(to_numpy(a))


def parameters(model) -> list[np.ndarray]:
    """The model's weights then biases, as NumPy copies."""
    return [host(p) for p in (*model.weights, *model.biases)]


def random_targets(loss: str, rng: np.random.Generator, shape: tuple[int, int], labels: bool = False):
    """Valid random targets for ``loss``: ±1, {0, 1}, one-hot rows (or integer
    labels when ``labels``), counts, or real numbers."""
    kind = COSTS[loss].targets
    if kind == "sign":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "probability":
        return rng.integers(0, 2, size=shape).astype(float)
    if kind == "distribution":
        classes = rng.integers(0, shape[1], size=shape[0])
        return classes if labels else np.eye(shape[1])[classes]
    if kind == "non_negative":
        return rng.poisson(1.5, size=shape).astype(float)
    return rng.normal(size=shape)


# Hidden activations, and the (output activation, loss) pairs that a model accepts: a cost
# that needs one output activation pairs with it alone, the others with every activation.
HIDDEN_ACTIVATIONS = [name for name, phi in mlp_xp.ACTIVATIONS.items() if not phi.output_only]
VALID_PAIRS = [
    (output, loss)
    for output, loss in itertools.product(mlp_xp.ACTIVATIONS, COSTS)
    if COSTS[loss].output_activation in (None, output)
]


@pytest.fixture
def swish():
    """A user activation registered for one test: swish(z) = z σ(z), written with xp."""

    def value(xp, z):
        return z * mlp_xp.activations.sigmoid(xp, z)

    def derivative(xp, z, a):
        s = mlp_xp.activations.sigmoid(xp, z)
        return s + z * s * (1.0 - s)

    yield mlp_xp.register_activation("swish", value, derivative, init="he")
    del mlp_xp.ACTIVATIONS["swish"]
