"""Activations: values, vector–Jacobian products against finite differences, stability."""

import numpy as np
import pytest
from conftest import host

from mlp_xp.activations import ACTIVATIONS, get_activation

NAMES = list(ACTIVATIONS)
BOUNDED = [name for name in NAMES if name != "exp"]  # e^z is finite only where it fits the float range


def _z(xp, device, rng, dtype="float64"):
    # Kept away from relu's kink at 0.
    z = rng.normal(size=(5, 4)) * 3.0
    z[np.abs(z) < 1e-3] = 0.5
    return xp.asarray(z, dtype=getattr(xp, dtype), device=device)


@pytest.mark.parametrize("name", NAMES)
def test_vjp_matches_finite_differences(name, xp, device, rng):
    """vjp(z, a, g) = Jᵀg: compared with (Φ(z + εeᵢ) − Φ(z − εeᵢ))/2ε · g."""
    phi = ACTIVATIONS[name]
    z = _z(xp, device, rng)
    g = xp.asarray(rng.normal(size=(5, 4)), dtype=xp.float64, device=device)
    got = host(phi.vjp(xp, z, phi.value(xp, z), g))
    z0, g0, eps = host(z), host(g), 1e-6
    expected = np.zeros_like(z0)
    for i, j in np.ndindex(*z0.shape):
        step = np.zeros_like(z0)
        step[i, j] = eps
        up = host(phi.value(xp, xp.asarray(z0 + step, device=device)))
        down = host(phi.value(xp, xp.asarray(z0 - step, device=device)))
        expected[i, j] = np.sum((up - down) / (2 * eps) * g0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_known_values(xp, device):
    z = xp.asarray([[-2.0, 0.0, 3.0]], dtype=xp.float64, device=device)
    expected = {
        "identity": [-2.0, 0.0, 3.0],
        "sigmoid": 1.0 / (1.0 + np.exp([2.0, 0.0, -3.0])),
        "tanh": np.tanh([-2.0, 0.0, 3.0]),
        "relu": [0.0, 0.0, 3.0],
        "leaky_relu": [-0.02, 0.0, 3.0],
        "softplus": np.log1p(np.exp([-2.0, 0.0, 3.0])),
        "softmax": np.exp([-2.0, 0.0, 3.0]) / np.exp([-2.0, 0.0, 3.0]).sum(),
        "exp": np.exp([-2.0, 0.0, 3.0]),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(host(ACTIVATIONS[name].value(xp, z))[0], values, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", BOUNDED)
def test_stable_for_large_inputs_in_float32(name, xp, device):
    """No overflow (warnings are errors in this suite) and finite values for |z| up to 1e4."""
    z = xp.asarray([[-1e4, -88.0, 0.0, 88.0, 1e4]], dtype=xp.float32, device=device)
    phi = ACTIVATIONS[name]
    a = phi.value(xp, z)
    assert np.all(np.isfinite(host(a)))
    assert np.all(np.isfinite(host(phi.vjp(xp, z, a, xp.ones_like(z)))))


def test_sigmoid_saturates_exactly(xp, device):
    z = xp.asarray([[-1e4, 1e4]], dtype=xp.float32, device=device)
    np.testing.assert_array_equal(host(ACTIVATIONS["sigmoid"].value(xp, z)), [[0.0, 1.0]])


def test_softmax_rows_are_distributions_invariant_to_shifts(xp, device, rng):
    z = rng.normal(size=(6, 5)) * 10
    softmax = ACTIVATIONS["softmax"].value
    s = host(softmax(xp, xp.asarray(z, device=device)))
    shifted = host(softmax(xp, xp.asarray(z + 1000.0, device=device)))
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(shifted, s, rtol=1e-10)


def test_softmax_shifts_each_row_by_its_own_maximum(xp, device):
    """Rows of logits near 0 and near 1000 in one batch: each row is its own softmax (a
    shift by the batch's maximum would underflow the first row to 0/0)."""
    z = np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]])
    s = host(ACTIVATIONS["softmax"].value(xp, xp.asarray(z, device=device)))
    expected = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(s, [expected, expected], rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_values_and_vjps_keep_the_dtype(name, xp, device, rng):
    """float32 in, float32 out: no mask or constant promotes a float32 network to float64."""
    phi = ACTIVATIONS[name]
    z = _z(xp, device, rng, "float32")
    a = phi.value(xp, z)
    assert a.dtype == xp.float32 and phi.vjp(xp, z, a, xp.ones_like(z)).dtype == xp.float32


def test_an_unknown_activation_is_named_with_the_known_ones():
    with pytest.raises(ValueError) as info:
        get_activation("swishy", "output_activation")
    known = ", ".join(repr(name) for name in ACTIVATIONS)
    assert str(info.value) == f"output_activation must be one of {known}, got 'swishy'"
