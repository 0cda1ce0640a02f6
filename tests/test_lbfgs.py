"""L-BFGS: the two-loop recursion, fit's objective, convergence, every backend, save and resume."""

import numpy as np
import pytest
import reference
from conftest import host, parameters, random_targets

import mlp_xp
from mlp_xp import LBFGS, cli, lbfgs
from mlp_xp.costs import COSTS
from mlp_xp.optimizers import optimizer_config, optimizer_from_config

# --- the two-loop recursion -------------------------------------------------------------------------


def dense_bfgs(pairs, gamma):
    """H = γI updated by BFGS with each pair, oldest first: H ← (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ."""
    n = pairs[0][0].shape[0]
    inverse = gamma * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        left = np.eye(n) - rho * np.outer(s, y)
        inverse = left @ inverse @ left.T + rho * np.outer(s, s)
    return inverse


def as_parameters(xp, device, v):
    """A flat vector of 6 as the parameters of a 2→2 layer: Ω (2, 2) and β (2,)."""
    return [xp.asarray(v[:4].reshape(2, 2), device=device), xp.asarray(v[4:], device=device)]


def flat(arrays):
    return np.concatenate([host(a).ravel() for a in arrays])


@pytest.mark.parametrize("m", [1, 3, 5])
def test_two_loop_equals_the_dense_bfgs_inverse_hessian(m, xp, device, rng):
    """On a quadratic ½θᵀAθ the pairs are yᵢ = A sᵢ; the two-loop product Hₖg equals m dense
    BFGS updates of H⁰ = γI, γ = sᵀy / yᵀy of the newest pair, applied to g."""
    root = rng.normal(size=(6, 6))
    hessian = root @ root.T + 6 * np.eye(6)
    steps = [rng.normal(size=6) for _ in range(m)]
    pairs = [(s, hessian @ s) for s in steps]
    g = rng.normal(size=6)
    vectors = [(as_parameters(xp, device, s), as_parameters(xp, device, y)) for s, y in pairs]
    memory = [(s, y, 1.0 / float(a @ b)) for (s, y), (a, b) in zip(vectors, pairs)]
    got = lbfgs.two_loop(xp, as_parameters(xp, device, g), memory)
    s, y = pairs[-1]
    np.testing.assert_allclose(flat(got), dense_bfgs(pairs, (s @ y) / (y @ y)) @ g, rtol=1e-12)
    assert [a.shape for a in got] == [(2, 2), (2,)]


def test_two_loop_without_memory_is_the_identity(xp, device, rng):
    g = as_parameters(xp, device, rng.normal(size=6))
    np.testing.assert_array_equal(flat(lbfgs.two_loop(xp, g, [])), flat(g))


def test_the_newest_pair_satisfies_the_secant_equation(xp, device, rng):
    """Hₖ yₖ₋₁ = sₖ₋₁: BFGS's defining property, whatever the older pairs."""
    steps = [rng.normal(size=6) for _ in range(4)]
    memory = [(as_parameters(xp, device, s), as_parameters(xp, device, np.abs(s) + s), 0.0) for s in steps]
    memory = [(s, y, 1.0 / float(host(lbfgs.dot(xp, s, y)))) for s, y, _ in memory]
    s, y, _ = memory[-1]
    np.testing.assert_allclose(flat(lbfgs.two_loop(xp, y, memory)), flat(s), rtol=1e-10)


