"""The JAX backend at the edge: names, devices, 64-bit mode, immutable arrays.

The rest of the suite runs on JAX like on any backend (``MLP_XP_BACKENDS=jax``);
these tests check what only JAX has.  conftest turns on JAX's 64-bit mode for the
suite; mlp_xp itself never sets it.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import BACKENDS, host

import mlp_xp
from mlp_xp._backend import device_from_name, get_namespace, to_numpy, widest_float

pytestmark = pytest.mark.skipif("jax" not in BACKENDS, reason="the JAX backend: run with MLP_XP_BACKENDS=jax")
jax = pytest.importorskip("jax")


def test_the_name_jax_gives_jax_numpy():
    assert get_namespace("jax") is get_namespace(jax.numpy)
    assert get_namespace("jax").__name__ == "jax.numpy"


def test_float64_without_64_bit_mode_is_refused_naming_the_switch():
    """JAX would silently give float32 arrays: refused, with the setting that fixes it."""
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"dtype='float64'.*jax_enable_x64"):
            mlp_xp.MLP([2, 3, 1], backend="jax", dtype="float64")
        model = mlp_xp.MLP([2, 3, 1], backend="jax", seed=0)  # float32 needs nothing
        assert model.weights[0].dtype == jax.numpy.float32
    assert jax.config.jax_enable_x64  # as the suite set it: the library changed nothing


@pytest.mark.parametrize("name", ["cpu", "cpu:0"])
def test_devices_are_named_as_jax_names_them(name):
    device = jax.devices("cpu")[0]
    assert device_from_name("jax", name) == device
    model = mlp_xp.MLP([2, 3, 1], backend="jax", device=name, seed=0)
    assert model.device == device
    assert all(p.devices() == {device} for p in [*model.weights, *model.biases])


@pytest.mark.parametrize("name", ["cpu:9", "tpu", "not-a-device"])
def test_an_unknown_device_name_is_refused(name):
    with pytest.raises(ValueError, match=f"device {name!r} is not a device of backend 'jax'"):
        device_from_name("jax", name)


def test_a_pickled_model_keeps_its_device_by_name(rng):
    model = mlp_xp.MLP([3, 4, 2], backend="jax", device="cpu", seed=0)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.device == model.device and copy.xp is model.xp
    x = rng.normal(size=(5, 3))
    np.testing.assert_array_equal(host(copy.forward(x)), host(model.forward(x)))


def test_host_copies_are_writable_numpy_arrays():
    a = jax.numpy.arange(3.0)
    copy = to_numpy(a)
    copy[0] = 5.0
    assert isinstance(copy, np.ndarray) and float(a[0]) == 0.0


@pytest.fixture
def without_64_bit_mode():
    """JAX's default mode, for one test; ``widest_float`` remembers a device's widest
    float, which the mode changes: forgotten on the way in and out."""
    widest_float.cache_clear()
    with jax.enable_x64(False):
        yield
    widest_float.cache_clear()


def test_float32_trains_without_64_bit_mode(without_64_bit_mode, rng, tmp_path):
    """JAX's default: float32, int32 indices. fit (integer labels, validation, tol), forward,
    gradients, save and load run without a warning (the suite's warnings are errors)."""
    x, labels = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    model = mlp_xp.MLP([3, 5, 3], "relu", "softmax", backend="jax", seed=0)
    history = model.fit(
        x, labels, loss="cross_entropy", optimizer="adam", epochs=3, tol=1e-9, validation_data=(x, labels)
    )
    assert history.n_epochs == 3 and all(np.isfinite(history.val_loss))
    assert model.forward(x).dtype == jax.numpy.float32
    model.gradients(x, labels, loss="cross_entropy")
    loaded = mlp_xp.load(model.save(tmp_path / "model"), backend="jax")
    np.testing.assert_array_equal(host(loaded.forward(x)), host(model.forward(x)))
