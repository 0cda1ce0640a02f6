"""Optimizers: hand-computed steps, scikit-learn's reference, least squares, Armijo, checks, configs."""

import json
import math

import array_api_compat
import numpy as np
import pytest
from conftest import host, parameters
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from mlp_xp.optimizers import (
    LBFGS,
    OPTIMIZERS,
    SGD,
    Adam,
    LineSearchGD,
    get_optimizer,
    optimizer_config,
    optimizer_from_config,
)

THETA, G1, G2 = [1.0, -2.0], [0.5, 1.0], [0.25, -0.5]


def arrays(xp, device, *values, dtype="float64"):
    return [xp.asarray(v, dtype=getattr(xp, dtype), device=device) for v in values]


def two_steps(optimizer, xp, device, lr=0.1):
    """θ after one and after two updates from THETA, with gradients G1 then G2."""
    params = arrays(xp, device, THETA)
    state = optimizer.init(params)
    first, state = optimizer.step(params, arrays(xp, device, G1), state, lr)
    second, state = optimizer.step(first, arrays(xp, device, G2), state, lr)
    return host(first[0]), host(second[0]), state


# --- (a) the first and second steps, by hand and against scikit-learn ------------------------------


def test_plain_sgd_steps_and_has_no_state(xp, device):
    first, second, state = two_steps(SGD(), xp, device)
    np.testing.assert_allclose(first, [0.95, -2.1], rtol=1e-15)  # θ − η g1
    np.testing.assert_allclose(second, [0.925, -2.05], rtol=1e-15)  # − η g2
    assert state is None


def test_momentum_steps(xp, device):
    # v1 = −η g1 = (−0.05, −0.1); v2 = μ v1 − η g2 = (−0.07, −0.04)
    first, second, state = two_steps(SGD(momentum=0.9), xp, device)
    np.testing.assert_allclose(first, [0.95, -2.1], rtol=1e-15)
    np.testing.assert_allclose(second, [0.88, -2.14], rtol=1e-15)
    np.testing.assert_allclose(host(state["velocity"][0]), [-0.07, -0.04], rtol=1e-15)


def test_nesterov_steps(xp, device):
    # θ1 = θ0 + μ v1 − η g1 = (1 − 0.045 − 0.05, −2 − 0.09 − 0.1); θ2 = θ1 + μ v2 − η g2
    first, second, _ = two_steps(SGD(momentum=0.9, nesterov=True), xp, device)
    np.testing.assert_allclose(first, [0.905, -2.19], rtol=1e-15)
    np.testing.assert_allclose(second, [0.817, -2.176], rtol=1e-14)


def test_adam_steps(xp, device):
    first, second, state = two_steps(Adam(), xp, device)
    # t = 1: m = 0.1 g1, v = 0.001 g1², η₁ = 0.1 √0.001 / 0.1: a step of η·sign(g1), up to ε.
    m1, v1 = 0.1 * np.array(G1), 0.001 * np.array(G1) ** 2
    theta1 = np.array(THETA) - 0.1 * math.sqrt(0.001) / 0.1 * m1 / (np.sqrt(v1) + 1e-8)
    np.testing.assert_allclose(first, [0.9, -2.1], rtol=1e-6)
    np.testing.assert_allclose(first, theta1, rtol=1e-15)
    # t = 2: m = 0.9·0.1 g1 + 0.1 g2 = (0.07, 0.04), v = 0.999·0.001 g1² + 0.001 g2².
    m2, v2 = np.array([0.07, 0.04]), np.array([0.00031225, 0.001249])
    theta2 = theta1 - 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2) * m2 / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(second, theta2, rtol=1e-14)
    assert state["t"] == 2 and isinstance(state["t"], int)
    np.testing.assert_allclose(host(state["m"][0]), m2, rtol=1e-14)
    np.testing.assert_allclose(host(state["v"][0]), v2, rtol=1e-14)


