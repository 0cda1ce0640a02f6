"""Cost functions of DESIGN.md §3: known values, gradients, fused forms, stability."""

import numpy as np
import pytest
from conftest import host, random_targets
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mlp_xp
from mlp_xp._backend import quiet_overflow
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.costs import COSTS, get_cost
from mlp_xp.network import is_fused, output_error

# (cost, y, ŷ, per-sample value): hand-computed from the definitions.
KNOWN = [
    ("mse", [[1.0, 2.0]], [[0.0, 0.0]], [2.5]),
    ("l1", [[1.0, -2.0]], [[0.0, 0.0]], [3.0]),
    ("huber", [[0.5, 3.0]], [[0.0, 0.0]], [0.125 + 2.5]),
    ("logistic", [[1.0, -1.0]], [[0.0, 2.0]], [np.log(2.0) + np.log1p(np.exp(2.0))]),
    ("hinge", [[1.0, -1.0]], [[0.25, -3.0]], [0.75]),
    ("binary_cross_entropy", [[1.0, 0.0]], [[0.8, 0.4]], [-np.log(0.8) - np.log(0.6)]),
    ("cross_entropy", [[0.0, 1.0, 0.0]], [[0.2, 0.5, 0.3]], [-np.log(0.5)]),
    ("poisson", [[2.0, 0.0]], [[1.0, 0.5]], [2.0 * np.log(2.0) - 2.0 + 1.0 + 0.5]),
]
FUSED = [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"), ("poisson", "exp")]


@pytest.mark.parametrize(("name", "y", "yhat", "expected"), KNOWN)
def test_known_values(name, y, yhat, expected, xp, device):
    cost = COSTS[name]
    y, yhat = (xp.asarray(v, dtype=xp.float64, device=device) for v in (y, yhat))
    np.testing.assert_allclose(host(cost.value(xp, y, yhat)), expected, rtol=1e-12)


def test_hinge_gradient_is_zero_on_the_margin(xp, device):
    """∂C/∂ŷ = −y where yŷ < 1, else 0: a sample exactly on the margin (yŷ = 1) pushes no more."""
    y, yhat = (
        xp.asarray(v, dtype=xp.float64, device=device) for v in ([[1.0, -1.0, 1.0]], [[1.0, -1.0, 0.5]])
    )
    np.testing.assert_array_equal(host(COSTS["hinge"].grad(xp, y, yhat)), [[0.0, 0.0, -1.0]])


def linex_value(xp, y, yhat):
    """The LINEX cost Σ e^r − r − 1, r = ŷ − y: over-predictions cost more than under-predictions."""
    r = yhat - y
    return xp.sum(xp.exp(r) - r - 1.0, axis=1)


@pytest.fixture
def asymmetric_costs():
    """LINEX, and LINEX with y and ŷ swapped in its value (its grad kept): a wrong pair."""
    mlp_xp.register_cost("linex", linex_value, lambda xp, y, yhat: xp.expm1(yhat - y))
    mlp_xp.register_cost(
        "linex_swapped", lambda xp, y, yhat: linex_value(xp, yhat, y), lambda xp, y, yhat: xp.expm1(yhat - y)
    )
    yield
    del COSTS["linex"], COSTS["linex_swapped"]


def test_an_asymmetric_cost_reads_targets_and_outputs_in_their_order(asymmetric_costs, make_mlp, rng):
    """C(y, ŷ) ≠ C(ŷ, y): backprop's gradient matches the finite differences of C(y, ŷ) only
    when the cost is called as C(y, ŷ); the check tells the swapped pair apart."""
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    assert mlp_xp.gradient_check(model, x, y, "linex") <= 1e-6
    assert mlp_xp.gradient_check(model, x, y, "linex_swapped") > 1e-2
    loss = model.gradients(x, y, "linex")[0]
    output = host(model.forward(x))
    assert loss == pytest.approx(np.mean(np.sum(np.exp(output - y) - (output - y) - 1.0, axis=1)), rel=1e-12)


@pytest.mark.parametrize("name", list(COSTS))
def test_gradient_matches_finite_differences(name, xp, device, rng):
    y = random_targets(name, rng, (6, 3))
    yhat = rng.uniform(0.1, 0.9, size=(6, 3)) if COSTS[name].targets != "real" else rng.normal(size=(6, 3))
    if COSTS[name].targets == "sign":
        yhat = yhat * 3 - 1.5
    cost, eps = COSTS[name], 1e-6
    to = lambda v: xp.asarray(v, dtype=xp.float64, device=device)  # noqa: E731
    got = host(cost.grad(xp, to(y), to(yhat)))
    expected = np.zeros_like(yhat)
    for i, k in np.ndindex(*yhat.shape):
        step = np.zeros_like(yhat)
        step[i, k] = eps
        up, down = (host(cost.value(xp, to(y), to(yhat + s)))[i] for s in (step, -step))
        expected[i, k] = (up - down) / (2 * eps)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("name", "activation"), FUSED)
