"""Training: GD / SGD / mini-batch semantics, schedules, stopping, real data, determinism."""

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp import datasets
from mlp_xp.schedules import get_schedule


def accuracy(model, x, labels):
    return float(np.mean(np.argmax(host(model.forward(x)), axis=1) == labels))


def test_xor_is_learned_exactly(make_mlp):
    x, y = datasets.xor()
    model = make_mlp([2, 8, 1], "tanh", "sigmoid", seed=0)
    history = model.fit(x, y, loss="binary_cross_entropy", lr=1.0, batch_size=None, epochs=1000)
    np.testing.assert_array_equal(host(model.forward(x))[:, 0] > 0.5, y == 1)
    assert history.loss[-1] < 0.05 < history.loss[0]


def test_seed_004_points_are_separated_by_gradient_descent(make_mlp):
    x, y = datasets.seed004_points()
    model = make_mlp([2, 1], output_activation="sigmoid", dtype="float64", seed=0)
    model.fit(x, y, loss="mse", lr=1.0, batch_size=None, epochs=200)
    np.testing.assert_array_equal(host(model.forward(x))[:, 0] > 0.5, y == 1)


def test_digits_reach_95_percent_test_accuracy(make_mlp):
    x_train, x_test, y_train, y_test = datasets.digits(seed=0)
    model = make_mlp([64, 64, 10], "relu", "softmax", seed=0)
    history = model.fit(x_train, y_train, loss="cross_entropy", lr=0.1, batch_size=32, epochs=30)
    assert accuracy(model, x_test, y_test) >= 0.95
    assert history.loss[-1] < history.loss[0] / 5


def test_gradient_descent_solves_least_squares(make_mlp, rng):
    """A linear model (no hidden layer) + mse is convex: GD reaches the lstsq solution."""
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=50)
    model = make_mlp([3, 1], dtype="float64", seed=0)
    history = model.fit(x, y, lr=0.5, batch_size=None, epochs=10_000, tol=1e-10)
    solution, *_ = np.linalg.lstsq(np.c_[x, np.ones(50)], y, rcond=None)
    assert history.converged and history.grad_norm[-1] <= 1e-10
    assert history.n_epochs < 10_000
    np.testing.assert_allclose(host(model.weights[0])[:, 0], solution[:3], rtol=1e-8)
    np.testing.assert_allclose(host(model.biases[0]), solution[3:], rtol=1e-8)


@pytest.mark.parametrize(
    ("batch_size", "sampling", "updates_per_epoch"),
    [
        (None, "shuffle", 1),
        (1, "shuffle", 10),
        (3, "shuffle", 4),
        (10, "shuffle", 1),
        (3, "uniform", 4),
        (None, "uniform", 1),
    ],
)
def test_updates_per_epoch(batch_size, sampling, updates_per_epoch, make_mlp, rng):
    """GD: 1 update of N samples; SGD: N of 1; mini-batch: ⌈N/M⌉ of M (the seeds' table)."""
    steps = []
    model = make_mlp([2, 3, 1], seed=0)
    model.fit(
        rng.normal(size=(10, 2)),
        rng.normal(size=10),
        batch_size=batch_size,
        sampling=sampling,
        epochs=3,
        lr_schedule=lambda k: steps.append(k) or 0.01,
    )
    assert steps == list(range(3 * updates_per_epoch))


def test_full_batch_step_is_one_gradient_descent_step(make_mlp, rng):
    """θ₁ = θ₀ − η ∇𝓔(S, θ₀) exactly, with ∇𝓔 from ``gradients``."""
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    before = parameters(model)
    _, dW, db = model.gradients(x, y)
    model.fit(x, y, lr=0.05, batch_size=None, epochs=1)
    for p0, g, p1 in zip(before, [*dW, *db], parameters(model)):
        np.testing.assert_allclose(p1, p0 - 0.05 * host(g), rtol=1e-12)


def test_schedules():
    assert [get_schedule("constant", 0.5, 0.5)(k) for k in range(3)] == [0.5, 0.5, 0.5]
    assert [get_schedule("robbins_monro", 1.0, 0.5)(k) for k in range(4)] == [1.0, 1 / 2, 1 / 3, 1 / 4]
    assert get_schedule("invscaling", 1.0, 0.5)(3) == pytest.approx(0.5)