@pytest.mark.parametrize(
    ("ours", "reference"),
    [
        (SGD(momentum=0.9), lambda p: SGDOptimizer(p, 0.05, momentum=0.9, nesterov=False)),
        (SGD(momentum=0.5, nesterov=True), lambda p: SGDOptimizer(p, 0.05, momentum=0.5, nesterov=True)),
        (Adam(), lambda p: AdamOptimizer(p, 0.05)),
        (Adam(0.5, 0.9, 1e-3), lambda p: AdamOptimizer(p, 0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
    ],
    ids=["momentum", "nesterov", "adam", "adam-custom"],
)
def test_matches_scikit_learn_over_several_steps(ours, reference, xp, device, rng):
    shapes = [(3, 2), (2,)]
    expected = [rng.normal(size=s) for s in shapes]
    gradients = [[rng.normal(size=s) for s in shapes] for _ in range(5)]
    params = arrays(xp, device, *[e.copy() for e in expected])  # scikit-learn updates in place
    state, sklearn_optimizer = ours.init(params), reference(expected)
    for grads in gradients:
        params, state = ours.step(params, arrays(xp, device, *grads), state, 0.05)
        sklearn_optimizer.update_params(expected, grads)
    for got, want in zip(params, expected):
        np.testing.assert_allclose(host(got), want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "optimizer",
    [SGD(), SGD(0.9), SGD(0.9, nesterov=True), Adam()],
    ids=["sgd", "momentum", "nesterov", "adam"],
)
def test_steps_are_functional_and_keep_device_and_dtype(optimizer, xp, device):
    """No input array is modified; new params and state keep the params' device and float32."""
    params = arrays(xp, device, [[1.0, 2.0]], [0.5], dtype="float32")
    grads = arrays(xp, device, [[0.1, -0.2]], [0.3], dtype="float32")
    before = [host(a).copy() for a in (*params, *grads)]
    state = optimizer.init(params)
    new, state = optimizer.step(params, grads, state, 0.1)
    new, state = optimizer.step(new, grads, state, 0.1)
    for original, now in zip(before, (*params, *grads)):
        np.testing.assert_array_equal(host(now), original)
    arrays_out = [*new, *[a for v in (state or {}).values() if isinstance(v, list) for a in v]]
    for a in arrays_out:
        assert a.dtype == xp.float32
        assert array_api_compat.device(a) == array_api_compat.device(params[0])


# --- (b) least squares: every optimizer reaches the closed-form solution ---------------------------


def least_squares(rng):
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=50)
    solution, *_ = np.linalg.lstsq(np.c_[x, np.ones(50)], y, rcond=None)
    return x, y, solution


@pytest.mark.parametrize(
    ("optimizer", "lr", "tol"),
    [
        (SGD(momentum=0.9), 0.1, 1e-10),
        (SGD(momentum=0.9, nesterov=True), 0.1, 1e-10),
        (Adam(), 0.1, 1e-10),
        # Armijo's decrease c·α·‖g‖² drops below the resolution of 𝓔 ≈ 6e-3 near ‖g‖ ≈ 1e-10.
        (LineSearchGD(), 10.0, 1e-9),
    ],
    ids=["momentum", "nesterov", "adam", "line_search"],
)
def test_fit_solves_least_squares(optimizer, lr, tol, make_mlp, rng):
    """‖∇𝓔‖ ≤ tol puts θ within tol/λ_min ≈ 2·tol of the solution (λ_min ≈ 0.54, |θ*ᵢ| ≥ 0.3)."""
    x, y, solution = least_squares(rng)
    model = make_mlp([3, 1], output_activation="identity", dtype="float64", seed=0)
    history = model.fit(x, y, loss="mse", optimizer=optimizer, lr=lr, batch_size=None, epochs=5000, tol=tol)
    assert history.converged
    assert history.loss[-1] < history.loss[0]
    np.testing.assert_allclose(np.r_[parameters(model)[0][:, 0], parameters(model)[1]], solution, rtol=1e-8)


def model_objective(model, x, y):
    """θ ↦ 𝓔(θ) of a one-layer model: installs θ, evaluates the batch cost."""

    def objective(params):
        model.weights[:], model.biases[:] = params[:1], params[1:]
        return model.gradients(x, y, "mse")[0]

    return objective


def line_search_updates(optimizer, model, x, y, lr, updates):
    """``updates`` line-search steps on the full batch, yielding (value, grads, params, state)."""
    objective = model_objective(model, x, y)
    params = [*model.weights, *model.biases]
    state = optimizer.init(params)
    for _ in range(updates):
        value = objective(params)
        _, dW, db = model.gradients(x, y, "mse")
        grads = [*dW, *db]
        new, state = optimizer.step(params, grads, state, lr, value=value, objective=objective)
        yield value, grads, params, new, state
        params = new
        model.weights[:], model.biases[:] = params[:1], params[1:]


def test_line_search_steps_solve_least_squares(make_mlp, rng):
    x, y, solution = least_squares(rng)
    model = make_mlp([3, 1], output_activation="identity", dtype="float64", seed=0)
    *_, (_, _, _, params, _) = line_search_updates(LineSearchGD(), model, x, y, lr=10.0, updates=300)
    np.testing.assert_allclose(np.r_[host(params[0])[:, 0], host(params[1])], solution, rtol=1e-8)


# --- (c) the Armijo condition -------------------------------------------------------------------


def test_accepted_step_is_the_first_armijo_step_from_lr(make_mlp, rng):
    """From η = 10 the step shrinks (‖x‖² ≈ 3 makes η > 2/3 overshoot); the accepted α meets
    𝓔(θ − αg) ≤ 𝓔(θ) − cα‖g‖², and α/shrink did not."""
    x, y, _ = least_squares(rng)
    model = make_mlp([3, 1], output_activation="identity", dtype="float64", seed=0)
    optimizer = LineSearchGD(c=0.3, shrink=0.5)
    objective = model_objective(model, x, y)
    steps = []
    for value, grads, params, new, state in line_search_updates(optimizer, model, x, y, lr=10.0, updates=5):
        step = state["step_size"]
        squared_norm = sum(float(np.sum(host(g) ** 2)) for g in grads)
        assert 0.0 < step < 10.0 and math.log2(10.0 / step) % 1 == 0
        assert objective(new) <= value - 0.3 * step * squared_norm
        larger = [p - 2 * step * g for p, g in zip(params, grads)]
        assert objective(larger) > value - 0.3 * 2 * step * squared_norm
        for got, p, g in zip(new, params, grads):
            np.testing.assert_array_equal(host(got), host(p) - step * host(g))
        steps.append(step)
    assert len(steps) == 5


def test_line_search_keeps_theta_when_no_step_qualifies(xp, device):
    """f(θ) = θ² from θ = 1, g = 2: η = 10 and one halving (η = 5) both overshoot."""
    params, grads = arrays(xp, device, [1.0]), arrays(xp, device, [2.0])
    calls = []

    def objective(theta):
        calls.append(host(theta[0]))
        return float(host(theta[0])[0] ** 2)

    optimizer = LineSearchGD(max_halvings=1)
    new, state = optimizer.step(params, grads, optimizer.init(params), 10.0, value=1.0, objective=objective)
    assert new[0] is params[0] and state == {"step_size": 0.0}
    np.testing.assert_allclose(np.concatenate(calls), [-19.0, -9.0])
    new, state = LineSearchGD(max_halvings=4).step(params, grads, None, 10.0, value=1.0, objective=objective)
    np.testing.assert_allclose(host(new[0]), [1.0 - 0.625 * 2.0])  # 10/2⁴ = 0.625: f = 0.0625 ≤ 1 − 1e-4·2.5
    assert state == {"step_size": 0.625}


def test_line_search_shrinks_by_its_factor(xp, device):
    """f(θ) = θ² from θ = 1, g = 2, η = 10, shrink 0.3: the trials are 10, 3 and 0.9, the
    first with f(1 − 2α) ≤ 1 − cα·4 (0.64); halving would have taken 0.625."""
    params, grads = arrays(xp, device, [1.0]), arrays(xp, device, [2.0])
    trials = []

    def objective(theta):
        trials.append(1.0 - float(host(theta[0])[0]))
        return float(host(theta[0])[0] ** 2)

    new, state = LineSearchGD(shrink=0.3).step(params, grads, None, 10.0, value=1.0, objective=objective)
    np.testing.assert_allclose(trials, [20.0, 6.0, 1.8])
    assert state == {"step_size": pytest.approx(0.9)}
    np.testing.assert_allclose(host(new[0]), [1.0 - 1.8])


def test_the_exact_step_is_located_to_the_square_root_of_the_dtype_s_epsilon(xp, device):
    """φ(α) = e^α − 4α, minimum at log 4: float32 parameters settle for √ε₃₂ ≈ 3e-4 (fewer
    evaluations), float64 ones go on to √ε₆₄ ≈ 1.5e-8."""
    evaluations, steps = {}, {}
    for dtype in ("float32", "float64"):
        params, grads = arrays(xp, device, [0.0], dtype=dtype), arrays(xp, device, [-1.0], dtype=dtype)
        count = []

        def objective(theta, count=count):
            count.append(1)
            return math.exp(float(host(theta[0])[0])) - 4.0 * float(host(theta[0])[0])

        _, state = LineSearchGD(exact=True).step(params, grads, None, 0.1, value=1.0, objective=objective)
        evaluations[dtype], steps[dtype] = len(count), state["step_size"]
    assert steps["float32"] == pytest.approx(math.log(4.0), rel=1e-3)
    assert steps["float64"] == pytest.approx(math.log(4.0), rel=1e-7)
    assert evaluations["float32"] < evaluations["float64"]


@pytest.mark.parametrize(
    ("gradient", "value"), [(0.0, 1.0), (float("nan"), 1.0), (float("inf"), 1.0), (2.0, float("nan"))]
)
def test_line_search_keeps_theta_without_a_finite_descent_direction(gradient, value, xp, device):
    params, grads = arrays(xp, device, [1.0]), arrays(xp, device, [gradient])

    def objective(theta):
        raise AssertionError("no trial step should be evaluated")

    new, state = LineSearchGD().step(params, grads, None, 0.1, value=value, objective=objective)
    assert new[0] is params[0] and state == {"step_size": 0.0}


# --- (d) hyper-parameter checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "words"),
    [
        (SGD, {"momentum": 1.0}, ValueError, ("momentum must be in [0, 1)", "1.0")),
        (SGD, {"momentum": -0.1}, ValueError, ("momentum must be in [0, 1)",)),
        (SGD, {"momentum": float("nan")}, ValueError, ("momentum must be in [0, 1)",)),
        (SGD, {"momentum": "0.9"}, TypeError, ("momentum must be a real number",)),
        (SGD, {"momentum": True}, TypeError, ("momentum must be a real number",)),
        (SGD, {"momentum": 0.9, "nesterov": 1}, TypeError, ("nesterov must be True or False",)),
        (SGD, {"nesterov": True}, ValueError, ("nesterov=True needs momentum > 0",)),
        (Adam, {"beta1": 1.0}, ValueError, ("beta1 must be in [0, 1)",)),
        (Adam, {"beta2": -0.5}, ValueError, ("beta2 must be in [0, 1)",)),
        (Adam, {"beta2": None}, TypeError, ("beta2 must be a real number",)),
        (Adam, {"eps": 0.0}, ValueError, ("eps must be in (0, inf)",)),
        (Adam, {"eps": float("inf")}, ValueError, ("eps must be in (0, inf)",)),
        (LineSearchGD, {"c": 0.0}, ValueError, ("c must be in (0, 1)",)),
        (LineSearchGD, {"c": 1.5}, ValueError, ("c must be in (0, 1)",)),
        (LineSearchGD, {"shrink": 1.0}, ValueError, ("shrink must be in (0, 1)",)),
        (LineSearchGD, {"shrink": "half"}, TypeError, ("shrink must be a real number",)),
        (LineSearchGD, {"max_halvings": -1}, ValueError, ("max_halvings must be >= 0",)),
        (LineSearchGD, {"max_halvings": 2.5}, TypeError, ("max_halvings must be an int",)),
    ],
)
def test_bad_hyper_parameters_raise_naming_the_argument(cls, kwargs, error, words):
    with pytest.raises(error) as info:
        cls(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_nesterov_without_momentum_says_why():
    with pytest.raises(ValueError) as info:
        SGD(nesterov=True)
    assert str(info.value) == "nesterov=True needs momentum > 0, got momentum=0.0"


def test_hyper_parameters_are_normalised_and_frozen():
    optimizer = Adam(beta1=np.float64(0.8), beta2=0, eps=1)
    assert optimizer == Adam(0.8, 0.0, 1.0)
    assert all(type(getattr(optimizer, name)) is float for name in ("beta1", "beta2", "eps"))
    assert type(SGD(momentum=np.float32(0.5)).momentum) is float and type(SGD(momentum=0).momentum) is float
    line_search = LineSearchGD(c=np.float32(0.25), shrink=1 / np.int64(4), max_halvings=np.int64(5))
    assert line_search == LineSearchGD(0.25, 0.25, 5)
    assert [type(v) for v in (line_search.c, line_search.shrink, line_search.max_halvings)] == [
        float,
        float,
        int,
    ]
    assert repr(SGD(0.5, True)) == "SGD(momentum=0.5, nesterov=True)"
    with pytest.raises(AttributeError):
        optimizer.beta1 = 0.5


# --- (e) registry and configs -----------------------------------------------------------------------


def test_get_optimizer_by_name_and_error_lists_names():
    assert {name: type(get_optimizer(name)) for name in OPTIMIZERS} == {
        "sgd": SGD,
        "adam": Adam,
        "line_search": LineSearchGD,
        "lbfgs": LBFGS,
    }
    assert get_optimizer("sgd") == SGD() and get_optimizer(SGD(0.9)) == SGD(0.9)
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam', 'line_search', 'lbfgs'"):
        get_optimizer("rmsprop")


def test_documented_defaults_and_initial_states(xp, device):
    """The defaults of the README's table, and what ``init`` starts from."""
    assert (SGD().momentum, SGD().nesterov) == (0.0, False)
    assert (Adam().beta1, Adam().beta2, Adam().eps) == (0.9, 0.999, 1e-8)
    line_search = LineSearchGD()
    assert (line_search.c, line_search.shrink, line_search.max_halvings, line_search.exact) == (
        1e-4,
        0.5,
        30,
        False,
    )
    params = arrays(xp, device, [[1.0, 2.0]], [3.0])
    assert line_search.init(params) == {"step_size": 0.0}
    assert SGD().init(params) is None
    for state in (SGD(momentum=0.5).init(params)["velocity"], *Adam().init(params).values()):
        if isinstance(state, int):
            assert state == 0
            continue
        for zero, p in zip(state, params):
            assert zero.shape == p.shape and zero.dtype == p.dtype
            np.testing.assert_array_equal(host(zero), 0.0)


class OnlyInit:
    def init(self, params):
        return None


class OnlyStep:
    step = staticmethod(SGD().step)


class StepNotCallable(OnlyInit):
    step = "sgd"


@pytest.mark.parametrize(
    "partial", [OnlyInit(), OnlyStep(), StepNotCallable()], ids=["only-init", "only-step", "step-a-str"]
)
def test_get_optimizer_refuses_an_object_without_both_methods(partial):
    with pytest.raises(ValueError, match=r"an object with init\(params\) and step\(params, grads"):
        get_optimizer(partial)


@pytest.mark.parametrize(
    "optimizer",
    [
        SGD(),
        SGD(0.9, nesterov=True),
        Adam(),
        Adam(0.5, 0.99, 1e-6),
        LineSearchGD(),
        LineSearchGD(0.3, 0.25, 5),
        LineSearchGD(exact=True),
        LBFGS(),
        LBFGS(memory=3, gtol=1e-8, ftol=0.0, c1=1e-3, c2=0.5, max_line_search=5),
    ],
    ids=repr,
)
def test_config_round_trip_through_json(optimizer):
    config = optimizer_config(optimizer)
    assert config["name"] == optimizer.name
    restored = optimizer_from_config(json.loads(json.dumps(config)))
    assert restored == optimizer and type(restored) is type(optimizer)


def test_config_of_a_custom_optimizer_cannot_be_saved():
    class HalfSGD(SGD):
        pass

    for custom, name in ((HalfSGD(), "HalfSGD"), (object(), "object")):
        with pytest.raises(ValueError) as info:
            optimizer_config(custom)
        assert str(info.value) == (
            f"optimizer {custom!r} cannot be saved: only the built-in optimizers "
            f"'sgd', 'adam', 'line_search', 'lbfgs', 'weights_only' have a config, got a {name}"
        )


@pytest.mark.parametrize(
    ("config", "error", "words"),
    [
        ([("name", "sgd")], TypeError, ("optimizer config must be a dict",)),
        ({"momentum": 0.9}, ValueError, ("'name' must be one of 'sgd', 'adam', 'line_search'", "None")),
        ({"name": "rmsprop"}, ValueError, ("'name' must be one of", "'rmsprop'")),
        ({"name": "sgd", "beta1": 0.9}, ValueError, ("unknown fields 'beta1'", "'momentum', 'nesterov'")),
        ({"name": "sgd", "beta1": 0.9, "eps": 1}, ValueError, ("unknown fields 'beta1', 'eps';",)),
        ({"name": "adam", "beta1": 2.0}, ValueError, ("beta1 must be in [0, 1)",)),
    ],
)
def test_bad_configs_raise(config, error, words):
    with pytest.raises(error) as info:
        optimizer_from_config(config)
    for word in words:
        assert word in str(info.value)


def test_config_with_missing_fields_takes_defaults():
    assert optimizer_from_config({"name": "adam", "eps": 1e-6}) == Adam(eps=1e-6)