def test_fused_output_error_agrees_with_general_path(name, activation, xp, device, rng):
    """The logit-based 𝓑ᴸ and cost equal Φ'(ζᴸ) ⊙ ∇C and C(ρ, Φ(ζᴸ))."""
    cost, phi = COSTS[name], ACTIVATIONS[activation]
    z = xp.asarray(rng.normal(size=(7, 4)) * 2, dtype=xp.float64, device=device)
    y = xp.asarray(random_targets(name, rng, (7, 4)), dtype=xp.float64, device=device)
    a = phi.value(xp, z)
    fused_value, fused_delta = output_error(xp, phi, cost, z, a, y)
    np.testing.assert_allclose(host(fused_value), host(cost.value(xp, y, a)), rtol=1e-10)
    np.testing.assert_allclose(
        host(fused_delta), host(phi.vjp(xp, z, a, cost.grad(xp, y, a))), rtol=1e-8, atol=1e-12
    )


def test_fused_cross_entropy_shifts_each_row_by_its_own_maximum(xp, device):
    """Logits near 0 and near 1000 in one batch: each row's cost is its own log-sum-exp."""
    z = xp.asarray([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]], dtype=xp.float64, device=device)
    y = xp.asarray([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=xp.float64, device=device)
    value, delta = output_error(xp, ACTIVATIONS["softmax"], COSTS["cross_entropy"], z, None, y)
    lse = np.log(np.exp([0.0, 1.0, 2.0]).sum())
    np.testing.assert_allclose(host(value), [lse, lse - 2.0], rtol=1e-12)
    s = np.exp([0.0, 1.0, 2.0] - lse)
    np.testing.assert_allclose(host(delta), [s - [1, 0, 0], s - [0, 0, 1]], rtol=1e-12, atol=1e-15)


def test_an_unknown_loss_is_named_with_the_known_ones():
    with pytest.raises(ValueError) as info:
        get_cost("squared")
    assert str(info.value) == f"loss must be one of {', '.join(map(repr, COSTS))}, got 'squared'"


def test_only_a_cost_with_the_output_activation_it_was_made_for_is_fused():
    fused = {(c, a) for c in COSTS for a in ACTIVATIONS if is_fused(ACTIVATIONS[a], COSTS[c])}
    assert fused == set(FUSED)


@pytest.mark.parametrize(
    ("name", "activation"), [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")]
)
def test_fused_output_error_is_finite_for_saturated_logits(name, activation, xp, device):
    cost, phi = COSTS[name], ACTIVATIONS[activation]
    z = xp.asarray([[1e4, -1e4], [-1e4, 1e4]], dtype=xp.float32, device=device)
    y = xp.asarray([[0.0, 1.0], [0.0, 1.0]], dtype=xp.float32, device=device)
    value, delta = output_error(xp, phi, cost, z, phi.value(xp, z), y)
    assert np.all(np.isfinite(host(value))) and np.all(np.isfinite(host(delta)))
    assert host(value)[0] > 1e3 and host(value)[1] == 0.0


@settings(max_examples=50, deadline=None)
@given(
    name=st.sampled_from(sorted(COSTS)),
    yhat=arrays(np.float64, (4, 3), elements=st.floats(0.01, 0.99)),
    seed=st.integers(0, 2**32 - 1),
)
def test_costs_are_non_negative_and_zero_at_a_perfect_fit(name, yhat, seed):
    """C ≥ 0 for valid targets; C(y, y) = 0 for the regression costs (NumPy)."""
    import array_api_compat.numpy as xp

    y = random_targets(name, np.random.default_rng(seed), (4, 3))
    cost = COSTS[name]
    assert np.all(cost.value(xp, y, yhat) >= 0.0)
    if cost.targets == "real":
        np.testing.assert_array_equal(cost.value(xp, y, y), 0.0)


def test_fused_binary_cross_entropy_keeps_the_small_cost_of_a_confident_right_answer(xp, device):
    """For y = 1 and z = 17 (y = 0 and z = −17) the cost is log1p(e^−17) ≈ 4.14e-8 and
    𝓑ᴸ = ∓4.14e-8, which float32 keeps; softplus(z) − yz cancels them to 0."""
    cost, phi = COSTS["binary_cross_entropy"], ACTIVATIONS["sigmoid"]
    z = xp.asarray([[17.0], [-17.0], [30.0]], dtype=xp.float32, device=device)
    y = xp.asarray([[1.0], [0.0], [1.0]], dtype=xp.float32, device=device)
    value, delta = output_error(xp, phi, cost, z, phi.value(xp, z), y)
    tail = np.log1p(np.exp(-np.array([17.0, 17.0, 30.0])))
    np.testing.assert_allclose(host(value), tail, rtol=1e-6)
    np.testing.assert_allclose(host(delta)[:, 0], [-tail[0], tail[1], -tail[2]], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_cross_entropy_is_not_nan_when_the_logit_spread_exceeds_the_float_range(dtype, xp, device):
    """z = (big, −big, 0) with 2·big beyond the float range: classes with y = 0 add
    exactly 0 (not 0·inf); the labelled class costs 0, log 2-ish or +inf as it should."""
    big = float(np.finfo(dtype).max) * 0.75
    cost, phi = COSTS["cross_entropy"], ACTIVATIONS["softmax"]
    z = xp.asarray([[big, -big, 0.0], [big, -big, big]], dtype=getattr(xp, dtype), device=device)
    y = xp.asarray([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=getattr(xp, dtype), device=device)
    with quiet_overflow():  # z − max z overflows to −inf, as it must
        value, delta = output_error(xp, phi, cost, z, None, y)
    np.testing.assert_allclose(host(value), [0.0, np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(host(delta), [[0.0, 0.0, 0.0], [0.5, 0.0, -0.5]], atol=1e-7)


def test_cross_entropies_are_exact_at_certain_predictions(xp, device):
    """The public costs use y log ŷ = 0 where y = 0 (as scipy's xlogy) and log1p(−ŷ):
    a certain, right prediction costs +0 (not NaN, not −0); their gradients are finite."""
    to = lambda v: xp.asarray(v, dtype=xp.float64, device=device)  # noqa: E731
    bce, ce = COSTS["binary_cross_entropy"], COSTS["cross_entropy"]
    y, yhat = to([[1.0, 0.0], [1.0, 0.0]]), to([[1.0, 0.0], [0.5, 1e-20]])
    value = host(bce.value(xp, y, yhat))
    np.testing.assert_allclose(value, [0.0, np.log(2.0) + 1e-20], rtol=1e-15)
    assert not np.signbit(value[0])
    np.testing.assert_allclose(host(bce.grad(xp, y, yhat)), [[-1.0, 1.0], [-2.0, 1.0]], rtol=1e-15)
    labels, probabilities = to([[0.0, 1.0, 0.0]]), to([[0.0, 1.0, 0.0]])
    value = host(ce.value(xp, labels, probabilities))
    np.testing.assert_array_equal(value, [0.0])
    assert not np.signbit(value[0])
    np.testing.assert_array_equal(host(ce.grad(xp, labels, probabilities)), [[0.0, -1.0, 0.0]])


def test_poisson_is_half_scikit_learn_s_mean_poisson_deviance(xp, device, rng):
    """The batch cost is what scikit-learn's MLPRegressor(loss="poisson") reports
    in ``loss_curve_`` (without penalty): half its mean Poisson deviance."""
    metrics = pytest.importorskip("sklearn.metrics")
    y, z = rng.poisson(2.0, size=(50, 1)).astype(float), rng.normal(size=(50, 1))
    cost, phi = COSTS["poisson"], ACTIVATIONS["exp"]
    to = lambda v: xp.asarray(v, dtype=xp.float64, device=device)  # noqa: E731
    value, delta = output_error(xp, phi, cost, to(z), None, to(y))
    expected = metrics.mean_poisson_deviance(y[:, 0], np.exp(z[:, 0])) / 2
    np.testing.assert_allclose(np.mean(host(value)), expected, rtol=1e-12)
    np.testing.assert_allclose(host(delta), np.exp(z) - y, rtol=1e-12)


def test_poisson_is_accurate_near_a_perfect_fit_and_finite_for_extreme_logits(xp, device):
    """y (eᵗ − 1 − t) keeps the deviance of ŷ = y(1 + 1e-6), ≈ y·5e-13, where the
    sum y log(y/ŷ) − y + ŷ loses it to cancellation; logits of ±80 in float32 give
    finite costs, and e^z underflowing to 0 costs 0 for y = 0."""
    cost, phi = COSTS["poisson"], ACTIVATIONS["exp"]
    y = xp.asarray([[1e6], [3.0]], dtype=xp.float64, device=device)
    z = xp.log(y) + 1e-6
    value, _ = output_error(xp, phi, cost, z, None, y)
    np.testing.assert_allclose(host(value), host(y)[:, 0] * (np.expm1(1e-6) - 1e-6), rtol=1e-6)
    z = xp.asarray([[80.0], [-80.0], [-200.0]], dtype=xp.float32, device=device)
    y = xp.asarray([[0.0], [2.0], [0.0]], dtype=xp.float32, device=device)
    value, delta = output_error(xp, phi, cost, z, None, y)
    expected = [np.exp(80.0), 2.0 * (np.log(2.0) + 80.0 - 1.0), 0.0]
    np.testing.assert_allclose(host(value), expected, rtol=1e-6)
    assert np.all(np.isfinite(host(delta)))


@pytest.mark.parametrize(
    ("value", "grad", "match"),
    [
        pytest.param(
            lambda xp, y, yhat: (yhat - y) ** 2,
            lambda xp, y, yhat: 2.0 * (yhat - y),
            r"value must return one cost per sample, shape \(N,\).*returns shape \(2, 3\)",
            id="value-not-summed",
        ),
        pytest.param(
            lambda xp, y, yhat: xp.sum((yhat - y) ** 2),
            lambda xp, y, yhat: 2.0 * (yhat - y),
            r"value must return one cost per sample.*returns shape \(\)",
            id="value-a-scalar",
        ),
        pytest.param(
            lambda xp, y, yhat: xp.sum((yhat - y) ** 2, axis=1),
            lambda xp, y, yhat: xp.sum(2.0 * (yhat - y), axis=1),
            r"grad must return ∂C/∂ŷ, shaped like yhat.*returns shape \(2,\)",
            id="grad-summed",
        ),
        pytest.param(
            lambda xp, y, yhat: xp.sum(xp.square_root(yhat), axis=1),
            lambda xp, y, yhat: yhat,
            r"value fails on NumPy arrays y, yhat of shape \(2, 3\)",
            id="value-raises",
        ),
    ],
)
def test_register_cost_checks_the_shapes_its_functions_return(value, grad, match):
    """A cost whose value is not (N,) would be averaged wrongly (halved for (N, k) or
    a scalar); it is refused when registered, and not registered."""
    with pytest.raises(ValueError, match=match):
        mlp_xp.register_cost("misshapen", value, grad)
    assert "misshapen" not in COSTS
