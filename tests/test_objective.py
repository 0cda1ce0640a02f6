"""The objective that fit minimises, 𝓔_α = (Σ wᵢCᵢ + (α/2) Σ‖Ω‖²) / Σ wᵢ, as the optimizers
see it: its scale (weights w and c·w, batches weighing ≤ 1 or 0), the line search on a
multi-layer net checked against a hand computation, and the value and objective that
a custom optimizer is given."""

import numpy as np
import pytest
import reference
from conftest import parameters

import mlp_xp

SIZES, ACTIVATIONS = [3, 5, 4, 2], ["tanh", "sigmoid", "identity"]


@pytest.fixture
def data(rng):
    x = rng.normal(size=(12, 3))
    return x, np.tanh(x @ rng.normal(size=(3, 2))), rng.uniform(0.5, 2.0, size=12)


@pytest.mark.parametrize(
    ("optimizer", "batch_size"),
    [("sgd", 4), (mlp_xp.SGD(momentum=0.9), 4), ("adam", 4), ("line_search", 4), ("lbfgs", None)],
    ids=["sgd", "momentum", "adam", "line_search", "lbfgs"],
)
@pytest.mark.parametrize("scale", [1e-3, 0.25, 8.0, 1e3])
def test_weights_w_and_c_w_give_the_same_fit(optimizer, batch_size, scale, data, make_mlp):
    """Σ wᵢCᵢ / Σ wᵢ does not depend on the scale of w, also where a batch weighs ≤ 1 in
    all (c = 1e-3: batches of 4 weigh about 5e-3)."""
    x, y, w = data
    options = dict(optimizer=optimizer, lr=0.1, batch_size=batch_size, epochs=3, seed=0)
    plain = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    scaled = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    history = plain.fit(x, y, sample_weight=w, **options)
    scaled_history = scaled.fit(x, y, sample_weight=scale * w, **options)
    assert scaled_history.loss == pytest.approx(history.loss, rel=1e-9)
    for p, q in zip(parameters(scaled), parameters(plain)):
        np.testing.assert_allclose(p, q, rtol=1e-8, atol=1e-12)


def test_a_batch_of_weight_zero_gives_momentum_a_zero_gradient(data, make_mlp):
    """No cost, no gradient: the velocity carries on, θ₂ = θ₁ + μ v₁ with v₁ = −η g₁."""
    x, y, _ = data
    w = np.r_[np.ones(6), np.zeros(6)]
    model = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    start = parameters(model)
    options = dict(lr=0.1, batch_size=6, sampling="sequential", epochs=1)
    history = model.fit(x, y, sample_weight=w, optimizer=mlp_xp.SGD(momentum=0.5), **options)
    loss, dW, db = reference.loss_and_gradients(start[:3], start[3:], ACTIVATIONS, x[:6], y[:6], "mse")
    for got, p, g in zip(parameters(model), start, [*dW, *db]):
        np.testing.assert_allclose(got, p - 0.1 * g - 0.5 * 0.1 * g, rtol=1e-12, atol=1e-15)
    assert history.loss == [pytest.approx(loss, rel=1e-12)]


def penalised(params, x, y, w, alpha):
    """𝓔_α and its gradients by hand: seed 003's, plus (α/Σw) Ω for the weights."""
    n_layers = len(params) // 2
    value, dW, db = reference.loss_and_gradients(
        params[:n_layers], params[n_layers:], ACTIVATIONS, x, y, "mse", w
    )
    squares = sum(float((W**2).sum()) for W in params[:n_layers])
    value += alpha / 2 * squares / w.sum()
    return value, [g + alpha / w.sum() * W for g, W in zip(dW, params[:n_layers])] + db


