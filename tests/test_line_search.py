"""Line searches: Armijo, strong Wolfe (bracketing and zoom), exact; LineSearchGD(exact=True) on seed 004."""

import itertools
import math

import numpy as np
import pytest
from conftest import host
from scipy.optimize import minimize_scalar, rosen, rosen_der

import mlp_xp
from mlp_xp import line_search
from mlp_xp.optimizers import LineSearchGD, optimizer_config, optimizer_from_config


def along(f, grad, x0, direction):
    """φ(α) = f(x0 + α d) as ``strong_wolfe`` wants it: α ↦ (φ, φ', ∇f), counting the calls."""
    calls = []

    def phi(step):
        calls.append(step)
        x = x0 + step * direction
        return float(f(x)), float(grad(x) @ direction), grad(x)

    return phi, calls


def quadratic(x):
    return 0.5 * x @ np.diag([1.0, 10.0]) @ x


def quadratic_der(x):
    return np.diag([1.0, 10.0]) @ x


# --- strong Wolfe ---------------------------------------------------------------------------------

PROBLEMS = {
    "rosenbrock": (rosen, rosen_der, np.array([-1.2, 1.0])),
    "quadratic": (quadratic, quadratic_der, np.array([1.0, 1.0])),
    "rosenbrock-near-valley": (rosen, rosen_der, np.array([0.5, 0.2])),
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("first", [1e-4, 1e-2, 1.0, 100.0])
@pytest.mark.parametrize(("c1", "c2"), [(1e-4, 0.9), (1e-4, 0.1)])
def test_the_accepted_step_meets_the_strong_wolfe_conditions(problem, first, c1, c2):
    """Too short first steps are extrapolated, too long ones zoomed into; either way the step
    returned satisfies sufficient decrease and the strong curvature condition, and carries ∇f."""
    f, grad, x0 = PROBLEMS[problem]
    direction = -grad(x0)
    phi, calls = along(f, grad, x0, direction)
    value0, slope0 = f(x0), grad(x0) @ direction
    point, evaluations = line_search.strong_wolfe(phi, value0, slope0, first, c1=c1, c2=c2)
    assert point.value <= value0 + c1 * point.step * slope0
    assert abs(point.slope) <= c2 * abs(slope0)
    np.testing.assert_array_equal(point.payload, grad(x0 + point.step * direction))
    assert evaluations == len(calls) <= 20


def test_zoom_interpolates_a_quadratic_exactly():
    """φ(α) = (α − 1)²: α₁ = 10 overshoots (φ = 81 > φ(0) = 1), and the cubic through
    φ, φ' at 0 and 10 is the parabola itself: the zoom's first trial is its minimiser α = 1,
    not the bisection point 5."""
    calls = []

    def phi(step):
        calls.append(step)
        return (step - 1.0) ** 2, 2.0 * (step - 1.0), None

    point, evaluations = line_search.strong_wolfe(phi, 1.0, -2.0, 10.0)
    assert calls == [10.0, pytest.approx(1.0, abs=1e-12)]
    assert point.step == pytest.approx(1.0, abs=1e-12) and evaluations == 2


def test_zoom_interpolates_inside_a_bracket_found_by_extrapolation():
    """φ(α) = −α/(α² + 2) (Moré and Thuente's first test function, minimum at √2): from
    α₁ = 0.01 the steps grow until φ' > 0 brackets the minimum, then the zoom's trial is the
    cubic's minimiser inside the bracket, near √2 and far from the bracket's midpoint."""
    calls = []

    def phi(step):
        calls.append(step)
        return -step / (step**2 + 2.0), (step**2 - 2.0) / (step**2 + 2.0) ** 2, None

    point, evaluations = line_search.strong_wolfe(phi, 0.0, -0.5, 0.01, c1=1e-3, c2=0.01)
    assert abs(point.slope) <= 0.01 * 0.5 and point.value <= -1e-3 * 0.5 * point.step
    growing = next(i for i, (a, b) in enumerate(itertools.pairwise(calls)) if b < a) + 1
    low, high = calls[growing - 2 : growing]
    assert growing >= 4 and low < math.sqrt(2.0) < high
    assert (
        abs(calls[growing] - math.sqrt(2.0))
        < 0.01
        < 0.1 * (high - low)
        < abs(calls[growing] - (low + high) / 2)
    )
    assert evaluations == len(calls)


def test_a_step_where_phi_is_not_finite_is_zoomed_back_from():
    """φ is NaN beyond α = 3 (an overflow): the trial α₁ = 10 is treated as too long."""

    def phi(step):
        if step > 3.0:
            return math.nan, math.nan, None
        return (step - 1.0) ** 2, 2.0 * (step - 1.0), None

    point, _ = line_search.strong_wolfe(phi, 1.0, -2.0, 10.0)
    assert 0.0 < point.step < 3.0 and abs(point.slope) <= 0.9 * 2.0


def test_a_search_out_of_budget_returns_its_best_decrease_or_none():
    def linear(step):  # φ(α) = −α: every step has sufficient decrease, none the curvature condition
        return -step, -1.0, None

    point, evaluations = line_search.strong_wolfe(linear, 0.0, -1.0, 1.0, max_evaluations=3)
    assert evaluations == 3 and point.step > 1.0 and point.value == -point.step

    def rising(step):  # no step of the budget decreases φ
        return 1.0 + step, 1.0, None

    assert line_search.strong_wolfe(rising, 1.0, -1.0, 1.0, max_evaluations=4) == (None, 4)


# --- Armijo backtracking ----------------------------------------------------------------------------


def test_backtracking_takes_the_first_armijo_step():
    """φ(α) = (α − 1)², φ'(0) = −2: with c = 0.5, α qualifies iff α ≤ 1."""
    calls = []

    def phi(step):
        calls.append(step)
        return (step - 1.0) ** 2

    assert line_search.backtracking(phi, 1.0, -2.0, 8.0, c=0.5) == 1.0
    assert calls == [8.0, 4.0, 2.0, 1.0]
    assert line_search.backtracking(phi, 1.0, -2.0, 8.0, c=0.5, max_shrinks=2) == 0.0


# --- exact line search -------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0.01, 1.0, 3.0, 1000.0])
def test_exact_finds_the_minimiser_of_a_parabola(first):
    """φ(α) = (α − 3)² + 1 from below, at and above the minimiser: α = 3 to the tolerance
    √ε allows (φ(3 ± δ) = 1 + δ² rounds to 1 for δ < 1e-8), in a few dozen evaluations."""
    step, value, evaluations = line_search.exact(lambda a: (a - 3.0) ** 2 + 1.0, 10.0, first)
    assert step == pytest.approx(3.0, rel=1e-8) and value == 1.0
    assert evaluations <= 30


def test_exact_finds_the_minimiser_of_a_non_quadratic():
    """φ(α) = eᵅ − 4α, minimum at log 4; φ(α) = cos α from 0.5, minimum at π."""
    step, _, _ = line_search.exact(lambda a: math.exp(a) - 4.0 * a, 1.0, 0.1)
    assert step == pytest.approx(math.log(4.0), rel=3e-8)
    step, _, _ = line_search.exact(math.cos, 1.0, 0.5)
    assert step == pytest.approx(math.pi, rel=3e-8)
    step, _, coarse = line_search.exact(math.cos, 1.0, 0.5, xtol=1e-3)
    assert step == pytest.approx(math.pi, rel=1e-2) and coarse < line_search.exact(math.cos, 1.0, 0.5)[2]


def test_exact_without_a_finite_minimiser_or_without_decrease():
    """φ = 1/(1 + α) decreases for ever: the longest step of the budget, φ below φ(0);
    φ = 1 + α never decreases: α = 0."""
    step, value, evaluations = line_search.exact(lambda a: 1.0 / (1.0 + a), 1.0, 0.1, max_evaluations=30)
    assert step > 1e5 and value < 1e-5 and evaluations == 30
    assert line_search.exact(lambda a: 1.0 + a, 1.0, 0.1, max_evaluations=30) == (0.0, 1.0, 30)


def seed004_error(xp, device):
    """Seed 004's E(w) = Σᵢ (yⁱ − σ(w · xⁱ))² and its gradient, w of shape (2, 1), written with xp."""
    x, y = (xp.asarray(a, dtype=xp.float64, device=device) for a in mlp_xp.datasets.seed004_points())
    y = xp.reshape(y, (-1, 1))

    def value_and_grad(w):
        s = 1.0 / (1.0 + xp.exp(-(x @ w)))
        return xp.sum((y - s) ** 2), x.T @ (-2.0 * (y - s) * s * (1.0 - s))

    return value_and_grad


def test_exact_finds_the_minimiser_of_seed_004_error_along_the_gradient(xp, device):
    """From w⁰ = (1, 1), E along d = −∇E(w⁰) has a minimum near α = 17.5 (E ≈ 0.158): the exact
    search finds SciPy's bounded minimiser, and ∇E there is orthogonal to d."""
    value_and_grad = seed004_error(xp, device)
    w0 = xp.ones((2, 1), dtype=xp.float64, device=device)
    value0, g0 = value_and_grad(w0)
    d = -g0

    def phi(step):
        return float(value_and_grad(w0 + float(step) * d)[0])

    step, value, _ = line_search.exact(phi, float(value0), 1.0)
    reference = minimize_scalar(phi, bounds=(0.0, 50.0), method="bounded", options={"xatol": 1e-10})
    assert step == pytest.approx(reference.x, rel=1e-7) and value == pytest.approx(reference.fun, rel=1e-14)
    slope = float(xp.sum(value_and_grad(w0 + step * d)[1] * d))
    assert abs(slope) <= 1e-7 * float(xp.sum(d * d))


# --- LineSearchGD(exact=True) ------------------------------------------------------------------------


def test_exact_gradient_descent_decreases_seed_004_error_monotonically(xp, device):
    """Seed 004's algorithm as written: dᵏ = −∇E(wᵏ), αᵏ = argmin E(wᵏ + α dᵏ), on its four
    points without bias, from w⁰ = (1, 1): E falls at every step, and consecutive
    gradients are orthogonal (the exact step's signature)."""
    value_and_grad = seed004_error(xp, device)
    optimizer = LineSearchGD(exact=True)
    params = [xp.ones((2, 1), dtype=xp.float64, device=device)]
    state = optimizer.init(params)
    errors, gradients = [], []
    for _ in range(12):
        value, grad = value_and_grad(params[0])
        errors.append(float(value))
        gradients.append(host(grad)[:, 0])
        params, state = optimizer.step(
            params, [grad], state, 1.0, value=value, objective=lambda w: value_and_grad(w[0])[0]
        )
        assert state["step_size"] > 0.0
    assert all(np.diff(errors) < 0.0) and errors[-1] < 0.1 * errors[0]
    for g, g_next in itertools.pairwise(gradients):
        assert abs(g @ g_next) <= 1e-6 * np.linalg.norm(g) * np.linalg.norm(g_next)


def test_exact_line_search_in_fit_decreases_the_loss_monotonically(make_mlp):
    """Seed 004's four points, one sigmoid neuron with bias: the training loss never rises,
    and falls at every epoch until it reaches the rounding floor."""
    x, y = mlp_xp.datasets.seed004_points()
    model = make_mlp([2, 1], output_activation="sigmoid", dtype="float64", seed=0)
    history = model.fit(
        x, y, loss="mse", optimizer=LineSearchGD(exact=True), lr=1.0, batch_size=None, epochs=15
    )
    losses = np.array(history.loss)
    assert all(np.diff(losses) <= 0.0) and all(np.diff(losses[losses > 1e-10]) < 0.0)
    assert losses[-1] < 1e-6 * losses[0]


def test_exact_flag_is_checked_and_saved():
    with pytest.raises(TypeError, match="exact must be True or False, got 'yes'"):
        LineSearchGD(exact="yes")
    config = optimizer_config(LineSearchGD(exact=True))
    assert config == {"name": "line_search", "c": 1e-4, "shrink": 0.5, "max_halvings": 30, "exact": True}
    assert optimizer_from_config(config) == LineSearchGD(exact=True)


def test_line_search_in_fit_with_an_l2_penalty_decreases_the_penalised_loss(make_mlp, rng):
    """Unweighted rows and α > 0: the objective that the backtracking search compares is
    𝓔_α, penalty included, on every backend, so the recorded 𝓔_α falls at every epoch."""
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    options = dict(optimizer=LineSearchGD(), alpha=0.5, lr=4.0, batch_size=None, epochs=6)
    history = model.fit(x, y, loss="mse", **options)
    assert all(np.diff(history.loss) < 0.0)
