"""fit's options beyond plain descent: sample weights, L2 penalty, clipping, validation,
callbacks, early stopping, schedules, resuming; initialisation; user-registered functions."""

import math
import pickle

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.costs import COSTS
from mlp_xp.schedules import Adaptive

TOL = 1e-10  # float64 throughout: differences are rounding only


@pytest.fixture
def data(rng):
    x = rng.normal(size=(12, 3))
    return x, x @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(12, 2))


def gd_step(make_mlp, x, y, **fit):
    """A [3, 4, 2] tanh model after one full-batch step, and its starting parameters."""
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1)
    start = parameters(model)
    model.fit(x, y, loss="mse", lr=0.5, batch_size=None, epochs=1, **fit)
    return model, start


def assert_same_parameters(a, b, tol=TOL):
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)


def test_integer_sample_weights_equal_repeated_samples(make_mlp, data):
    x, y = data
    counts = np.arange(len(x)) % 3  # 0, 1, 2: dropped, once, twice
    weighted, _ = gd_step(make_mlp, x, y, sample_weight=counts)
    repeated, _ = gd_step(make_mlp, np.repeat(x, counts, axis=0), np.repeat(y, counts, axis=0))
    assert_same_parameters(weighted, repeated)
    assert weighted.history.loss == pytest.approx(repeated.history.loss, rel=TOL)


def test_l2_penalty_adds_alpha_w_over_n_to_the_gradient(make_mlp, data):
    x, y = data
    alpha = 0.3
    model, start = gd_step(make_mlp, x, y, alpha=alpha)
    reference = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1)
    loss, dW, db = reference.gradients(x, y, "mse")
    n = len(x)
    expected = [W - 0.5 * (host(g) + alpha / n * W) for W, g in zip(start[:2], dW)]
    expected += [b - 0.5 * host(g) for b, g in zip(start[2:], db)]
    for got, want in zip(parameters(model), expected):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    penalty = alpha / (2 * n) * sum(float((W**2).sum()) for W in start[:2])
    assert model.history.loss[0] == pytest.approx(loss + penalty, rel=TOL)


def test_clip_norm_bounds_the_step(make_mlp, data):
    x, y = data
    model, start = gd_step(make_mlp, x, y, clip_norm=1e-3)
    step = math.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(parameters(model), start)))
    assert step == pytest.approx(0.5 * 1e-3, rel=1e-9)
    unclipped, _ = gd_step(make_mlp, x, y, clip_norm=1e6)
    plain, _ = gd_step(make_mlp, x, y)
    assert_same_parameters(unclipped, plain)


def test_validation_loss_and_score_are_those_of_the_epoch_end(make_mlp, rng):
    x, labels = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    model = make_mlp([3, 5, 3], "tanh", "softmax", dtype="float64", seed=0)
    history = model.fit(
        x, labels, loss="cross_entropy", batch_size=8, epochs=3, validation_data=(x[:10], labels[:10])
    )
    assert len(history.val_loss) == len(history.val_score) == 3
    assert history.val_loss[-1] == pytest.approx(model.gradients(x[:10], labels[:10], "cross_entropy")[0])
    predicted = host(model.xp.argmax(model.forward(x[:10]), axis=1))
    assert history.val_score[-1] == pytest.approx(np.mean(predicted == labels[:10]))


def test_validation_score_of_a_regression_is_r2(make_mlp, data):
    from sklearn.metrics import r2_score

    x, y = data
    model = make_mlp([3, 2], dtype="float64", seed=0)
    history = model.fit(x, y, lr=0.05, batch_size=4, epochs=2, validation_data=(x, y))
    assert history.val_score[-1] == pytest.approx(r2_score(y, host(model.forward(x))), rel=1e-9)


def test_layer_gradient_norms_are_those_of_the_last_batch(make_mlp, data):
    x, y = data
    model, _ = gd_step(make_mlp, x, y)
    reference = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1)
    _, dW, _ = reference.gradients(x, y, "mse")
    assert model.history.layer_grad_norms[0] == pytest.approx([np.linalg.norm(host(g)) for g in dW])