def armijo_by_hand(params, x, y, w, alpha, lr, c, shrink):
    """θ − α g with the first α = η, η·shrink, ... where 𝓔_α(θ − α g) ≤ 𝓔_α(θ) − c α ‖g‖²."""
    value, grads = penalised(params, x, y, w, alpha)
    squared_norm = sum(float((g**2).sum()) for g in grads)
    step = lr
    while True:
        trial = [p - step * g for p, g in zip(params, grads)]
        if penalised(trial, x, y, w, alpha)[0] <= value - c * step * squared_norm:
            return trial, value, step
        step *= shrink


@pytest.mark.parametrize("c", [1e-4, 0.45])
def test_the_line_search_in_fit_backtracks_on_the_penalised_weighted_objective(c, data, make_mlp):
    """Full-batch gradient descent with Armijo's line search on a net of three layers, with
    sample weights and an L2 penalty: each epoch's step, parameters and loss are those
    of the same search done by hand in float64 (a step of 8 overshoots: it backtracks)."""
    x, y, w = data
    alpha, lr, shrink = 0.3, 8.0, 0.5
    model = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    params = parameters(model)
    optimizer = mlp_xp.LineSearchGD(c=c, shrink=shrink)
    steps, losses = [], []
    for _ in range(3):
        params, loss, step = armijo_by_hand(params, x, y, w, alpha, lr, c, shrink)
        steps.append(step)
        losses.append(loss)
    history = model.fit(
        x, y, sample_weight=w, alpha=alpha, optimizer=optimizer, lr=lr, batch_size=None, epochs=3,
        callbacks=lambda m, h: steps.append(m.optimizer_state["step_size"]),
    )  # fmt: skip
    assert steps[3:] == pytest.approx(steps[:3], rel=1e-12) and min(steps) < lr
    assert history.loss == pytest.approx(losses, rel=1e-12)
    for got, expected in zip(parameters(model), params):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


class Recording:
    """A custom optimizer that asks for the objective: records 𝓔(θ) as given, and 𝓔 at
    θ and at θ − g as its objective evaluates them; takes no step."""

    needs_objective = True

    def __init__(self):
        self.calls = []

    def init(self, params):
        return None

    def step(self, params, grads, state, lr, *, value, objective):
        moved = [p - g for p, g in zip(params, grads)]
        self.calls.append((value, objective(list(params)), objective(moved)))
        return list(params), state


def test_a_custom_optimizer_is_given_the_batch_objective(data, make_mlp):
    """value = 𝓔_α(θ) of the batch as a float, and objective(θ') = 𝓔_α(θ'), weights and
    penalty included; a batch of weight 0 has the objective 0."""
    x, y, w = data
    w = np.r_[np.zeros(4), w[4:]]
    model = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    params = parameters(model)
    optimizer = Recording()
    model.fit(
        x, y, sample_weight=w, alpha=0.2, optimizer=optimizer, batch_size=4, sampling="sequential", epochs=1
    )
    assert optimizer.calls[0] == (0.0, 0.0, 0.0)
    for (value, at_theta, moved), rows in zip(optimizer.calls[1:], (slice(4, 8), slice(8, 12))):
        expected, grads = penalised(params, x[rows], y[rows], w[rows], 0.2)
        assert type(value) is float and value == pytest.approx(expected, rel=1e-12)
        assert at_theta == pytest.approx(expected, rel=1e-12)
        trial = [p - g for p, g in zip(params, grads)]
        assert moved == pytest.approx(penalised(trial, x[rows], y[rows], w[rows], 0.2)[0], rel=1e-10)


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_one_gradient_step_on_the_penalised_objective(scale, data, make_mlp):
    """θ ← θ − η∇𝓔_α, with the penalty's gradient (α/Σw) Ω also where the weights sum to
    less than 1 (scale 0.01: Σw ≈ 0.15); the loss is 𝓔_α(θ₀)."""
    x, y, w = data
    model = make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1)
    start = parameters(model)
    history = model.fit(x, y, sample_weight=scale * w, alpha=0.5, lr=0.3, batch_size=None, epochs=1)
    value, grads = penalised(start, x, y, scale * w, 0.5)
    assert history.loss == [pytest.approx(value, rel=1e-12)]
    for got, p, g in zip(parameters(model), start, grads):
        np.testing.assert_allclose(got, p - 0.3 * g, rtol=1e-12, atol=1e-15)


