"""Property tests: backpropagation on random networks equals central finite differences.

Hypothesis draws networks (0–5 hidden layers, widths 1–32, a hidden activation
per layer, a valid (output activation, loss) pair, 1–16 rows, sample weights
with zeros or none, an L2 penalty or none, float64) and compares the gradients
of ``fit``'s batch objective (``objective_gradients``: backpropagation, the
weights, the penalty) with central differences of its value.  The runs are
derandomized (the same networks on every run, so CI is reproducible); a
failure is shrunk by Hypothesis to a small network, which then belongs in
``REGRESSIONS`` below.  Beside the drawn networks, ``COVERAGE`` holds two
networks for each (output, loss) pair whose hidden layers use every hidden
activation, so every hidden activation meets every pair on every run.

``MLP_XP_PROPERTY_EXAMPLES`` sets the networks per backend (200 by default;
the ``deep`` nox session runs 5,000).

**Directional derivatives.**  Stepping each of up to ~5,000 parameters in turn
would cost two forward passes per parameter; instead each parameter array θₖ
is stepped along ``DIRECTIONS`` random unit directions v (uniform on the
sphere): ĝᵥ = (𝓔(θₖ + hv) − 𝓔(θₖ − hv)) / 2h against backprop's gᵥ = ∇ₖ𝓔 · v.
This is as strong as the coordinate-wise check: a gradient error e of the
array gives gᵥ − ĝᵥ = e · v, a normal variable of standard deviation ‖e‖/√n
(n entries), while gᵥ itself has standard deviation ‖∇ₖ𝓔‖/√n; the error
counted, max(|gᵥ − ĝᵥ| − ν, 0) / (‖∇ₖ𝓔‖/√n + |ĝᵥ|), is therefore the
coordinate check's ‖e‖/‖∇ₖ𝓔‖ times |N(0, 1)|, and an error in any single
entry moves every direction.  ν is the rounding noise of the difference
quotient, c·u·(|𝓔⁺| + |𝓔⁻|)/2h, as in ``gradient_check``.

**Kinks.**  relu, leaky_relu (at ζ = 0), l1 (at ŷ = y), huber (at |ŷ − y| = 1)
and hinge (at yŷ = 1) have no derivative at their kink; a difference quotient
that straddles one measures a jump, not a gradient.  The inputs are built away
from them: a relu-family layer gets, per unit, a bias in the middle third of
the widest gap between the values −(αʲ⁻¹Ωʲ)ᵢ of its rows (so every ζ of the
batch lies at least 1/(N + 1) from 0, N ≤ 16 rows, while a step moves ζ by
about h), l1 and huber targets are drawn at a distance of 0.05 to 2 from ŷ
(not within 0.05 of 1 for huber), and a hinge target within 0.05 of the
margin is flipped.  The test then checks that no step crossed a kink: every
branch taken at θ ± hv is the one taken at θ.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import HIDDEN_ACTIVATIONS as HIDDEN
from conftest import VALID_PAIRS, host
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mlp_xp
from mlp_xp import network as network_module
from mlp_xp._backend import get_namespace
from mlp_xp.activations import ACTIVATIONS, tanh
from mlp_xp.costs import COSTS, HUBER_DELTA
from mlp_xp.network import forward
from mlp_xp.objective import objective_gradients, objective_value

EXAMPLES = int(os.environ.get("MLP_XP_PROPERTY_EXAMPLES", "200"))
KINKED = {"relu", "leaky_relu"}  # activations with a kink at ζ = 0
UNIT_ROUNDOFF = sys.float_info.epsilon
STEP = UNIT_ROUNDOFF ** (1.0 / 3.0)  # h ≈ 6e-6: truncation (h²) against rounding (u/h)
NOISE_FACTOR = 4.0  # c: the rounding error of 𝓔, in units of u|𝓔|
DIRECTIONS = 2  # random directions per parameter array
TOLERANCE = 1e-6
KINK_DISTANCE = 0.05  # of the targets from the kinks of l1, huber and hinge
ZERO_SHARES = (None, 0.0, 0.5, 1.0)  # shares of zero sample weights (None: no weights)
ALPHAS = (0.0, 0.01, 1.0)  # L2 penalties
HOST = get_namespace("numpy")


@dataclass(frozen=True)
class Network:
    """A network and its batch: ``sizes`` [n_0, ..., n_L], one hidden activation per
    hidden layer, the output activation and loss, ``rows`` samples, the share of
    zero sample weights (None: no weights), the L2 penalty α and the seed of
    the weights, inputs, biases, targets and directions."""

    sizes: tuple[int, ...]
    hidden: tuple[str, ...]
    output: str
    loss: str
    rows: int
    zero_weights: float | None
    alpha: float
    seed: int


@st.composite
def networks(draw: st.DrawFn) -> Network:
    output, loss = draw(st.sampled_from(VALID_PAIRS))
    depth = draw(st.integers(0, 5))
    widths = st.integers(1, 32)
    outputs = st.integers(_fewest_outputs(output), 32)
    return Network(
        sizes=(draw(widths), *draw(st.lists(widths, min_size=depth, max_size=depth)), draw(outputs)),
        hidden=tuple(draw(st.lists(st.sampled_from(HIDDEN), min_size=depth, max_size=depth))),
        output=output,
        loss=loss,
        rows=draw(st.one_of(st.just(1), st.integers(2, 16))),
        zero_weights=draw(st.sampled_from(ZERO_SHARES)),
        alpha=draw(st.sampled_from(ALPHAS)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _fewest_outputs(output: str) -> int:
    """Softmax needs two outputs, the elementwise activations one."""
    return 1 if ACTIVATIONS[output].elementwise else 2


def _coverage() -> list[Network]:
    """Two networks per (output, loss) pair whose hidden layers hold every hidden activation."""
    rng = np.random.default_rng(20261202)
    cases = []
    for output, loss in VALID_PAIRS:
        order = [str(name) for name in rng.permutation(HIDDEN)]
        for hidden in (order[:3], order[3:]):
            widths = rng.integers(1, 33, size=len(hidden) + 2)
            cases.append(
                Network(
                    (*map(int, widths[:-1]), max(int(widths[-1]), _fewest_outputs(output))),
                    tuple(hidden),
                    output,
                    loss,
                    int(rng.integers(1, 17)),
                    ZERO_SHARES[rng.integers(len(ZERO_SHARES))],
                    ALPHAS[rng.integers(len(ALPHAS))],
                    int(rng.integers(2**32)),
                )
            )
    return cases


COVERAGE = _coverage()
# Networks that once failed, shrunk by Hypothesis: kept as explicit examples.
REGRESSIONS: list[Network] = []


def _explicit(test):
    for case in [*REGRESSIONS, *COVERAGE]:
        test = example(network=case)(test)
    return test


def test_coverage_meets_every_hidden_activation_with_every_pair():
    met = {(name, c.output, c.loss) for c in COVERAGE for name in c.hidden}
    assert met == {(name, *pair) for name in HIDDEN for pair in VALID_PAIRS}


@given(network=networks())
@_explicit
@settings(
    max_examples=max(1, EXAMPLES - len(COVERAGE) - len(REGRESSIONS)),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_backprop_matches_finite_differences_on_random_networks(network, make_mlp, xp, device):
    """Relative error ≤ 1e-6 along random directions of every parameter array, float64."""
    for k, error in enumerate(errors(network, make_mlp, xp, device)):
        assert error <= TOLERANCE, f"parameter array {k} (weights, then biases): relative error {error:.3g}"


def errors(network: Network, make_mlp, xp, device) -> list[float]:
    """For each parameter array (weights, then biases), the largest relative error of
    backprop's directional derivatives (see the module's docstring); AssertionError
    if a difference quotient crossed a kink."""
    params, phis, batch, cost, rng = build(network, make_mlp)
    _, _, dW, db = objective_gradients(xp, params, phis, batch, cost, network.alpha, xp.float64)
    reference, found = branches(xp, params, phis, batch, cost), []
    for k, gradient in enumerate([*dW, *db]):
        scale = float(xp.linalg.vector_norm(gradient)) / math.sqrt(math.prod(gradient.shape))
        worst = 0.0
        for _ in range(DIRECTIONS):
            v = rng.normal(size=tuple(gradient.shape))
            v = xp.asarray(v / np.linalg.norm(v), device=device)
            moved = [[*params[:k], params[k] + s * STEP * v, *params[k + 1 :]] for s in (1.0, -1.0)]
            for trial in moved:
                assert branches(xp, trial, phis, batch, cost) == reference, "a step crossed a kink"
            up, down = (objective_value(xp, p, phis, batch, cost, network.alpha, xp.float64) for p in moved)
            numeric, analytic = (up - down) / (2 * STEP), float(xp.sum(gradient * v))
            noise = NOISE_FACTOR * UNIT_ROUNDOFF * (abs(up) + abs(down)) / (2 * STEP)
            excess = max(abs(analytic - numeric) - noise, 0.0)
            worst = max(worst, excess / (scale + abs(numeric)) if excess else 0.0)
        found.append(worst)
    return found


@pytest.fixture
def wrong_tanh():
    """tanh registered with a derivative 1e-4 too large (relative)."""
    mlp_xp.register_activation("tanh_wrong", tanh, lambda xp, z, a: (1.0 - a * a) * (1.0 + 1e-4))
    yield "tanh_wrong"
    del ACTIVATIONS["tanh_wrong"]


def test_the_check_catches_a_wrong_derivative(make_mlp, xp, device, wrong_tanh):
    network = Network((5, 7, 6, 3), ("relu", wrong_tanh), "softmax", "cross_entropy", 4, 0.5, 0.01, 1)
    found = errors(network, make_mlp, xp, device)
    # Ω¹, Ω², β¹ and β² (before the wrong tanh) see it; Ω³ and β³ do not.
    assert min(found[0], found[1], found[3], found[4]) > 10 * TOLERANCE >= max(found[2], found[5])


def test_the_check_catches_one_wrong_entry(make_mlp, xp, device, monkeypatch):
    """A bias gradient wrong in one entry of 32, by 1e-4 of its norm: random directions catch it."""

    def column_sums(xp, delta):
        sums = xp.sum(delta, axis=0)
        if sums.shape[0] != 32:
            return sums
        shift = xp.where(xp.arange(32, device=device) == 7, 1e-4 * xp.linalg.vector_norm(sums), 0.0)
        return sums + shift

    monkeypatch.setattr(network_module, "column_sums", column_sums)
    network = Network((3, 32, 2), ("sigmoid",), "identity", "mse", 6, None, 0.0, 2)
    found = errors(network, make_mlp, xp, device)
    assert found[2] > 10 * TOLERANCE >= max(found[:2] + found[3:])


def build(network: Network, make_mlp):
    """The network's parameters (weights then biases), activations, batch (x, y, w), cost
    and host generator, with ζ of relu-family units and the targets away from kinks."""
    rng = np.random.default_rng(network.seed)
    model = make_mlp(
        list(network.sizes), list(network.hidden), network.output, dtype="float64", seed=network.seed
    )
    x = rng.normal(size=(network.rows, network.sizes[0]))
    a, biases = x, []
    for W, phi in zip(model.weights, model.phis):
        u = a @ host(W)
        b = _clear_of_zero(u, rng) if phi.name in KINKED else rng.uniform(-0.5, 0.5, size=u.shape[1])
        a = np.asarray(phi.value(HOST, u + b))
        biases.append(b)
    y = _targets(network.loss, a, rng)
    w = None
    if network.zero_weights is not None:
        w = np.where(
            rng.uniform(size=network.rows) < network.zero_weights, 0.0, rng.uniform(0.1, 3.0, network.rows)
        )
    to_device = lambda v: None if v is None else model.xp.asarray(v, device=model.device)  # noqa: E731
    params = [*model.weights, *map(to_device, biases)]
    return params, model.phis, (to_device(x), to_device(y), to_device(w)), COSTS[network.loss], rng


def _clear_of_zero(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per column of ``u`` (N, n), a bias b in the middle third of the widest gap between the
    values −uᵢ and ±1.5: every u + b then lies at least (gap)/3 ≥ 1/(N + 1) from 0."""
    biases = []
    for column in u.T:
        edges = np.sort(np.concatenate([[-1.5, 1.5], np.clip(-column, -1.5, 1.5)]))
        widest = int(np.argmax(np.diff(edges)))
        low, high = edges[widest], edges[widest + 1]
        biases.append(rng.uniform(low + (high - low) / 3, high - (high - low) / 3))
    return np.array(biases)


