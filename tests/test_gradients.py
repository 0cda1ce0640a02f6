"""Backpropagation: finite differences, seed 004's analytic example, cross-backend equality."""

from functools import partial

import numpy as np
import pytest
import reference
from conftest import HIDDEN_ACTIVATIONS, VALID_PAIRS, host, parameters, random_targets

import mlp_xp
from mlp_xp.activations import ACTIVATIONS, relu, sigmoid

HIDDEN, PAIRS = HIDDEN_ACTIVATIONS, VALID_PAIRS


def test_every_valid_pair_is_covered():
    assert len(PAIRS) == 5 * len(ACTIVATIONS) + 3


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("output", "loss"), PAIRS)
def test_backprop_matches_finite_differences(hidden, output, loss, make_mlp, rng):
    """Relative error ≤ 1e-6 in float64 on a random architecture (1–2 hidden layers)."""
    sizes = [int(s) for s in rng.integers(2, 5, size=rng.integers(3, 5))]
    sizes[-1] = max(sizes[-1], 2)
    model = make_mlp(sizes, hidden, output, dtype="float64", seed=int(rng.integers(1000)))
    # Non-zero biases: a row of dead relu units would otherwise put ζ exactly on the kink at 0.
    for j, n in enumerate(sizes[1:]):
        b = rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.1, 0.5, size=n)
        model.biases[j] = model.xp.asarray(b, device=model.device)
    x = rng.normal(size=(6, sizes[0]))
    y = random_targets(loss, rng, (6, sizes[-1]), labels=True)
    assert mlp_xp.gradient_check(model, x, y, loss) <= 1e-6


def test_seed_004_single_sigmoid_neuron(make_mlp):
    """Seed 004: ŷ = σ(w₁x₁ + w₂x₂) on four points, E = Σ (y − ŷ)².

    Our batch cost is 𝓔 = (1/4) Σ ½ (ŷ − y)² = E / 8, so ∇𝓔 = ∇E / 8 with
    ∂E/∂w = Σᵢ −2 (yᵢ − ŷᵢ) ŷᵢ (1 − ŷᵢ) xᵢ.
    """
    x, y = mlp_xp.datasets.seed004_points()
    w = np.array([0.3, -0.7])
    model = make_mlp([2, 1], output_activation="sigmoid", dtype="float64")
    model.weights[0] = model.xp.asarray(w[:, None], device=model.device)
    y_hat = 1.0 / (1.0 + np.exp(-(x @ w)))
    seed_error = np.sum((y - y_hat) ** 2)
    seed_gradient = np.sum((-2.0 * (y - y_hat) * y_hat * (1.0 - y_hat))[:, None] * x, axis=0)

    loss, dW, db = model.gradients(x, y, "mse")
    np.testing.assert_allclose(loss, seed_error / 8, rtol=1e-12)
    np.testing.assert_allclose(host(dW[0])[:, 0], seed_gradient / 8, rtol=1e-12)
    np.testing.assert_allclose(
        host(db[0]), [np.sum(-2.0 * (y - y_hat) * y_hat * (1.0 - y_hat)) / 8], rtol=1e-12
    )


def test_gradients_equal_a_float64_hand_computation(make_mlp, rng):
    """Seed 003's rules written out in NumPy (``reference``): the same loss and gradients
    on every backend, in float64."""
    x, labels = rng.normal(size=(9, 5)), rng.integers(0, 3, size=9)
    model = make_mlp([5, 7, 6, 3], ["tanh", "relu"], "softmax", dtype="float64", seed=3)
    params = parameters(model)
    loss, dW, db = model.gradients(x, labels, "cross_entropy")
    expected = reference.loss_and_gradients(
        params[:3], params[3:], ["tanh", "relu", "softmax"], x, np.eye(3)[labels], "cross_entropy"
    )
    np.testing.assert_allclose(loss, expected[0], rtol=1e-12)
    for got, want in zip([*dW, *db], [*expected[1], *expected[2]]):
        np.testing.assert_allclose(host(got), want, rtol=1e-10, atol=1e-14)


def test_gradient_check_detects_a_wrong_gradient(make_mlp, rng, monkeypatch):
    """The check can fail: a backward pass that forgets Φ' is caught."""
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    broken = ACTIVATIONS["tanh"].__class__("tanh", ACTIVATIONS["tanh"].value, lambda xp, z, a, g: g)
    monkeypatch.setattr(model, "phis", [broken, model.phis[1]])
    assert mlp_xp.gradient_check(model, x, y, "mse") > 1e-2