def test_a_last_batch_of_weight_zero_has_zero_gradient_norms_and_clips_nothing(data, make_mlp):
    x, y, w = data
    w = np.r_[w[:8], np.zeros(4)]
    model, reference = (make_mlp(SIZES, ACTIVATIONS[:2], dtype="float64", seed=1) for _ in range(2))
    options = dict(lr=0.1, batch_size=4, sampling="sequential", epochs=2, clip_norm=1.0)
    history = model.fit(x, y, sample_weight=w, **options)
    reference.fit(x[:8], y[:8], sample_weight=w[:8], **options)
    assert history.layer_grad_norms == [[0.0, 0.0, 0.0]] * 2
    for p, q in zip(parameters(model), parameters(reference)):
        np.testing.assert_array_equal(p, q)


class ValueAndGradProbe:
    """A custom optimizer that asks for ``value_and_grad``: records what fit passes it; no step."""

    needs_value_and_grad = True

    def __init__(self):
        self.calls = []

    def init(self, params):
        return "state of the probe"

    def step(self, params, grads, state, lr, *, value, value_and_grad):
        self.calls.append((state, lr, float(value), float(value_and_grad(list(params))[0])))
        return list(params), state


class ObjectiveProbe(ValueAndGradProbe):
    """The same for an optimizer that asks for the objective."""

    needs_value_and_grad = False
    needs_objective = True

    def step(self, params, grads, state, lr, *, value, objective):
        self.calls.append((state, lr, value, objective(list(params))))
        return list(params), state


@pytest.mark.parametrize("optimizer", [ValueAndGradProbe, ObjectiveProbe])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_objective_of_a_float32_model_is_summed_in_float64(optimizer, weighted, make_mlp):
    """One cost of 1e8 and 999 of 1 in one batch: in float32 1e8 + 1 = 1e8. The value and the
    objective a custom optimizer gets, and the epoch's loss, are the float64 means; the
    optimizer gets its own state and the schedule's learning rate."""
    model = make_mlp([1, 1], "identity", seed=0)
    xp = model.xp
    model.weights[0] = xp.zeros((1, 1), dtype=xp.float32, device=model.device)
    y = np.r_[np.sqrt(2e8), np.full(999, np.sqrt(2.0))]
    expected = (0.5 * y.astype(np.float32) ** 2).astype(np.float64).mean()
    probe = optimizer()
    weights = {"sample_weight": np.ones(1000)} if weighted else {}
    history = model.fit(np.ones((1000, 1)), y, optimizer=probe, lr=0.25, batch_size=None, epochs=1, **weights)
    assert probe.calls == [
        ("state of the probe", 0.25, pytest.approx(expected, rel=1e-9), pytest.approx(expected, rel=1e-9))
    ]
    assert history.loss == [pytest.approx(expected, rel=1e-9)]


def test_the_weights_of_an_epoch_are_summed_in_float64(make_mlp):
    """A row of weight 2²⁴ and 999 of weight 1, one row per batch: a float32 running sum of
    the weights drops every 1 (2²⁴ + 1 = 2²⁴), the epoch's Σ wC / Σ w must not."""
    model = make_mlp([1, 1], "identity", seed=0)
    xp = model.xp
    model.weights[0] = xp.zeros((1, 1), dtype=xp.float32, device=model.device)
    y, w = np.full(1000, np.sqrt(2.0)), np.r_[2.0**24, np.ones(999)]
    history = model.fit(
        np.ones((1000, 1)), y, sample_weight=w, lr=1e-30, batch_size=1, sampling="sequential", epochs=1
    )
    costs = (0.5 * y.astype(np.float32) ** 2).astype(np.float64)
    assert history.loss == [pytest.approx((w * costs).sum() / w.sum(), rel=1e-9)]
