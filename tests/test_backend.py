"""The backend edge, ``mlp_xp._backend``: names, namespaces, devices, dtypes, data moves.

CuPy's failure modes (not installed, installed without a reachable GPU) are
simulated through ``sys.modules``, so they are tested on every machine.
"""

from __future__ import annotations

import importlib
import re
import sys
import types

import array_api_compat
import array_api_compat.numpy
import array_api_strict
import numpy as np
import pytest
from conftest import BACKENDS, host, parameters

import mlp_xp
from mlp_xp import _backend
from mlp_xp._backend import dtype_name, get_device, get_dtype, get_namespace, to_namespace, to_numpy

ALL_NAMES = ("numpy", "cupy", "torch", "array_api_strict", "jax")


def namespace_of(a):
    return array_api_compat.array_namespace(a)


def expects(*parts: str) -> str:
    """A regex that matches a message containing every part (regexes), in any order."""
    return "(?s)" + "".join(f"(?=.*{part})" for part in parts)


# ------------------------------------------------------------------ namespaces


@pytest.mark.parametrize("name", BACKENDS)
def test_each_backend_name_gives_the_namespace_of_the_models_arrays(name):
    xp = get_namespace(name)
    assert get_namespace(name) is xp
    model = mlp_xp.MLP([3, 4, 2], backend=name, seed=0)
    assert model.xp is xp
    for a in (*model.weights, *model.biases, model.forward(np.ones((2, 3)))):
        assert namespace_of(a) is xp


def test_the_backends_under_test_are_known_and_numpy_and_strict_always_load():
    assert set(BACKENDS) <= set(ALL_NAMES)
    assert get_namespace("numpy") is array_api_compat.numpy
    assert get_namespace("array_api_strict") is array_api_strict


def _module_objects():
    objects = [
        pytest.param(np, "numpy", id="numpy-module"),
        pytest.param(array_api_compat.numpy, "numpy", id="array_api_compat.numpy"),
        pytest.param(array_api_strict, "array_api_strict", id="array_api_strict-module"),
    ]
    if "torch" in BACKENDS:
        objects.append(pytest.param(importlib.import_module("torch"), "torch", id="torch-module"))
    if "jax" in BACKENDS:
        objects.append(pytest.param(importlib.import_module("jax.numpy"), "jax", id="jax.numpy-module"))
    return objects


@pytest.mark.parametrize(("module", "name"), _module_objects())
def test_a_namespace_object_is_accepted_as_backend(module, name):
    xp = get_namespace(module)
    assert xp is get_namespace(name)
    model = mlp_xp.MLP([3, 4, 2], backend=module, seed=0)
    assert model.xp is xp
    assert namespace_of(model.weights[0]) is xp
    by_name = mlp_xp.MLP([3, 4, 2], backend=name, seed=0)
    np.testing.assert_array_equal(parameters(model)[0], parameters(by_name)[0])


def test_array_api_strict_module_is_its_own_namespace():
    assert get_namespace(array_api_strict) is array_api_strict
    assert mlp_xp.MLP([2, 1], backend=array_api_strict).xp is array_api_strict


@pytest.mark.parametrize("name", ["jax.numpy", "Numpy", "numpy ", "", "cuda"])
def test_unknown_backend_name_lists_the_choices(name):
    pattern = expects(*(f"'{b}'" for b in ALL_NAMES), f"got {re.escape(repr(name))}")
    with pytest.raises(ValueError, match=pattern):
        get_namespace(name)
    with pytest.raises(ValueError, match=pattern):
        mlp_xp.MLP([2, 1], backend=name)


@pytest.mark.parametrize("obj", [42, None, types.ModuleType("not_an_array_library"), np.float64])
def test_a_non_namespace_object_is_refused(obj):
    with pytest.raises(TypeError, match=expects("backend must be one of", "array namespace")):
        get_namespace(obj)


# ------------------------------------------------ missing packages and devices