def _targets(loss: str, yhat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valid targets for ``loss`` at the outputs ``yhat``, away from the kinks of l1, huber, hinge."""
    kind, shape = COSTS[loss].targets, yhat.shape
    if loss in ("l1", "huber"):
        distance = rng.uniform(KINK_DISTANCE, 2.0, size=shape)
        if loss == "huber":  # not within KINK_DISTANCE of δ
            near = np.abs(distance - HUBER_DELTA) < KINK_DISTANCE
            distance = np.where(near, distance + 2 * KINK_DISTANCE, distance)
        return yhat - rng.choice([-1.0, 1.0], size=shape) * distance
    if kind == "sign":
        y = rng.choice([-1.0, 1.0], size=shape)
        return np.where(np.abs(y * yhat - 1.0) < KINK_DISTANCE, -y, y) if loss == "hinge" else y
    if kind == "probability":
        return np.where(
            rng.uniform(size=shape) < 0.5, rng.integers(0, 2, size=shape), rng.uniform(size=shape)
        )
    if kind == "distribution":
        if rng.uniform() < 0.5:
            return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])
    if kind == "non_negative":
        return rng.poisson(1.5, size=shape) * rng.choice([1.0, 0.5], size=shape)
    return rng.normal(size=shape)


def branches(xp, params, phis, batch, cost) -> list[list[bool]]:
    """The branches taken at ``params``: ζ > 0 in relu-family layers, and ŷ > y (l1),
    |ŷ − y| ≤ δ (huber) or yŷ < 1 (hinge) at the outputs."""
    (x, y, _), n_layers = batch, len(phis)
    zs, activations = forward(xp, params[:n_layers], params[n_layers:], phis, x)
    taken = [host(z > 0).tolist() for z, phi in zip(zs, phis) if phi.name in KINKED]
    yhat = activations[-1]
    if cost.name == "l1":
        taken.append(host(yhat > y).tolist())
    if cost.name == "huber":
        taken.append(host(xp.abs(yhat - y) <= HUBER_DELTA).tolist())
    if cost.name == "hinge":
        taken.append(host(y * yhat < 1.0).tolist())
    return taken


@pytest.mark.parametrize("loss", ["l1", "huber", "hinge"])
def test_the_targets_keep_away_from_the_kinks(loss):
    rng = np.random.default_rng(5)
    yhat = rng.normal(size=(200, 4)) * 2
    y = _targets(loss, yhat, rng)
    margin = {
        "l1": np.abs(yhat - y),
        "huber": np.abs(np.abs(yhat - y) - 1.0),
        "hinge": np.abs(y * yhat - 1.0),
    }
    assert margin[loss].min() >= KINK_DISTANCE - 1e-12


def test_relu_family_units_keep_away_from_zero():
    rng = np.random.default_rng(6)
    for rows in (1, 2, 16):
        u = rng.normal(size=(rows, 32)) * rng.choice([0.01, 1.0, 10.0])
        assert np.abs(u + _clear_of_zero(u, rng)).min() >= 1.0 / (rows + 1) - 1e-12
