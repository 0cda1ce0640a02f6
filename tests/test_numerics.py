"""Numerics at the edges of float32: extreme sample weights, scores, sums over many rows."""

import numpy as np
import pytest
from conftest import host, parameters

from mlp_xp.costs import COSTS
from mlp_xp.metrics import score


@pytest.mark.parametrize("scale", [1e38, 1e-44, 2.0**70, 2.0**-70])
def test_sample_weights_of_any_scale_train_as_weights_near_one(make_mlp, rng, scale):
    """Σ wᵢCᵢ / Σ wᵢ does not depend on the scale of w: weights ×1e38 (whose sums
    overflow float32) and ×1e-44 (subnormal in float32) train a float32 model as
    the same weights near 1 do."""
    x, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    weights = rng.uniform(0.5, 1.0, size=24)
    options = dict(batch_size=8, epochs=3, seed=0, lr=0.05)
    reference, model = make_mlp([3, 4, 2], seed=1), make_mlp([3, 4, 2], seed=1)
    reference.fit(x, y, sample_weight=weights, **options)
    history = model.fit(x, y, sample_weight=weights * scale, **options)
    assert history.loss == pytest.approx(reference.history.loss, rel=1e-5)
    for p, q in zip(parameters(model), parameters(reference)):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)


def _r2(y, output):
    """R² per column in float64 on the host: the reference."""
    y, output = np.asarray(y, np.float64), np.asarray(output, np.float64)
    return 1.0 - ((y - output) ** 2).sum(axis=0) / ((y - y.mean(axis=0)) ** 2).sum(axis=0)


def test_r2_of_a_constant_column_is_0_or_1_exactly(xp, device, rng):
    """SS_tot of a constant float32 column is only the rounding residue of its mean:
    the column is found constant by max = min, and scores 0 (1 for an exact fit)."""
    y = np.full((1000, 2), 0.1, dtype=np.float32)
    y[:, 1] = rng.normal(size=1000)
    output = y + np.float32(1e-3) * rng.normal(size=y.shape).astype(np.float32)
    to = lambda a: xp.asarray(a, device=device)  # noqa: E731
    got = float(score(xp, COSTS["mse"], to(y), to(output)))
    assert got == pytest.approx((0.0 + _r2(y[:, 1:], output[:, 1:])[0]) / 2, rel=1e-6)
    assert float(score(xp, COSTS["mse"], to(y[:, :1]), to(y[:, :1]))) == 1.0


def test_validation_r2_of_a_constant_target_is_0(make_mlp, rng):
    x, y = rng.normal(size=(64, 3)), np.full(64, 0.1)
    model = make_mlp([3, 4, 1], seed=0)
    history = model.fit(x, y, epochs=2, validation_data=(x, y))
    assert history.val_score == [0.0, 0.0]


def test_r2_of_a_million_float32_rows_is_accurate(xp, device, rng):
    """Summed row after row in float32, R² of 10⁶ rows drifts (0.9989 for 0.9101)."""
    y = (100.0 + rng.normal(size=(10**6, 1))).astype(np.float32)
    output = (y + 0.3 * rng.normal(size=y.shape)).astype(np.float32)
    got = float(score(xp, COSTS["mse"], xp.asarray(y, device=device), xp.asarray(output, device=device)))
    assert got == pytest.approx(_r2(y, output)[0], rel=1e-9)


def test_accuracy_is_exact_in_float64(xp, device):
    """19 right of 25 scores 0.76, not float32's 0.7599999904632568."""
    labels = np.arange(25) % 3
    predicted = np.where(np.arange(25) < 19, labels, (labels + 1) % 3)
    to = lambda a: xp.asarray(np.eye(3, dtype=np.float32)[a], device=device)  # noqa: E731
    assert float(score(xp, COSTS["cross_entropy"], to(labels), to(predicted))) == 19 / 25


def test_bias_gradients_of_a_million_rows_are_accurate_in_float32(make_mlp, rng):
    """∇β sums 𝓑 over the batch; summed row after row in float32 it drifts (2.6e-4 at
    N = 10⁶ on NumPy): the float32 gradients stay within float32 rounding of float64's."""
    x = rng.normal(size=(10**6, 2)).astype(np.float32)
    y = x[:, :1] * x[:, 1:] + np.float32(1.0)
    single, double = make_mlp([2, 3, 1], "tanh", seed=0), make_mlp([2, 3, 1], "tanh", dtype="float64", seed=0)
    double.weights = [double.xp.astype(w, double.xp.float64) for w in single.weights]
    _, _, db = single.gradients(x, y)
    _, _, reference = double.gradients(x.astype(np.float64), y.astype(np.float64))
    for got, expected in zip(db, reference):
        assert got.dtype == single.dtype  # summed in float64, returned in the model's dtype
        np.testing.assert_allclose(host(got), host(expected), rtol=1e-6)


def test_the_norms_of_vanishing_float32_gradients_do_not_underflow(make_mlp):
    """‖∇Ω‖ ≈ 1e-25 in float32, whose squares (1e-50) are below the smallest float32: the
    norm scaled by the largest entry is still that of float64, not 0."""
    model = make_mlp([2, 1], "identity", seed=0)
    xp = model.xp
    model.weights[0] = xp.zeros((2, 1), dtype=xp.float32, device=model.device)
    x, y = np.full((4, 2), 1e-25), np.ones(4)
    history = model.fit(x, y, lr=1e-3, batch_size=None, epochs=1)
    expected = np.linalg.norm(np.float64(np.float32(1e-25)) * np.ones(2))  # x·(ŷ − y) summed / N, ŷ = 0
    assert history.layer_grad_norms[0][0] == pytest.approx(expected, rel=1e-6, abs=0.0)
