"""fit's arithmetic at the edges: batches of total weight 0, sums near the float32
limit, the learning rate's type, the penalised stopping test."""

import math

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp

OPTIMIZERS = ["sgd", "line_search"]


def assert_equal_parameters(a, b):
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_array_equal(p, q)


def set_parameters(model, weights, biases):
    xp = model.xp
    model.weights[:] = [xp.asarray(W, dtype=model.dtype, device=model.device) for W in weights]
    model.biases[:] = [xp.asarray(b, dtype=model.dtype, device=model.device) for b in biases]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_batch_of_total_weight_zero_changes_nothing(optimizer, dtype, make_mlp, rng):
    """Its gradient is 0, L2 penalty included, and it adds nothing to the epoch loss:
    the fit equals the fit without those rows, on every backend and dtype."""
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    weight = np.r_[0.0, 0.0, rng.uniform(0.5, 2.0, size=8)]  # the first batch weighs 0
    options = dict(optimizer=optimizer, lr=0.2, batch_size=2, sampling="sequential", epochs=3, alpha=0.1)
    weighted, reference = (
        make_mlp([3, 4, 2], "tanh", dtype=dtype, seed=0),
        make_mlp([3, 4, 2], "tanh", dtype=dtype, seed=0),
    )
    history = weighted.fit(x, y, sample_weight=weight, **options)
    expected = reference.fit(x[2:], y[2:], sample_weight=weight[2:], **options)
    assert_equal_parameters(weighted, reference)
    assert history.loss == pytest.approx(expected.loss, rel=1e-6 if dtype == "float32" else 1e-12)


def test_an_epoch_that_draws_only_zero_weights_has_a_nan_loss_and_goes_on(make_mlp, rng):
    """Uniform sampling may draw only rows of weight 0 in an epoch: no update, no
    divergence, and a loss of NaN (the mean of nothing)."""
    x, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    weight = np.r_[1.0, np.zeros(7)]
    model = make_mlp([2, 3, 1], "tanh", seed=0)
    seen = []
    history = model.fit(
        x, y, sample_weight=weight, batch_size=4, sampling="uniform", alpha=0.1, epochs=6, seed=3,
        callbacks=lambda m, h: seen.append(parameters(m)),
    )  # fmt: skip
    empty = [math.isnan(loss) for loss in history.loss]
    assert history.n_epochs == 6 and any(empty) and not all(empty)
    for epoch in np.flatnonzero(empty[1:]) + 1:
        for p, q in zip(seen[epoch], seen[epoch - 1]):
            np.testing.assert_array_equal(p, q)


def test_finite_parameters_whose_sum_overflows_are_not_a_divergence(make_mlp, rng):
    """Weights of 1e38 on an input that is always 0: finite, never used, never updated."""
    model = make_mlp([2, 8, 1], "tanh", seed=0)
    weights = [host(W) for W in model.weights]
    weights[0][0, :] = 1e38
    set_parameters(model, weights, [host(b) for b in model.biases])
    x = np.c_[np.zeros(16), rng.normal(size=16)]
    history = model.fit(x, rng.normal(size=16), lr=0.01, batch_size=4, epochs=2)
    assert history.n_epochs == 2
    np.testing.assert_array_equal(host(model.weights[0])[0], np.float32(1e38))


def test_the_batch_cost_of_gradients_is_summed_without_overflow(make_mlp):
    """Costs of 5e35 each: their float32 sum over 1000 rows would be infinite."""
    model = make_mlp([1, 1], "identity", seed=0)
    set_parameters(model, [[[1e18]]], [[0.0]])
    loss, _, _ = model.gradients(np.ones((1000, 1)), np.zeros(1000), "mse")
    assert loss == pytest.approx(0.5 * float(np.float32(1e18)) ** 2, rel=1e-6)


def test_the_epoch_and_validation_losses_are_summed_in_float64(make_mlp):
    """One batch of cost 1e8, then 999 of cost 1: in float32, 1e8 + 1 = 1e8 (one
    update of lr 1e-30 changes no cost); the validation set's costs alike."""
    model = make_mlp([1, 1], "identity", seed=0)
    set_parameters(model, [[[0.0]]], [[0.0]])
    x, y = np.ones((1000, 1)), np.r_[np.sqrt(2e8), np.full(999, np.sqrt(2.0))]
    history = model.fit(x, y, lr=1e-30, batch_size=1, sampling="sequential", epochs=1, validation_data=(x, y))
    costs = 0.5 * y.astype(np.float32) ** 2  # the model's float32 costs
    assert history.loss[0] == pytest.approx(costs.astype(np.float64).sum() / 1000, rel=1e-9)
    assert history.val_loss[0] == pytest.approx(costs.astype(np.float64).sum() / 1000, rel=1e-9)