def test_first_trial_has_unit_length_and_a_failed_search_restarts_then_stalls(xp, device):
    """f(θ) = ½‖θ‖² with a value that never decreases (as at the rounding floor): the first
    trial step along −g has length 1 (SciPy's 1/‖g‖); the search fails, θ is kept and the
    step stalls.  With a pair in memory, its failed search restarts at once from −g with
    the memory emptied (as SciPy's), and stalls when that fails too."""
    params = [xp.asarray([3.0, 4.0], dtype=xp.float64, device=device)]
    trials = []

    def flat_value(trial):
        trials.append(host(trial[0]))
        return xp.asarray(12.5, dtype=xp.float64, device=device), [trial[0]]

    optimizer = LBFGS(max_line_search=5)
    new, state = optimizer.step(
        params, params, optimizer.init(params), 0.1, value=12.5, value_and_grad=flat_value
    )
    np.testing.assert_allclose(np.linalg.norm(trials[0] - [3.0, 4.0]), 1.0)
    assert new[0] is params[0] and len(trials) == 5
    scalars = {k: v for k, v in state.items() if not isinstance(v, list)}
    assert scalars == {"n_iterations": 0, "n_evaluations": 5, "status": lbfgs.STALLED, "value": 12.5}
    pair = {"s/0": [params[0]], "y/0": [params[0]], "rho/0": 0.04}
    _, state = optimizer.step(params, params, {**state, **pair}, 0.1, value=12.5, value_and_grad=flat_value)
    assert state["status"] == lbfgs.STALLED and "rho/0" not in state
    assert state["n_evaluations"] == 15 and len(trials) == 15


def test_a_pair_without_curvature_is_skipped(xp, device):
    """A linear 𝓔(θ) = cᵀθ has y = 0, so sᵀy = 0 ≤ ε·(−αφ'(0)): the step is taken (𝓔
    decreases, the line search returns its longest decrease when no step meets the curvature
    condition), but the pair is not kept: H would stop being positive definite."""
    c = xp.asarray([1.0, -2.0], dtype=xp.float64, device=device)
    params = [xp.zeros(2, dtype=xp.float64, device=device)]

    def linear(trial):
        return xp.sum(c * trial[0]), [c]

    optimizer = LBFGS(max_line_search=4)
    new, state = optimizer.step(params, [c], optimizer.init(params), 0.1, value=0.0, value_and_grad=linear)
    assert state["value"] < 0.0 and state["n_iterations"] == 1 and state["n_evaluations"] == 4
    assert float(host(linear(new)[0])) == state["value"] and "rho/0" not in state


# --- fit with L-BFGS --------------------------------------------------------------------------------


def test_reaches_the_least_squares_solution(make_mlp, rng):
    """A linear model with mse is a convex quadratic: within a few dozen iterations L-BFGS
    reports convergence (‖∇𝓔‖∞ ≤ 1e-11, or no decrease left to measure: 𝓔's rounding floor
    bounds θ's accuracy to ≈ √ε) and fit stops, θ at the closed-form solution."""
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=50)
    solution, *_ = np.linalg.lstsq(np.c_[x, np.ones(50)], y, rcond=None)
    model = make_mlp([3, 1], dtype="float64", seed=0)
    history = model.fit(x, y, optimizer=LBFGS(gtol=1e-11, ftol=0.0), batch_size=None, epochs=100)
    assert history.converged and history.n_epochs < 30
    np.testing.assert_allclose(np.r_[parameters(model)[0][:, 0], parameters(model)[1]], solution, rtol=1e-7)


def test_reaches_the_weighted_ridge_solution(make_mlp, rng):
    """With sample weights w and an L2 penalty α the objective is
    (Σ wᵢ ½(yᵢ − xᵢΩ − β)² + ½α‖Ω‖²) / Σw, minimised where (XᵀWX + αI′) θ = XᵀWy
    (I′: the identity without the bias): L-BFGS reaches that θ."""
    x, w = rng.normal(size=(40, 3)), rng.uniform(0.0, 2.0, size=40)
    y = x @ np.array([1.0, -1.0, 2.0]) + 0.5 + rng.normal(size=40)
    design, alpha = np.c_[x, np.ones(40)], 3.0
    solution = np.linalg.solve(
        design.T @ (w[:, None] * design) + alpha * np.diag([1, 1, 1, 0]), design.T @ (w * y)
    )
    model = make_mlp([3, 1], dtype="float64", seed=0)
    options = dict(optimizer=LBFGS(gtol=1e-12, ftol=0.0), batch_size=None, epochs=100)
    history = model.fit(x, y, alpha=alpha, sample_weight=w, **options)
    assert history.converged
    np.testing.assert_allclose(np.r_[parameters(model)[0][:, 0], parameters(model)[1]], solution, rtol=1e-7)


