"""``WeightsOnly``: an optimizer applied to the weights Ω only, the biases β kept (seed 004's
neuron without bias), for every kind of inner optimizer, and its saved config."""

import json

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp.optimizers import (
    LBFGS,
    SGD,
    Adam,
    LineSearchGD,
    WeightsOnly,
    optimizer_config,
    optimizer_from_config,
)


@pytest.fixture
def data(rng):
    x = rng.normal(size=(12, 3))
    return x, x @ rng.normal(size=(3, 2)) + 1.0


@pytest.mark.parametrize(
    ("inner", "batch_size"),
    [(SGD(), 4), ("adam", 4), (SGD(momentum=0.9, nesterov=True), 4), (LineSearchGD(), None), (LBFGS(), None)],
    ids=["sgd", "adam", "nesterov", "line_search", "lbfgs"],
)
def test_the_biases_keep_their_values_and_the_weights_train(inner, batch_size, data, make_mlp):
    x, y = data
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    model.biases[:] = [b + 0.5 for b in model.biases]
    start = parameters(model)
    history = model.fit(x, y, optimizer=WeightsOnly(inner), lr=0.05, batch_size=batch_size, epochs=4)
    for got, before in zip(parameters(model)[2:], start[2:]):
        np.testing.assert_array_equal(got, before)
    assert all(not np.array_equal(got, before) for got, before in zip(parameters(model)[:2], start[:2]))
    assert history.loss[-1] < history.loss[0]


def test_sgd_on_the_weights_is_one_gradient_step_on_them(data, make_mlp):
    """θ ← θ − η ∇𝓔 for Ω, β unchanged; the state is the inner optimizer's."""
    x, y = data
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    start = parameters(model)
    _, dW, _ = model.gradients(x, y)
    model.fit(x, y, optimizer=WeightsOnly(SGD(momentum=0.5)), lr=0.1, batch_size=None, epochs=1)
    for got, W, g in zip(parameters(model), start, dW):
        np.testing.assert_allclose(got, W - 0.1 * host(g), rtol=1e-12)
    velocity = model.optimizer_state["velocity"]
    np.testing.assert_allclose(host(velocity[0]), -0.1 * host(dW[0]), rtol=1e-12)
    np.testing.assert_array_equal(host(velocity[-1]), 0.0)


def test_the_inner_optimizer_is_taken_by_name_and_initialises_the_state(xp, device):
    wrapped = WeightsOnly("adam")
    assert wrapped.inner == Adam() and WeightsOnly().inner == SGD()
    params = [
        xp.ones((2, 3), dtype=xp.float64, device=device),
        xp.zeros((3,), dtype=xp.float64, device=device),
    ]
    state = wrapped.init(params)
    assert state["t"] == 0 and [tuple(m.shape) for m in state["m"]] == [(2, 3), (3,)]
    assert WeightsOnly(LineSearchGD()).needs_objective and not WeightsOnly(SGD()).needs_objective
    assert WeightsOnly(LBFGS()).needs_value_and_grad and not WeightsOnly(Adam()).needs_value_and_grad


def test_a_zero_bias_gradient_stays_zero(xp, device):
    """The biases' gradients are replaced by zeros (0·g), also where g is already 0."""
    params = [
        xp.asarray([[1.0]], dtype=xp.float64, device=device),
        xp.asarray([2.0], dtype=xp.float64, device=device),
    ]
    grads = [
        xp.asarray([[0.5]], dtype=xp.float64, device=device),
        xp.asarray([0.0], dtype=xp.float64, device=device),
    ]
    new, _ = WeightsOnly(SGD()).step(params, grads, None, 0.1)
    np.testing.assert_array_equal(host(new[0]), [[0.95]])
    np.testing.assert_array_equal(host(new[1]), [2.0])


@pytest.mark.parametrize("inner", [SGD(0.9), Adam(0.5), LineSearchGD(exact=True), LBFGS(memory=3)], ids=repr)
def test_the_config_round_trips_through_json(inner):
    config = optimizer_config(WeightsOnly(inner))
    assert config == {"name": "weights_only", "inner": optimizer_config(inner)}
    assert optimizer_from_config(json.loads(json.dumps(config))) == WeightsOnly(inner)


def test_a_model_trained_with_weights_only_resumes_after_loading(data, tmp_path):
    x, y = data
    whole, parts = (mlp_xp.MLP([3, 2], dtype="float64", seed=0) for _ in range(2))
    options = dict(optimizer=WeightsOnly(SGD(momentum=0.9)), lr=0.05, batch_size=4)
    whole.fit(x, y, epochs=4, **options)
    parts.fit(x, y, epochs=2, **options)
    parts = mlp_xp.load(parts.save(tmp_path / "parts"))
    parts.fit(x, y, epochs=2, resume=True, **options)
    for p, q in zip(parameters(parts), parameters(whole)):
        np.testing.assert_array_equal(p, q)