def test_clip_norm_clips_a_gradient_whose_squared_norm_overflows(make_mlp):
    """‖g‖ ≈ 1e20: ‖g‖² overflows float32; the step is still lr · clip_norm long."""
    model = make_mlp([1, 1], "identity", seed=0)
    set_parameters(model, [[[0.0]]], [[0.0]])
    model.fit(np.full((4, 1), 1e10), np.full(4, -1e10), lr=0.1, batch_size=None, epochs=1, clip_norm=1.0)
    step = np.sqrt(
        sum(float(p.astype(np.float64) @ p.astype(np.float64)) for p in map(np.ravel, parameters(model)))
    )
    assert step == pytest.approx(0.1, rel=1e-5)


def test_tol_stops_at_the_penalised_optimum(make_mlp, rng):
    """With alpha, the stopping test measures the gradient of the objective that
    gradient descent minimises, 𝓔 + (α/2N)‖Ω‖², which vanishes at its optimum."""
    x = rng.normal(size=(20, 3))
    y = x @ rng.normal(size=(3, 1)) + 0.5
    model = make_mlp([3, 1], "identity", dtype="float64", seed=0)
    alpha, tol = 2.0, 1e-8
    history = model.fit(x, y, lr=0.5, batch_size=None, epochs=5000, alpha=alpha, tol=tol)
    assert history.converged and history.n_epochs < 5000
    _, dW, db = model.gradients(x, y)
    gradient = [host(dW[0]) + alpha / len(x) * host(model.weights[0]), host(db[0])]
    norm = np.sqrt(sum((g**2).sum() for g in gradient))
    assert norm <= tol and history.grad_norm[-1] == pytest.approx(norm, rel=1e-6, abs=1e-12)


def test_a_schedule_s_numpy_scalar_keeps_the_model_s_dtype(make_mlp, rng):
    x, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    model = make_mlp([2, 3, 1], "tanh", seed=0)
    model.fit(x, y, optimizer="line_search", lr_schedule=lambda k: np.exp(-0.01 * k), batch_size=4, epochs=2)
    assert all(p.dtype == model.xp.float32 for p in (*model.weights, *model.biases))


@pytest.mark.parametrize(
    ("value", "exception"),
    [
        (None, TypeError),
        ("0.1", TypeError),
        (np.array([0.1]), TypeError),
        (-0.1, ValueError),
        (math.nan, ValueError),
        (0.0, ValueError),
    ],
    ids=["None", "str", "array", "negative", "nan", "zero"],
)
def test_a_schedule_must_return_a_positive_finite_number(value, exception, make_mlp, rng):
    """Refused at the first update: the model keeps everything of its last fit."""
    x, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    model = make_mlp([2, 3, 1], "tanh", seed=0)
    history = model.fit(x, y, optimizer="adam", epochs=1)
    before, optimizer, state = parameters(model), model.optimizer, model.optimizer_state
    with pytest.raises(exception, match="lr_schedule must return a positive finite number"):
        model.fit(x, y, optimizer="sgd", lr_schedule=lambda k: value, epochs=2)
    assert_equal_parameters_as(model, before)
    assert model.optimizer is optimizer and model.optimizer_state is state and model.history is history


def assert_equal_parameters_as(model, arrays):
    for p, q in zip(parameters(model), arrays):
        np.testing.assert_array_equal(p, q)


def test_an_lr_array_is_refused_by_name(make_mlp, rng):
    model = make_mlp([2, 1], seed=0)
    with pytest.raises(TypeError, match="lr must be a positive number, got array"):
        model.fit(rng.normal(size=(4, 2)), rng.normal(size=4), lr=np.array([0.1]))


def test_an_estimator_trains_with_sparse_sample_weights(backend, rng):
    """MLPRegressor's defaults (alpha 1e-4, float64 data trained in float64) with
    batches that hold only samples of weight 0."""
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    weight = np.where(np.arange(40) % 10 == 0, 1.0, 0.0)
    regressor = mlp_xp.MLPRegressor(
        (4,), batch_size=4, max_iter=3, shuffle=False, backend=backend, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        regressor.fit(x, y, sample_weight=weight)
    assert regressor.n_iter_ == 3 and all(math.isfinite(loss) for loss in regressor.loss_curve_)