@pytest.mark.parametrize(
    ("name", "module", "hint"),
    [
        ("cupy", "cupy", "pip install 'mlp_xp[cuda12]'"),
        ("torch", "torch", "pip install 'mlp_xp[torch]'"),
        ("array_api_strict", "array_api_strict", "pip install array-api-strict"),
        ("jax", "jax.numpy", "pip install 'mlp_xp[jax]'"),
    ],
)
def test_a_missing_package_raises_importerror_with_install_hint(monkeypatch, name, module, hint):
    monkeypatch.setitem(sys.modules, module, None)  # import of `module` now fails, installed or not
    match = expects(f"backend={name!r}", re.escape(hint))
    with pytest.raises(ImportError, match=match) as info:
        get_namespace(name)
    assert isinstance(info.value.__cause__, ImportError)
    with pytest.raises(ImportError, match=match):
        mlp_xp.MLP([2, 1], backend=name)


def test_missing_cupy_hint_names_both_cuda_extras(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'mlp_xp[cuda13]'")):
        get_namespace("cupy")


class _CUDARuntimeError(Exception):
    pass


def _no_driver():
    raise _CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")


@pytest.mark.parametrize(
    ("get_device_count", "match"),
    [
        pytest.param(lambda: 0, expects("backend='cupy'", "CUDA GPU", "finds none"), id="no-gpu"),
        pytest.param(_no_driver, expects("backend='cupy'", "CUDA GPU", "InsufficientDriver"), id="no-driver"),
    ],
)
def test_cupy_without_a_device_raises_runtimeerror(monkeypatch, get_device_count, match):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    fake.empty = lambda shape: pytest.fail("no array may be created without a device")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(RuntimeError, match=match):
        get_namespace("cupy")
    with pytest.raises(RuntimeError, match=match):
        mlp_xp.MLP([2, 1], backend="cupy")


# -------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_dtype_names_map_to_the_namespaces_dtypes(xp, make_mlp, name):
    assert get_dtype(xp, name) == getattr(xp, name)
    assert get_dtype(xp, getattr(xp, name)) == getattr(xp, name)
    assert dtype_name(xp, getattr(xp, name)) == name
    model = make_mlp([3, 4, 2], dtype=name, seed=0)
    assert model.dtype == getattr(xp, name)
    for a in (*model.weights, *model.biases, model.forward(np.ones((2, 3)))):
        assert a.dtype == getattr(xp, name)
    assert f"dtype={name!r}" in repr(model)


def test_the_default_dtype_is_float32(xp, make_mlp):
    assert make_mlp([2, 1]).dtype == xp.float32


@pytest.mark.parametrize("dtype", ["float16", "int32", "float", "complex64", None, 32])
def test_bad_dtype_raises_valueerror(xp, dtype):
    with pytest.raises(ValueError, match=re.escape("dtype must be 'float32' or 'float64'")):
        get_dtype(xp, dtype)


# ------------------------------------------------------------------- devices


def test_default_device_is_the_namespaces_default(xp):
    assert get_device(xp) == array_api_compat.device(xp.empty((0,)))
    assert get_device(xp, None) == get_device(xp)


def test_model_keeps_the_requested_device(xp, device, make_mlp):
    model = make_mlp([3, 4, 2], dtype="float64", seed=0)
    expected = get_device(xp) if device is None else device
    assert model.device == expected
    for a in (*model.weights, *model.biases, model.forward(np.ones((2, 3)))):
        assert array_api_compat.device(a) == expected
    _, dW, db = model.gradients(np.ones((2, 3)), np.zeros((2, 2)))
    assert all(array_api_compat.device(g) == expected for g in (*dW, *db))


def test_array_api_strict_non_default_device_is_kept():
    device = array_api_strict.Device("device1")
    assert device != array_api_compat.device(array_api_strict.empty((0,)))
    model = mlp_xp.MLP([3, 4, 2], backend="array_api_strict", device=device, seed=0)
    assert model.device == device
    assert array_api_compat.device(model.weights[0]) == device
    assert "Device('device1')" in repr(model)
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1)
    assert array_api_compat.device(model.weights[0]) == device


