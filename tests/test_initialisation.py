"""Initial weights: each rule's distribution, the default rule per activation, the host
generator that makes every backend start alike, and the checks of a custom ``init``.

The statistics tests draw 100,000 or more weights per rule and allow each statistic
five of its standard errors, so they hold for any seed: the mean of n draws of
spread σ within 5σ/√n of 0, their standard deviation within 5σ/√(2n) of σ (normal
draws; 5σ/√(5n) for uniform ones), and the largest |w| of uniform draws on ±L in
[L(1 − 20/n), L] (missing that range has probability e⁻²⁰).
"""

import math

import numpy as np
import pytest
from conftest import BACKENDS, host, parameters

import mlp_xp

SIZES = [500, 200, 300]  # fan_in ≠ fan_out in both layers: a rule using the wrong one shows


def weights_of(init, activation="tanh", sizes=SIZES, seed=0):
    model = mlp_xp.MLP(sizes, activation, init=init, dtype="float64", seed=seed)
    return parameters(model)[: len(sizes) - 1]


def assert_normal(w, sigma):
    n = w.size
    assert abs(w.mean()) <= 5 * sigma / math.sqrt(n)
    assert abs(w.std() - sigma) <= 5 * sigma / math.sqrt(2 * n)
    assert np.abs(w).max() > 3 * sigma  # unbounded: a uniform draw of spread σ stops at √3 σ


def assert_uniform(w, limit):
    n, sigma = w.size, limit / math.sqrt(3)
    assert abs(w.mean()) <= 5 * sigma / math.sqrt(n)
    assert abs(w.std() - sigma) <= 5 * sigma / math.sqrt(5 * n)
    assert limit * (1 - 20 / n) <= np.abs(w).max() <= limit


@pytest.mark.parametrize("seed", [0, 1])
def test_he_draws_normal_weights_of_variance_two_over_fan_in(seed):
    for w, fan_in in zip(weights_of("he", seed=seed), SIZES):
        assert_normal(w, math.sqrt(2.0 / fan_in))


@pytest.mark.parametrize("seed", [0, 1])
def test_lecun_draws_normal_weights_of_variance_one_over_fan_in(seed):
    for w, fan_in in zip(weights_of("lecun", seed=seed), SIZES):
        assert_normal(w, math.sqrt(1.0 / fan_in))


@pytest.mark.parametrize("seed", [0, 1])
def test_glorot_draws_uniform_weights_within_its_limit(seed):
    for w, fan_in, fan_out in zip(weights_of("glorot", seed=seed), SIZES, SIZES[1:]):
        assert_uniform(w, math.sqrt(6.0 / (fan_in + fan_out)))


def test_the_default_rule_follows_the_activation_after_the_layer():
    """He before the ReLU family, Glorot before sigmoid-like and identity outputs; biases 0."""
    for hidden in ("relu", "leaky_relu", "softplus"):
        model = mlp_xp.MLP(SIZES, hidden, dtype="float64", seed=0)
        first, second = parameters(model)[:2]
        assert_normal(first, math.sqrt(2.0 / SIZES[0]))
        assert_uniform(second, math.sqrt(6.0 / (SIZES[1] + SIZES[2])))  # the identity output
    for hidden in ("tanh", "sigmoid"):
        first = parameters(mlp_xp.MLP(SIZES, hidden, "softmax", dtype="float64", seed=0))[0]
        assert_uniform(first, math.sqrt(6.0 / (SIZES[0] + SIZES[1])))
    assert all(not b.any() for b in parameters(mlp_xp.MLP(SIZES, seed=0))[2:])


def by_hand(seed):
    """[3, 5, 2] relu → identity, drawn as the docs say: one host generator, layer by layer."""
    rng = np.random.default_rng(seed)
    first = rng.normal(0.0, math.sqrt(2.0 / 3), size=(3, 5))
    limit = math.sqrt(6.0 / (5 + 2))
    return [first, rng.uniform(-limit, limit, size=(5, 2)), np.zeros(5), np.zeros(2)]


@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_every_backend_starts_from_the_host_generator_s_draws(seed):
    """Bit-identical initial parameters on every backend: those of NumPy's generator."""
    for name in BACKENDS:
        model = mlp_xp.MLP([3, 5, 2], backend=name, dtype="float64", seed=seed)
        for got, expected in zip(parameters(model), by_hand(seed)):
            np.testing.assert_array_equal(got, expected)


def test_biases_start_as_zeros_on_the_model_device(make_mlp):
    model = make_mlp([3, 5, 2], seed=0)
    for b in model.biases:
        assert b.device == model.device and b.dtype == model.dtype
        np.testing.assert_array_equal(host(b), 0.0)


@pytest.mark.parametrize(
    ("init", "got"),
    [
        (lambda rng, i, o: np.ones((o, i)), r"got \(4, 3\)"),
        (lambda rng, i, o: [[1.0] * o] * i, "got list"),
    ],
    ids=["transposed", "a-list"],
)
def test_a_custom_init_of_the_wrong_shape_is_named(init, got):
    with pytest.raises(ValueError, match=r"init\(3, 4\) must return an array of shape \(3, 4\), " + got):
        mlp_xp.MLP([3, 4, 2], init=init)