def test_gradient_check_of_a_float32_model_runs_in_float64(make_mlp, rng):
    model = make_mlp([3, 5, 2], "sigmoid", seed=1)
    before = [host(w) for w in model.weights]
    assert mlp_xp.gradient_check(model, rng.normal(size=(4, 3)), rng.normal(size=(4, 2))) <= 1e-6
    for w, b in zip(model.weights, before):
        assert w.dtype == model.dtype
        np.testing.assert_array_equal(host(w), b)


def _saturated(make_mlp, activation="sigmoid"):
    """Sigmoid units driven far into their flat tails: most gradients near rounding noise."""
    rng = np.random.default_rng(174)
    model = make_mlp([3, 6, 2], activation, "sigmoid", dtype="float64", seed=174)
    model.weights = [w * 25.0 for w in model.weights]
    return model, rng.normal(size=(8, 3)) * 3, rng.uniform(size=(8, 2))


def _huge_weights(make_mlp, activation="relu"):
    """Weights near 1e10, where an absolute step of 1e-6 is below their spacing (1.9e-6)."""
    rng = np.random.default_rng(2)
    model = make_mlp([3, 4, 2], activation, dtype="float64", seed=2)
    model.weights = [1e10 * (1.0 + 0.1 * w) for w in model.weights]
    return model, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


def _deep(make_mlp, activation="sigmoid"):
    """20 sigmoid layers: the first layers' gradients vanish (1e-14) below the noise."""
    rng = np.random.default_rng(3)
    model = make_mlp([3] + [4] * 19 + [2], activation, dtype="float64", seed=3)
    return model, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


HARD = {"saturated": _saturated, "weights-near-1e10": _huge_weights, "20-sigmoid-layers": _deep}


@pytest.mark.parametrize("case", list(HARD))
def test_gradient_check_gives_no_false_alarm_on_hard_correct_gradients(case, make_mlp):
    """Backprop is right in these cases (it agrees with torch autograd); the relative
    step and the rounding-noise floor keep the finite differences from crying wolf."""
    model, x, y = HARD[case](make_mlp)
    assert mlp_xp.gradient_check(model, x, y, "mse") <= 1e-6


@pytest.mark.parametrize("case", list(HARD))
def test_hard_case_gradients_equal_torch_autograd(case):
    """The reference for the two tests around: backprop's gradients are right here."""
    torch = pytest.importorskip("torch")
    model, x, y = HARD[case](partial(mlp_xp.MLP, backend="numpy"))
    _, dW, db = model.gradients(x, y, "mse")
    params = [torch.tensor(p, requires_grad=True) for p in (*model.weights, *model.biases)]
    functions = {"sigmoid": torch.sigmoid, "relu": torch.relu, "identity": lambda z: z}
    a = torch.tensor(x)
    for W, b, phi in zip(params[: len(dW)], params[len(dW) :], model.phis):
        a = functions[phi.name](a @ W + b)
    (0.5 * ((a - torch.tensor(y)) ** 2).sum(dim=1).mean()).backward()
    for ours, p in zip([*dW, *db], params):
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=1e-9, atol=1e-12 * np.abs(ours).max())


@pytest.fixture
def wrong_derivatives():
    """sigmoid and relu registered with derivatives off by a factor: wrong gradients."""
    mlp_xp.register_activation("sigmoid_wrong", sigmoid, lambda xp, z, a: 1.5 * a * (1.0 - a))
    mlp_xp.register_activation("relu_wrong", relu, lambda xp, z, a: 2.0 * xp.astype(z > 0, z.dtype))
    yield {
        "saturated": "sigmoid_wrong",
        "weights-near-1e10": "relu_wrong",
        "20-sigmoid-layers": "sigmoid_wrong",
    }
    del ACTIVATIONS["sigmoid_wrong"], ACTIVATIONS["relu_wrong"]


@pytest.mark.parametrize("case", list(HARD))
def test_gradient_check_still_catches_a_wrong_derivative_in_the_hard_cases(case, make_mlp, wrong_derivatives):
    model, x, y = HARD[case](make_mlp, wrong_derivatives[case])
    assert mlp_xp.gradient_check(model, x, y, "mse") > 1e-2


def test_gradient_check_needs_a_model():
    with pytest.raises(TypeError, match=r"model must be an mlp_xp\.MLP, got NoneType"):
        mlp_xp.gradient_check(None, [[1.0]], [1.0])