@pytest.mark.parametrize("bad", ["not-a-device", "cuda:7", 3.5])
def test_bad_device_raises_valueerror(xp, make_mlp, bad):
    match = expects(f"device={re.escape(repr(bad))}", "not a device of backend")
    with pytest.raises(ValueError, match=match):
        get_device(xp, bad)
    with pytest.raises(ValueError, match=match):
        make_mlp([2, 1], device=bad)


# ---------------------------------------------------------------- data moves

HOST_ARRAYS = [
    pytest.param(np.arange(6.0).reshape(2, 3), id="float64"),
    pytest.param(np.linspace(-1, 1, 5, dtype=np.float32), id="float32"),
    pytest.param(np.arange(-3, 3, dtype=np.int64).reshape(3, 2), id="int64"),
    pytest.param(np.array([[True, False]]), id="bool"),
    pytest.param(np.float64(2.5), id="scalar"),
]


@pytest.mark.parametrize("a", HOST_ARRAYS)
def test_to_namespace_moves_a_numpy_array_into_each_backend(xp, device, a):
    moved = to_namespace(a, xp, device, "x")
    assert namespace_of(moved) is xp
    if device is not None:
        assert array_api_compat.device(moved) == device
    assert tuple(moved.shape) == a.shape
    back = host(moved)
    assert back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("a", HOST_ARRAYS)
def test_to_numpy_round_trips(xp, device, a):
    back = to_numpy(to_namespace(a, xp, device, "x"))
    assert isinstance(back, np.ndarray | np.generic)
    np.testing.assert_array_equal(np.asarray(back), a, strict=True)


@pytest.mark.parametrize("source", BACKENDS)
def test_to_namespace_moves_arrays_between_backends(xp, device, source):
    data = np.arange(6.0).reshape(3, 2)
    a = get_namespace(source).asarray(data)
    moved = to_namespace(a, xp, device, "x")
    assert namespace_of(moved) is xp
    np.testing.assert_array_equal(host(moved), data, strict=True)
    np.testing.assert_array_equal(host(a), data, strict=True)  # the source is untouched


def test_to_namespace_accepts_nested_lists(xp, device):
    moved = to_namespace([[1.0, 2.0], [3.0, 4.0]], xp, device, "x")
    assert namespace_of(moved) is xp
    np.testing.assert_array_equal(host(moved), [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("abc", id="str"),
        pytest.param(["a", "b"], id="str-list"),
        pytest.param(np.array([["1", "2"]]), id="str-array"),
        pytest.param(np.array([1, None], dtype=object), id="object-array"),
        pytest.param([1.0, None], id="none-in-list"),
        pytest.param(np.array([1 + 2j]), id="complex-array"),
        pytest.param([1j, 2.0], id="complex-list"),
        pytest.param(b"bytes", id="bytes"),
    ],
)
def test_to_namespace_refuses_non_numeric_data_with_typeerror(xp, device, bad):
    with pytest.raises(TypeError, match="features must hold real numbers"):
        to_namespace(bad, xp, device, "features")


def test_to_namespace_refuses_native_complex_arrays(xp, device):
    a = xp.asarray(np.array([1 + 2j, 3.0]), device=device)
    with pytest.raises(TypeError, match="features must hold real numbers"):
        to_namespace(a, xp, device, "features")


def test_to_namespace_refuses_ragged_lists_with_valueerror(xp, device):
    with pytest.raises(ValueError, match="features must be a rectangular array of numbers"):
        to_namespace([[1.0, 2.0], [3.0]], xp, device, "features")


def test_to_numpy_gives_numpy_arrays_unchanged():
    a = np.arange(3.0)
    assert to_numpy(a) is a


def test_host_rng_passes_generators_through_and_seeds_reproducibly():
    g = np.random.default_rng(0)
    assert _backend.host_rng(g) is g
    np.testing.assert_array_equal(_backend.host_rng(5).random(3), np.random.default_rng(5).random(3))
    assert isinstance(_backend.host_rng(None), np.random.Generator)