class Probe:
    """An optimizer that asks for ``value_and_grad`` and keeps what fit passes it."""

    needs_value_and_grad = True

    def init(self, params):
        return None

    def step(self, params, grads, state, lr, *, value, value_and_grad):
        self.seen = (list(params), list(grads), value, value_and_grad)
        return list(params), state


@pytest.mark.parametrize("loss", sorted(COSTS))
def test_value_and_grad_is_the_penalised_weighted_objective_of_fit(loss, make_mlp, xp, rng):
    """For every cost, with sample weights and an L2 penalty: at θ it returns fit's own
    value and gradient, and elsewhere a gradient that matches central differences of its
    value (float64)."""
    x, w = rng.normal(size=(12, 3)), rng.uniform(0.5, 2.0, size=12)
    y = random_targets(loss, rng, (12, 2))
    model = make_mlp([3, 4, 2], "tanh", COSTS[loss].output_activation or "identity", dtype="float64", seed=0)
    probe = Probe()
    model.fit(x, y, loss=loss, optimizer=probe, batch_size=None, epochs=1, alpha=0.3, sample_weight=w)
    params, grads, value, value_and_grad = probe.seen
    here = value_and_grad(params)
    assert float(here[0]) == float(value)
    for a, b in zip(here[1], grads):
        np.testing.assert_array_equal(host(a), host(b))
    moved = [p + 0.1 * xp.asarray(rng.normal(size=p.shape), device=p.device) for p in params]
    direction = [xp.asarray(rng.normal(size=p.shape), device=p.device) for p in params]
    slope = float(lbfgs.dot(xp, value_and_grad(moved)[1], direction))
    eps = 1e-6
    ahead = float(value_and_grad([p + eps * d for p, d in zip(moved, direction)])[0])
    behind = float(value_and_grad([p - eps * d for p, d in zip(moved, direction)])[0])
    assert slope == pytest.approx((ahead - behind) / (2 * eps), rel=1e-6, abs=1e-9)


def accuracy(model, x, labels):
    return float(np.mean(np.argmax(host(model.forward(x)), axis=1) == labels))