def test_a_callback_sees_every_epoch_and_can_stop(make_mlp, data):
    x, y = data
    seen = []

    def stop_after_three(model, history):
        seen.append((model, history.n_epochs, history.loss[-1]))
        return history.n_epochs == 3

    model = make_mlp([3, 2], seed=0)
    history = model.fit(x, y, epochs=10, callbacks=stop_after_three)
    assert [n for _, n, _ in seen] == [1, 2, 3]
    assert all(m is model for m, _, _ in seen)
    assert history.n_epochs == 3 and history.stopped_early


def test_early_stopping_restores_the_best_epoch(make_mlp, data):
    """Validation targets of the opposite sign: validation loss only rises, so the
    best epoch is the first, and training stops ``patience`` epochs later."""
    x, y = data
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=3)
    history = model.fit(
        x,
        y,
        batch_size=None,
        epochs=20,
        validation_data=(x, -y),
        early_stopping=mlp_xp.EarlyStopping("val_loss", patience=2),
    )
    assert history.stopped_early and history.best_epoch == 0 and history.n_epochs == 3
    one_epoch = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=3)
    one_epoch.fit(x, y, batch_size=None, epochs=1)
    assert_same_parameters(model, one_epoch)


def test_early_stopping_on_the_training_loss_needs_no_validation_data(make_mlp, data):
    x, y = data
    model = make_mlp([3, 2], seed=0)
    rule = mlp_xp.EarlyStopping("loss", patience=1, min_delta=1e9, restore_best=False)
    history = model.fit(x, y, epochs=10, early_stopping=rule)
    assert history.n_epochs == 2 and history.best_epoch == 0


def test_adaptive_schedule_divides_lr_by_five_on_a_plateau():
    schedule = Adaptive(1.0)
    for loss in (3.0, 2.0, 2.0, 2.0):
        schedule.end_epoch(loss)
    assert schedule(7) == pytest.approx(0.2)
    schedule.end_epoch(1.0)
    assert schedule(8) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "optimizer", [mlp_xp.SGD(momentum=0.9, nesterov=True), "adam"], ids=["nesterov", "adam"]
)
def test_resumed_fits_equal_one_long_fit(make_mlp, data, optimizer):
    x, y = data
    options = dict(optimizer=optimizer, lr=0.05, batch_size=5, lr_schedule="invscaling")
    whole = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=2)
    whole.fit(x, y, epochs=4, **options)
    parts = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=2)
    parts.fit(x, y, epochs=1, **options)
    parts.fit(x, y, epochs=3, resume=True, **options)
    assert_same_parameters(parts, whole)
    assert parts.n_updates == whole.n_updates == 4 * 3


def test_resume_refuses_another_optimizer(make_mlp, data):
    x, y = data
    model = make_mlp([3, 2], seed=0)
    model.fit(x, y, epochs=1, optimizer="adam")
    before = parameters(model)
    with pytest.raises(ValueError, match="resume=True continues the last fit's optimizer"):
        model.fit(x, y, epochs=1, optimizer="sgd", resume=True)
    assert_same_parameters_as(model, before)


def assert_same_parameters_as(model, arrays):
    for p, q in zip(parameters(model), arrays):
        np.testing.assert_array_equal(p, q)


def test_named_and_custom_initialisations(make_mlp):
    lecun = make_mlp([400, 300, 2], "tanh", init="lecun", dtype="float64", seed=0)
    assert host(lecun.weights[0]).std() == pytest.approx(1 / math.sqrt(400), rel=0.02)
    glorot = make_mlp([400, 300, 2], "relu", init="glorot", dtype="float64", seed=0)
    assert np.abs(host(glorot.weights[0])).max() <= math.sqrt(6 / 700)
    calls = []

    def ones(rng, fan_in, fan_out):
        calls.append((fan_in, fan_out))
        return np.ones((fan_in, fan_out))

    custom = make_mlp([3, 4, 2], init=ones, seed=0)
    assert calls == [(3, 4), (4, 2)]
    assert all((p == 1).all() for p in parameters(custom)[:2])