def test_same_seed_same_model_different_seed_different_order(make_mlp, rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    fits = []
    for fit_seed in (1, 1, 2):
        model = make_mlp([3, 5, 1], seed=7)
        model.fit(x, y, batch_size=4, epochs=3, seed=fit_seed)
        fits.append(parameters(model))
    for a, b in zip(fits[0], fits[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(fits[0], fits[2]))


def test_fit_keeps_everything_on_the_model_device(make_mlp, rng):
    """On array_api_strict the device is Device('device1'): a creation without device= fails."""
    model = make_mlp([3, 4, 2], "relu", "softmax", seed=0)
    model.fit(
        rng.normal(size=(12, 3)),
        rng.integers(0, 2, size=12),
        loss="cross_entropy",
        batch_size=5,
        epochs=2,
        tol=1e-12,
        sampling="uniform",
        lr_schedule="invscaling",
    )
    for p in (*model.weights, *model.biases):
        assert p.device == model.device and p.dtype == model.dtype


def test_divergence_raises_and_keeps_the_last_finite_epoch(make_mlp, rng):
    x, y = rng.normal(size=(16, 2)) * 100, rng.normal(size=16) * 100
    model = make_mlp([2, 16, 1], "relu", seed=0)
    before = parameters(model)
    with pytest.raises(FloatingPointError, match="diverged in epoch 1"):
        model.fit(x, y, lr=1e3, batch_size=4, epochs=5)
    for a, b in zip(before, parameters(model)):
        np.testing.assert_array_equal(a, b)


def test_divergence_can_warn_instead(make_mlp, rng):
    x, y = rng.normal(size=(16, 2)), rng.normal(size=16)
    model = make_mlp([2, 16, 1], "relu", seed=0)
    model.fit(x, y, lr=0.01, epochs=2)
    good = parameters(model)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = model.fit(x * 1e6, y * 1e6, lr=1e6, batch_size=4, epochs=5, on_divergence="warn")
    assert history.n_epochs == 0
    for a, b in zip(good, parameters(model)):
        np.testing.assert_array_equal(a, b)
        assert np.all(np.isfinite(a))


def test_weights_are_assignable_lists(make_mlp):
    model = make_mlp([2, 2], seed=0)
    xp = model.xp
    model.weights[0] = xp.asarray([[1.0, 0.0], [0.0, 2.0]], dtype=model.dtype, device=model.device)
    model.biases[0] = xp.asarray([0.5, -1.0], dtype=model.dtype, device=model.device)
    np.testing.assert_allclose(host(model.forward([[3.0, 4.0]])), [[3.5, 7.0]])


def test_fit_updates_the_lists_in_place_and_leaves_inputs_alone(make_mlp, rng):
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    x0, y0 = x.copy(), y.copy()
    model = make_mlp([2, 3, 1], seed=0)
    weights = model.weights
    model.fit(x, y, epochs=2)
    assert model.weights is weights
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_custom_optimizer_object(make_mlp, rng):
    """Any object with init/step is an optimizer: here SGD at half the rate, counted."""

    class HalfSGD(mlp_xp.SGD):
        def init(self, params):
            return 0

        def step(self, params, grads, state, lr):
            params, _ = super().step(params, grads, None, lr / 2)
            return params, state + 1

    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    halved, plain = make_mlp([2, 3, 1], seed=0), make_mlp([2, 3, 1], seed=0)
    halved.fit(x, y, optimizer=HalfSGD(), lr=0.2, batch_size=None, epochs=2)
    plain.fit(x, y, optimizer="sgd", lr=0.1, batch_size=None, epochs=2)
    for a, b in zip(parameters(halved), parameters(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_verbose_prints_one_line_per_epoch(make_mlp, rng, capsys):
    model = make_mlp([2, 3, 1], seed=0)
    history = model.fit(rng.normal(size=(6, 2)), rng.normal(size=6), epochs=3, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"epoch {e}/3  loss {loss:.6g}  {seconds:.3f} s"
        for e, loss, seconds in zip((1, 2, 3), history.loss, history.time)
    ]


def test_an_interrupted_fit_leaves_the_last_complete_epoch(make_mlp, rng):
    """Ctrl-C in the middle of epoch 2: the model holds the parameters after epoch 1."""
    x, y = rng.normal(size=(12, 2)), rng.normal(size=12)
    done, interrupted = make_mlp([2, 4, 1], seed=0), make_mlp([2, 4, 1], seed=0)
    done.fit(x, y, batch_size=3, epochs=1, seed=1)

    def schedule(k):
        if k == 6:  # the third of the four updates of epoch 2
            raise KeyboardInterrupt
        return 0.1

    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, y, batch_size=3, epochs=3, seed=1, lr_schedule=schedule)
    for a, b in zip(parameters(done), parameters(interrupted)):
        np.testing.assert_array_equal(a, b)