def test_repr_names_the_architecture_and_backend(backend, make_mlp):
    model = make_mlp([2, 3, 3, 1], ["tanh", "relu"], "sigmoid", dtype="float64")
    assert repr(model).startswith(
        f"MLP([2, 3, 3, 1], activation=['tanh', 'relu'], output_activation='sigmoid', backend={backend!r}"
    )
    assert "activation=" not in repr(make_mlp([2, 1])).replace("output_activation", "")


# ------------------------------------------------------- data at the edge: torch tensors


def _torch():
    return pytest.importorskip("torch")


def test_torch_inputs_that_require_grad_are_treated_as_data(make_mlp, rng):
    """x and y that require grad (or lists of such rows) train the model as plain data:
    its parameters and outputs join no autograd graph, and the inputs keep theirs."""
    torch = _torch()
    x = torch.tensor(rng.normal(size=(12, 3)), dtype=torch.float32, requires_grad=True)
    y = torch.tensor(rng.normal(size=(12, 2)), dtype=torch.float32, requires_grad=True)
    model, reference = make_mlp([3, 4, 2], seed=0), make_mlp([3, 4, 2], seed=0)
    for _ in range(2):
        model.fit(x, y, batch_size=4, epochs=1, resume=True)
        reference.fit(x.detach().numpy(), y.detach().numpy(), batch_size=4, epochs=1, resume=True)
    model.fit(list(x), list(y), batch_size=4, epochs=1, resume=True)
    reference.fit(x.detach().numpy(), y.detach().numpy(), batch_size=4, epochs=1, resume=True)
    outputs = [*model.weights, *model.biases, model.forward(x), *model.gradients(x, y)[1]]
    for a in outputs:
        assert not getattr(a, "requires_grad", False) and getattr(a, "grad_fn", None) is None
    for p, q in zip(parameters(model), parameters(reference)):
        np.testing.assert_array_equal(p, q)
    assert x.requires_grad and y.requires_grad


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_precision_inputs_are_read_as_float32(make_mlp, dtype):
    torch = _torch()
    x = torch.tensor([[0.5, -1.25, 3.0], [2.0, 0.0, -0.75]], dtype=getattr(torch, dtype))
    model = make_mlp([3, 4, 2], seed=0)
    np.testing.assert_array_equal(host(model.forward(x)), host(model.forward(x.float().numpy())))
    np.testing.assert_array_equal(to_numpy(x), x.float().numpy(), strict=True)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda a: a[::-1], id="reversed-rows"),
        pytest.param(lambda a: a[:, ::-1], id="reversed-columns"),
        pytest.param(lambda a: np.lib.stride_tricks.as_strided(a, writeable=False), id="read-only"),
    ],
)
def test_numpy_views_that_torch_cannot_share_are_accepted(make_mlp, rng, view):
    """Negative strides (torch refuses them) and read-only memory (torch warns, an
    error in this suite) reach every backend with their values."""
    data = rng.normal(size=(5, 3))
    x = view(data)
    model = make_mlp([3, 4, 2], seed=0)
    np.testing.assert_array_equal(host(model.forward(x)), host(model.forward(np.array(x))))
    model.fit(x, x[:, :2], epochs=1)


def test_to_numpy_refuses_python_data_clearly():
    with pytest.raises(TypeError, match=expects("to_numpy needs an array", "got list", "numpy.asarray")):
        to_numpy([1.0, 2.0])


def test_maximum_with_a_scalar_is_the_standards_maximum_by_the_direct_call(backend, xp, device, monkeypatch):
    """max(x, c) as ``xp.maximum`` gives it (NaN stays NaN); on torch by ``clip``
    (torch.clamp), never by array-api-compat's ``maximum``, which makes a tensor of c."""
    x = xp.asarray([np.nan, -np.inf, -1.0, -0.0, 0.0, 0.5, np.inf], device=device)
    want = host(xp.maximum(x, 0.0))
    if backend == "torch":
        monkeypatch.setattr(xp, "maximum", lambda *args: pytest.fail("array-api-compat's maximum called"))
    np.testing.assert_array_equal(host(_backend.maximum_scalar(xp, x, 0.0)), want)
    np.testing.assert_array_equal(host(mlp_xp.activations.relu(xp, x)), want)