def test_a_model_pickles_with_its_backend(make_mlp, data):
    x, _ = data
    model = make_mlp([3, 4, 2], seed=0)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.xp is model.xp
    np.testing.assert_array_equal(host(copy.forward(x)), host(model.forward(x)))


@pytest.fixture
def log_cosh():
    """A user cost registered for one test: C = Σ log cosh(ŷ − y)."""

    def value(xp, y, yhat):
        r = yhat - y
        return xp.sum(xp.abs(r) + xp.log1p(xp.exp(-2.0 * xp.abs(r))) - math.log(2.0), axis=1)

    yield mlp_xp.register_cost("log_cosh", value, lambda xp, y, yhat: xp.tanh(yhat - y))
    del COSTS["log_cosh"]


def test_user_activation_and_cost_backpropagate_correctly(make_mlp, data, swish, log_cosh):
    x, y = data
    model = make_mlp([3, 5, 2], "swish", dtype="float64", seed=0)
    model.biases[0] = model.xp.asarray(np.linspace(-1, 1, 5), device=model.device)
    assert mlp_xp.gradient_check(model, x, y, "log_cosh") < 1e-6
    history = model.fit(x, y, loss="log_cosh", lr=0.1, epochs=30)
    assert history.loss[-1] < history.loss[0]


@pytest.mark.parametrize(
    ("kwargs", "exception", "match"),
    [
        ({"name": "relu"}, ValueError, "exists already"),
        ({"name": ""}, TypeError, "non-empty str"),
        ({"value": None}, TypeError, "value must be a callable"),
        ({"derivative": None}, TypeError, "exactly one of derivative"),
        ({"vjp": lambda xp, z, a, g: g}, TypeError, "exactly one of derivative"),
        ({"derivative": 1.0}, TypeError, "derivative/vjp must be callable, got 1.0"),
        ({"derivative": None, "vjp": "g"}, TypeError, "derivative/vjp must be callable, got 'g'"),
        ({"init": "zeros"}, ValueError, "init must be one of"),
    ],
)
def test_bad_activation_registration_is_refused(kwargs, exception, match):
    arguments = {"name": "mine", "value": lambda xp, z: z, "derivative": lambda xp, z, a: 1.0, **kwargs}
    with pytest.raises(exception, match=match):
        mlp_xp.register_activation(**arguments)
    assert "mine" not in ACTIVATIONS


@pytest.mark.parametrize(
    ("kwargs", "exception", "match"),
    [
        ({"name": "mse"}, ValueError, "exists already"),
        ({"grad": "d"}, TypeError, "grad must be a callable"),
        ({"targets": "labels"}, ValueError, "targets must be one of"),
    ],
)
def test_bad_cost_registration_is_refused(kwargs, exception, match):
    arguments = {"name": "mine", "value": lambda xp, y, yhat: y, "grad": lambda xp, y, yhat: y, **kwargs}
    with pytest.raises(exception, match=match):
        mlp_xp.register_cost(**arguments)
    assert "mine" not in COSTS


def test_sequential_sampling_visits_the_rows_in_order(make_mlp, data):
    x, y = data
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=5)
    by_hand = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=5)
    model.fit(x, y, lr=0.3, batch_size=5, epochs=1, sampling="sequential")
    for start in (0, 5, 10):
        _, dW, db = by_hand.gradients(x[start : start + 5], y[start : start + 5], "mse")
        by_hand.weights[:] = [W - 0.3 * g for W, g in zip(by_hand.weights, dW)]
        by_hand.biases[:] = [b - 0.3 * g for b, g in zip(by_hand.biases, db)]
    assert_same_parameters(model, by_hand)