def test_trains_xor(make_mlp):
    x, y = mlp_xp.datasets.xor()
    model = make_mlp([2, 8, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    history = model.fit(x, y, loss="binary_cross_entropy", optimizer="lbfgs", batch_size=None, epochs=100)
    np.testing.assert_array_equal(host(model.forward(x))[:, 0] > 0.5, y == 1)
    assert history.converged and history.loss[-1] < 1e-3 < history.loss[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trains_a_digits_subset_with_a_hidden_layer(dtype, make_mlp):
    """300 training images, 64 → 16 → 10: the training set is learned exactly within 60
    iterations, and the model generalises (held-out accuracy > 80 %)."""
    x_train, x_test, y_train, y_test = mlp_xp.datasets.digits(seed=0)
    model = make_mlp([64, 16, 10], "tanh", "softmax", dtype=dtype, seed=0)
    model.fit(
        x_train[:300], y_train[:300], loss="cross_entropy", optimizer="lbfgs", batch_size=None, epochs=60
    )
    assert accuracy(model, x_train[:300], y_train[:300]) == 1.0
    assert accuracy(model, x_test, y_test) > 0.8


def test_every_backend_trains_as_lbfgs_on_a_hand_written_objective(make_mlp, rng):
    """20 iterations on a 3 → 8 → 8 → 2 network: fit's parameters and counts on every backend
    are those of ``LBFGS.step`` driven on the host by the penalised cross-entropy written out
    in float64 NumPy (``reference``), to float64 rounding amplified by the iterations."""
    x, labels = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    model = make_mlp([3, 8, 8, 2], "tanh", "softmax", dtype="float64", seed=0)
    params, alpha = parameters(model), 1e-3

    def value_and_grad(theta):
        value, dW, db = reference.loss_and_gradients(
            theta[:3], theta[3:], ["tanh", "tanh", "softmax"], x, np.eye(2)[labels], "cross_entropy"
        )
        value += alpha / 2 * sum(float((W**2).sum()) for W in theta[:3]) / len(x)
        return np.asarray(value), [g + alpha / len(x) * W for g, W in zip(dW, theta[:3])] + db

    optimizer = LBFGS()
    state = optimizer.init(params)
    for _ in range(20):
        value, grads = value_and_grad(params)
        params, state = optimizer.step(params, grads, state, 0.1, value=value, value_and_grad=value_and_grad)
    options = dict(loss="cross_entropy", optimizer="lbfgs", batch_size=None, epochs=20, alpha=alpha)
    model.fit(x, labels, **options)
    for got, expected in zip(parameters(model), params):
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    # The hand loop evaluates each start outside the step; fit counts its one evaluation at the
    # start, then starts every later step from the point its line search last evaluated.
    got = model.optimizer_state
    assert [got["n_iterations"], got["n_evaluations"]] == [state["n_iterations"], state["n_evaluations"] + 1]


def counted_lbfgs():
    """An ``LBFGS`` subclass that records each call of ``value_and_grad`` its line search
    makes, and the list it appends them to."""
    calls = []

    class Counted(LBFGS):
        def step(self, params, grads, state, lr, *, value, value_and_grad):
            def counted(trial):
                calls.append(1)
                return value_and_grad(trial)

            return super().step(params, grads, state, lr, value=value, value_and_grad=counted)

    return Counted, calls


def test_counts_every_objective_evaluation(make_mlp, rng):
    """``n_evaluations`` = fit's one evaluation at the start + every call of value_and_grad by
    the line search: each later step starts from the point (𝓔, ∇𝓔) its line search last
    evaluated, which the state keeps (scikit-learn's max_fun is stopped on this count)."""
    Counted, calls = counted_lbfgs()
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    model = make_mlp([2, 6, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    history = model.fit(x, y, loss="binary_cross_entropy", optimizer=Counted(), batch_size=None, epochs=15)
    state = model.optimizer_state
    assert state["n_evaluations"] == 1 + len(calls)
    assert state["n_iterations"] == history.n_epochs and len(calls) >= history.n_epochs


def test_value_and_grad_from_state_reuses_the_state_s_point_only_where_theta_is_it(xp, device):
    """At the θ the state keeps (equal values, other arrays): its 𝓔 and ∇𝓔, nothing evaluated;
    elsewhere, or with a state that keeps no point: evaluated, and counted where it counts."""
    calls = []

    def value_and_grad(trial):
        calls.append(1)
        return xp.sum(trial[0] * trial[0]), [2.0 * trial[0]]

    theta = [xp.asarray([1.0, 2.0], dtype=xp.float64, device=device)]
    kept = [xp.asarray([9.0, 9.0], dtype=xp.float64, device=device)]
    state = {"n_evaluations": 4, "value": 5.0, "params": [theta[0] + 0.0], "grads": kept}
    value, grads, after = lbfgs.value_and_grad_from_state(theta, state, value_and_grad)
    assert (value, grads, after, calls) == (5.0, kept, state, [])
    moved = [theta[0] + 1e-12]
    value, grads, after = lbfgs.value_and_grad_from_state(moved, state, value_and_grad)
    assert calls == [1] and after["n_evaluations"] == 5 and state["n_evaluations"] == 4
    np.testing.assert_allclose(host(grads[0]), 2.0 * host(moved[0]))
    for other in (None, lbfgs.without_evaluation(state)):
        assert lbfgs.value_and_grad_from_state(theta, other, value_and_grad)[2] == (
            other if other is None else {**other, "n_evaluations": 5}
        )
    assert len(calls) == 3


IMMUTABLE = pytest.mark.skip_backend("jax", reason="JAX arrays are immutable: no callback writes in them")


@pytest.mark.parametrize("in_place", [False, pytest.param(True, marks=IMMUTABLE)])
def test_parameters_set_by_a_callback_are_evaluated_anew(in_place, make_mlp, rng):
    """A callback halves Ω¹ after epoch 2, by assignment or by writing into the array: the
    next step starts from 𝓔 and ∇𝓔 at the halved parameters (the loss recorded for epoch 3
    is theirs), which costs one evaluation more; equal values would have cost none."""
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30).astype(float)
    expected = []

    def halve(model, history):
        if history.n_epochs == 2:
            if in_place:
                model.weights[0][...] = 0.5 * model.weights[0]
            else:
                model.weights[0] = 0.5 * model.weights[0]
            expected.append(model.gradients(x, y, loss="binary_cross_entropy")[0])

    Counted, calls = counted_lbfgs()
    model = make_mlp([2, 6, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    options = dict(loss="binary_cross_entropy", optimizer=Counted(ftol=0.0), batch_size=None, epochs=4)
    history = model.fit(x, y, callbacks=halve, **options)
    assert history.loss[2] == pytest.approx(expected[0], rel=1e-12) and history.loss[2] != history.loss[1]
    assert model.optimizer_state["n_evaluations"] == 2 + len(calls)


def test_a_resumed_fit_evaluates_its_own_objective(make_mlp, rng):
    """resume=True on other targets: the first loss recorded is the new objective's at θ, not
    the value the state keeps of the last fit's objective at the same θ."""
    x = rng.normal(size=(30, 2))
    model = make_mlp([2, 4, 1], "tanh", "identity", dtype="float64", seed=0)
    options = dict(optimizer="lbfgs", batch_size=None)
    model.fit(x, x[:, 0] - x[:, 1], epochs=3, **options)
    new_targets = x[:, 0] * x[:, 1]
    expected = model.gradients(x, new_targets)[0]
    history = model.fit(x, new_targets, epochs=1, resume=True, **options)
    assert history.loss[0] == pytest.approx(expected, rel=1e-12)


def test_mini_batches_evaluate_every_step(make_mlp, rng):
    """WeightsOnly(LBFGS) lets mini-batches through: each batch has its own objective, so
    every step evaluates 𝓔 and ∇𝓔 on its batch, none takes the previous batch's."""
    Counted, calls = counted_lbfgs()
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    model = make_mlp([2, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    optimizer = mlp_xp.optimizers.WeightsOnly(Counted(ftol=0.0))
    model.fit(x, y, loss="binary_cross_entropy", optimizer=optimizer, batch_size=10, epochs=2)
    assert model.n_updates == 6 and model.optimizer_state["n_evaluations"] == 6 + len(calls)


def test_a_callback_can_stop_on_the_evaluation_count(make_mlp, rng):
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    model = make_mlp([2, 6, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    history = model.fit(
        x,
        y,
        loss="binary_cross_entropy",
        optimizer="lbfgs",
        batch_size=None,
        epochs=100,
        callbacks=lambda model, history: model.optimizer_state["n_evaluations"] >= 10,
    )
    assert history.stopped_early and 10 <= model.optimizer_state["n_evaluations"] <= 10 + 21


def test_reads_one_transfer_per_evaluation_and_nothing_else(monkeypatch, rng):
    """On array_api_strict: the L-BFGS step's host reads are one ``host_floats`` transfer per
    step (φ(0), φ'(0), ‖∇𝓔‖∞, ‖d‖), one per trial step, and, from the second step on, one
    flag (θ is still the point the state keeps); no other scalar is read per iteration
    (fit(epochs=3) and fit(epochs=8) read the same scalars: those of the per-fit data checks)."""
    xs = pytest.importorskip("array_api_strict")
    array_type, reads, transfers = type(xs.asarray(0.0)), [], []
    for method in ("__float__", "__bool__", "__int__", "__index__"):
        original = getattr(array_type, method)
        monkeypatch.setattr(array_type, method, lambda self, _f=original: reads.append(1) or _f(self))
    original_transfer = lbfgs.host_floats
    monkeypatch.setattr(lbfgs, "host_floats", lambda xp, v: transfers.append(1) or original_transfer(xp, v))
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    counted = []
    for epochs in (3, 8):
        reads.clear(), transfers.clear()
        model = mlp_xp.MLP([2, 6, 2], "tanh", "softmax", backend="array_api_strict", dtype="float64", seed=0)
        model.fit(x, y, loss="cross_entropy", optimizer="lbfgs", batch_size=None, epochs=epochs)
        trials = model.optimizer_state["n_evaluations"] - 1  # all but fit's first evaluation
        assert model.history.n_epochs == epochs and len(transfers) == trials + epochs + (epochs - 1)
        counted.append(len(reads))
    assert counted[0] == counted[1]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"batch_size": 16}, "trains on the full batch: pass batch_size=None, got 16"),
        ({"batch_size": None, "clip_norm": 1.0}, "needs the true gradient: pass clip_norm=None, got 1.0"),
    ],
)
def test_mini_batches_and_clipping_are_refused_before_anything_changes(options, words, make_mlp, rng):
    x, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    model = make_mlp([2, 1], seed=0)
    model.fit(x, y, optimizer="adam", batch_size=4, epochs=1)
    before, optimizer, state = parameters(model), model.optimizer, model.optimizer_state
    with pytest.raises(ValueError, match=words):
        model.fit(x, y, optimizer="lbfgs", epochs=1, **options)
    assert model.optimizer is optimizer and model.optimizer_state is state
    for a, b in zip(parameters(model), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"memory": 0}, ValueError, "memory must be >= 1"),
        ({"memory": 2.5}, TypeError, "memory must be an int"),
        ({"gtol": -1.0}, ValueError, "gtol must be in [0, inf)"),
        ({"ftol": "small"}, TypeError, "ftol must be a real number"),
        ({"c1": 0.0}, ValueError, "c1 must be in (0, 1)"),
        ({"c1": 0.5, "c2": 0.4}, ValueError, "c2 must be in (0.5, 1)"),
        ({"max_line_search": 0}, ValueError, "max_line_search must be >= 1"),
    ],
)
def test_bad_hyper_parameters_raise_naming_the_argument(kwargs, error, words):
    with pytest.raises(error) as info:
        LBFGS(**kwargs)
    assert words in str(info.value)


# --- state, save and resume -------------------------------------------------------------------------


def test_memory_keeps_the_newest_m_pairs(make_mlp, rng):
    x, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    model = make_mlp([2, 6, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    model.fit(
        x, y, loss="binary_cross_entropy", optimizer=LBFGS(memory=3, ftol=0.0), batch_size=None, epochs=6
    )
    state = model.optimizer_state
    assert sorted(k for k in state if "/" in k) == sorted(
        f"{v}/{i}" for v in ("s", "y", "rho") for i in range(3)
    )
    for i in range(3):
        assert [a.shape for a in state[f"s/{i}"]] == [a.shape for a in (*model.weights, *model.biases)]
        assert state[f"rho/{i}"] > 0.0
    # The newest pair's s is the last step taken: θ now − θ one epoch ago.
    before = make_mlp([2, 6, 1], "tanh", "sigmoid", dtype="float64", seed=0)
    before.fit(
        x, y, loss="binary_cross_entropy", optimizer=LBFGS(memory=3, ftol=0.0), batch_size=None, epochs=5
    )
    for s, now, then in zip(state["s/2"], parameters(model), parameters(before)):
        np.testing.assert_allclose(host(s), now - then, rtol=1e-12, atol=1e-15)


def test_resume_through_save_and_load_continues_exactly(make_mlp, backend, device, rng, tmp_path):
    """3 iterations, save, load, 4 more with resume=True == 7 in one go, bit for bit: the pairs
    travel as arrays per parameter (s/i, y/i), ρ and the counts as JSON numbers, and so does
    the point the state keeps (params, grads, value)."""
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    optimizer = LBFGS(memory=2, ftol=0.0)
    options = dict(loss="cross_entropy", optimizer=optimizer, batch_size=None, alpha=1e-2)
    once = make_mlp([3, 5, 3], "tanh", "softmax", dtype="float64", seed=0)
    once.fit(x, y, epochs=7, **options)
    first = make_mlp([3, 5, 3], "tanh", "softmax", dtype="float64", seed=0)
    first.fit(x, y, epochs=3, **options)
    resumed = mlp_xp.load(first.save(tmp_path / "half"), backend=backend, device=device)
    assert resumed.optimizer == optimizer
    resumed.fit(x, y, epochs=4, resume=True, **options)
    for a, b in zip(parameters(resumed), parameters(once)):
        np.testing.assert_array_equal(a, b)
    # The resumed fit evaluates 𝓔 and ∇𝓔 at its start (the state's evaluation belongs to the
    # last fit's objective), once more than the fit in one go, which gives the same numbers.
    assert {k: v for k, v in resumed.optimizer_state.items() if not isinstance(v, list)} == {
        **{k: v for k, v in once.optimizer_state.items() if not isinstance(v, list)},
        "n_evaluations": once.optimizer_state["n_evaluations"] + 1,
    }


def test_config_round_trip():
    optimizer = LBFGS(memory=4, gtol=1e-7)
    assert optimizer_from_config(optimizer_config(optimizer)) == optimizer
    assert optimizer_config(optimizer)["name"] == "lbfgs" and mlp_xp.OPTIMIZERS["lbfgs"] is LBFGS


@pytest.mark.parametrize("data", ["xor", "seed004"])
def test_the_command_line_trains_with_lbfgs(data, capsys, tmp_path):
    """``mlp-xp train --optimizer lbfgs``; on seed 004's neuron β stays at 0 (the bias part of
    every gradient the line search sees is zeroed too)."""
    status = cli.main(["train", "--data", data, "--optimizer", "lbfgs", "--save", str(tmp_path / "m.npz")])
    out = capsys.readouterr().out
    assert status == 0 and "lbfgs lr 1, batch size all (gradient descent)" in out
    assert "; training accuracy 100.0%\n" in out
    if data == "seed004":
        assert float(host(mlp_xp.load(tmp_path / "m.npz").biases[0])[0]) == 0.0


# --- what fit records of its L-BFGS steps -----------------------------------------------------------


def test_fit_records_each_epoch_at_the_start_of_its_step(make_mlp, rng):
    """Each epoch of a full-batch L-BFGS fit records 𝓔 and the layers' ‖∇Ωʲ‖ at the θ its
    step starts from (the model before the fit, then after each epoch's callbacks), in
    float64, whether the step evaluated them or took those its state kept from the last
    line search; and the schedule hears each update's index, as for any optimizer."""
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1)
    starts, steps = [parameters(model)], []

    def record(model, history):
        starts.append(parameters(model))

    history = model.fit(
        x,
        y,
        optimizer="lbfgs",
        batch_size=None,
        epochs=3,
        callbacks=[record],
        lr_schedule=lambda k: steps.append(k) or 0.1,
    )
    assert history.n_epochs == 3 and steps == [0, 1, 2]
    reference = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1)
    xp, n_layers = reference.xp, len(reference.weights)
    for epoch, start in enumerate(starts[:3]):
        reference.weights[:] = [xp.asarray(p, device=reference.device) for p in start[:n_layers]]
        reference.biases[:] = [xp.asarray(p, device=reference.device) for p in start[n_layers:]]
        value, dW, _ = reference.gradients(x, y, "mse")
        assert history.loss[epoch] == pytest.approx(value, rel=1e-13, abs=0.0)
        norms = [np.linalg.norm(host(g)) for g in dW]
        assert history.layer_grad_norms[epoch] == pytest.approx(norms, rel=1e-12)
