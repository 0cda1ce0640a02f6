"""The lean training loop gives the plain path's results, bit for bit.

``fit`` updates working copies in place, skips the output activation when a
fused cost reads the logits, and uses a mask product for ReLU'.  Each test
runs the accelerated path and the plain, functional one on every backend and
asks for equal arrays, not close ones.  Both are the eager loop
(``compile=False``); ``test_compile.py`` compares the compiled one with it.
"""

import dataclasses
import math

import array_api_compat
import numpy as np
import pytest
from conftest import host, parameters, random_targets

import mlp_xp
from mlp_xp._validation import as_features
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.costs import get_cost
from mlp_xp.network import backward, forward
from mlp_xp.optimizers import SGD, Adam, copy_tree, owned_step

OPTIMIZERS = [SGD(), SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam()]
OPTIMIZER_IDS = ["sgd", "momentum", "nesterov", "adam"]


class HandWritten:
    """The built-in optimizers' steps written out from their formulas, functional (new
    arrays, arguments untouched): fit's plain path, independent of their ``update``."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def init(self, params):
        return self.optimizer.init(params)

    def step(self, params, grads, state, lr):
        opt = self.optimizer
        if isinstance(opt, Adam):
            t = state["t"] + 1
            m = [opt.beta1 * m + (1 - opt.beta1) * g for m, g in zip(state["m"], grads)]
            v = [opt.beta2 * v + (1 - opt.beta2) * (g * g) for v, g in zip(state["v"], grads)]
            lr_t = lr * math.sqrt(1 - opt.beta2**t) / (1 - opt.beta1**t)
            xp = array_api_compat.array_namespace(*params)
            new = [p - lr_t * a / (xp.sqrt(b) + opt.eps) for p, a, b in zip(params, m, v)]
            return new, {"m": m, "v": v, "t": t}
        steps = [lr * g for g in grads]
        if opt.momentum == 0.0:
            return [p - s for p, s in zip(params, steps)], state
        velocity = [opt.momentum * v - s for v, s in zip(state["velocity"], steps)]
        if opt.nesterov:
            return [p + (opt.momentum * v - s) for p, v, s in zip(params, velocity, steps)], {
                "velocity": velocity
            }
        return [p + v for p, v in zip(params, velocity)], {"velocity": velocity}


def assert_equal_arrays(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(host(a), host(b))


def assert_equal_states(got, want):
    assert (got is None) == (want is None)
    for key in want or {}:
        if isinstance(want[key], list):
            assert_equal_arrays(got[key], want[key])
        else:
            assert got[key] == want[key]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_update_is_the_formula_s_step_in_place(optimizer, xp, device, rng):
    """``update`` changes the lists it is given (and returns them) to the values of the
    written-out formula; ``step`` gives the same values as new arrays and leaves its
    arguments as they were."""
    hand = HandWritten(optimizer)
    params = [xp.asarray(rng.normal(size=s), device=device) for s in [(3, 2), (2,)]]
    state = optimizer.init(params)
    for _ in range(3):
        grads = [xp.asarray(rng.normal(size=p.shape), device=device) for p in params]
        expected, expected_state = hand.step(params, grads, state, 0.05)
        before = [host(a).copy() for a in (*params, *grads)]
        stepped, stepped_state = optimizer.step(params, grads, state, 0.05)
        assert_equal_arrays((*params, *grads), before)
        working, working_state = copy_tree(params), copy_tree(state)
        updated, updated_state = optimizer.update(working, copy_tree(grads), working_state, 0.05)
        assert updated is working and updated_state is working_state
        for got, got_state in ((updated, updated_state), (stepped, stepped_state)):
            assert_equal_arrays(got, expected)
            assert_equal_states(got_state, expected_state)
        params, state = stepped, stepped_state


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
@pytest.mark.parametrize("options", [{}, {"alpha": 1e-2, "clip_norm": 0.5}], ids=["plain", "l2-clip"])
def test_fit_in_place_equals_the_hand_written_functional_fit(optimizer, options, make_mlp, rng):
    x, labels = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    fast, plain = (
        make_mlp([4, 6, 5, 3], "relu", "softmax", seed=1),
        make_mlp([4, 6, 5, 3], "relu", "softmax", seed=1),
    )
    functional = HandWritten(optimizer)
    assert owned_step(optimizer) == optimizer.update
    assert owned_step(functional) == functional.step
    kwargs = dict(loss="cross_entropy", lr=0.05, batch_size=8, epochs=3, seed=2, compile=False, **options)
    fast_history = fast.fit(x, labels, optimizer=optimizer, **kwargs)
    plain_history = plain.fit(x, labels, optimizer=functional, **kwargs)
    assert_equal_arrays(parameters(fast), parameters(plain))
    assert fast_history.loss == plain_history.loss


def test_a_subclass_that_overrides_step_is_called_through_step():
    class Halved(SGD):
        def step(self, params, grads, state, lr):
            return super().step(params, grads, state, lr / 2)

    halved, sgd = Halved(), SGD()
    assert owned_step(halved) == halved.step
    assert owned_step(sgd) == sgd.update


def state_arrays(state):
    return [] if state is None else [a for v in state.values() if isinstance(v, list) for a in v]


@pytest.mark.parametrize("optimizer", ["sgd", SGD(momentum=0.9), "adam"], ids=["sgd", "momentum", "adam"])
def test_fit_never_writes_into_arrays_it_has_handed_out(optimizer, make_mlp, rng):
    """In-place updates touch only fit's own working copies: the parameters and optimizer
    state the model held before fit, and those a callback saw after epoch 1, keep the
    values they had when they were handed out."""
    x, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    model = make_mlp([3, 5, 2], "tanh", seed=0)
    model.fit(x, y, optimizer=optimizer, lr=0.05, batch_size=6, epochs=1)
    held = [*model.weights, *model.biases, *state_arrays(model.optimizer_state)]
    snapshots = [host(a).copy() for a in held]
    seen, seen_snapshots = [], []

    def look_after_the_first_epoch(m, history):
        if history.n_epochs == 1:
            seen.extend([*m.weights, *m.biases, *state_arrays(m.optimizer_state)])
            seen_snapshots.extend(host(a).copy() for a in seen)

    model.fit(
        x, y, optimizer=optimizer, lr=0.05, batch_size=6, epochs=3, resume=True,
        callbacks=look_after_the_first_epoch,
    )  # fmt: skip
    assert len(seen) == len(held) > 0
    assert_equal_arrays(held, snapshots)
    assert_equal_arrays(seen, seen_snapshots)
    assert not np.array_equal(host(model.weights[0]), snapshots[0])  # fit did update the model
    assert not np.array_equal(host(model.weights[0]), seen_snapshots[0])


@pytest.mark.parametrize(
    ("output_activation", "loss", "n_out"),
    [("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 2)],
)
def test_forward_without_the_output_activation_gives_the_same_gradients(
    output_activation, loss, n_out, make_mlp, rng
):
    model = make_mlp([4, 5, n_out], "relu", output_activation, seed=0)
    xp, cost = model.xp, get_cost(loss)
    x = xp.asarray(rng.normal(size=(7, 4)), dtype=model.dtype, device=model.device)
    y = xp.asarray(np.eye(n_out)[rng.integers(0, n_out, size=7)], dtype=model.dtype, device=model.device)
    full = forward(xp, model.weights, model.biases, model.phis, x)
    lean = forward(xp, model.weights, model.biases, model.phis, x, output=False)
    assert lean[1][-1] is None
    assert_equal_arrays(lean[0], full[0])
    assert_equal_arrays(lean[1][:-1], full[1][:-1])
    losses, dW, db = backward(xp, model.weights, model.phis, *full, y, cost)
    lean_losses, lean_dW, lean_db = backward(xp, model.weights, model.phis, *lean, y, cost)
    assert_equal_arrays([lean_losses, *lean_dW, *lean_db], [losses, *dW, *db])


def test_relu_family_masks_equal_their_where_forms(xp, device, rng):
    """ReLU'(ζ) ⊙ g as a 0/1 mask product equals where(ζ > 0, g, 0), with ReLU'(0) = 0;
    leaky ReLU as max(ζ, sζ) equals where(ζ > 0, ζ, sζ)."""
    values = np.concatenate([rng.normal(size=20), [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30]])
    z = xp.asarray(values, device=device)
    g = xp.asarray(rng.normal(size=values.shape), device=device)
    relu, leaky = ACTIVATIONS["relu"], ACTIVATIONS["leaky_relu"]
    positive = host(z) > 0
    slope = mlp_xp.activations.LEAKY_SLOPE
    np.testing.assert_array_equal(
        host(relu.vjp(xp, z, relu.value(xp, z), g)), np.where(positive, host(g), 0.0)
    )
    np.testing.assert_array_equal(host(leaky.value(xp, z)), np.where(positive, values, slope * values))
    np.testing.assert_array_equal(
        host(leaky.vjp(xp, z, leaky.value(xp, z), g)), np.where(positive, host(g), slope * host(g))
    )


def test_data_of_the_model_dtype_is_not_copied(backend, xp, device, rng):
    """NumPy and torch hand back the caller's array itself (array_api_strict wraps it anew)."""
    x = xp.asarray(rng.normal(size=(5, 3)), dtype=xp.float32, device=device)
    same = as_features(xp, x, 3, xp.float32, device)
    assert same is x or backend == "array_api_strict"
    np.testing.assert_array_equal(host(same), host(x))
    converted = as_features(xp, x, 3, xp.float64, device)
    assert converted.dtype == xp.float64


def test_recorded_gradient_norms_are_the_last_batch_s_before_its_update(make_mlp, rng):
    """The update may overwrite the gradients with η g: the norms are read before it."""
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    model, reference = (
        make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1),
        make_mlp([3, 4, 2], "tanh", dtype="float64", seed=1),
    )
    options = dict(lr=0.1, batch_size=4, sampling="sequential", epochs=1)
    model.fit(x, y, **options)  # batches: rows 0-3, 4-7, 8-9
    reference.fit(x[:8], y[:8], **options)  # the same first two updates
    _, dW, _ = reference.gradients(x[8:], y[8:], "mse")
    assert model.history.layer_grad_norms[0] == pytest.approx(
        [np.linalg.norm(host(g)) for g in dW], rel=1e-12
    )


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_arrays_without_in_place_operators_train_the_same(optimizer, monkeypatch, rng):
    """The fallback for libraries whose arrays are immutable: with array_api_strict's
    in-place operators switched off, ``a -= b`` rebinds ``a`` to ``a - b`` (Python's rule),
    and fit gives the parameters and losses of the in-place run."""
    xs = pytest.importorskip("array_api_strict")
    x, labels = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    kwargs = dict(loss="cross_entropy", optimizer=optimizer, lr=0.05, batch_size=8, epochs=2, seed=3)
    in_place = mlp_xp.MLP([4, 5, 3], "relu", "softmax", backend="array_api_strict", seed=1)
    in_place_history = in_place.fit(x, labels, **kwargs)
    array_type = type(xs.asarray(0.0))
    for method in ("__iadd__", "__isub__", "__imul__", "__itruediv__"):
        monkeypatch.setattr(array_type, method, lambda self, other: NotImplemented)
    probe = xs.asarray([1.0])
    alias = probe
    probe -= 1.0
    assert probe is not alias and float(alias[0]) == 1.0  # the switch works: a new array
    immutable = mlp_xp.MLP([4, 5, 3], "relu", "softmax", backend="array_api_strict", seed=1)
    history = immutable.fit(x, labels, **kwargs)
    assert_equal_arrays(parameters(immutable), parameters(in_place))
    assert history.loss == in_place_history.loss


def test_a_custom_optimizer_s_state_is_passed_through_as_it_is(make_mlp, rng):
    """Only the built-ins' state is copied for in-place updates: a custom optimizer's
    state, here a tuple holding an object of its own, reaches its step unchanged."""

    class Counter:
        def __init__(self):
            self.steps = 0

    class Counting:
        def init(self, params):
            self.state = ("counter", Counter())
            return self.state

        def step(self, params, grads, state, lr):
            assert state is self.state
            state[1].steps += 1
            return [p - lr * g for p, g in zip(params, grads)], state

    x, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))
    model = make_mlp([2, 3, 1], seed=0)
    optimizer = Counting()
    model.fit(x, y, optimizer=optimizer, batch_size=4, epochs=2)
    assert model.optimizer_state is optimizer.state and optimizer.state[1].steps == 6


@pytest.mark.parametrize(
    ("output", "loss", "optimizer", "batch_size"),
    [
        ("softmax", "cross_entropy", "sgd", 4),
        ("sigmoid", "binary_cross_entropy", "adam", 4),
        ("exp", "poisson", "lbfgs", None),
        ("softmax", "cross_entropy", "line_search", None),
    ],
)
@pytest.mark.parametrize("tol", [None, 1e-12])
def test_fit_never_evaluates_the_output_activation_under_a_fused_cost(
    output, loss, optimizer, batch_size, tol, make_mlp, rng
):
    """The fused cost reads the logits: an output activation whose value raises is never called,
    neither by the updates, a line search's trials nor the gradient-norm test of ``tol``."""
    model = make_mlp([3, 4, 2], "tanh", output, seed=0)
    phi = model.phis[-1]

    def refuse(xp, z):
        raise AssertionError(f"{phi.name} evaluated")

    model.phis[-1] = dataclasses.replace(phi, value=refuse)
    x, y = rng.normal(size=(12, 3)), random_targets(loss, rng, (12, 2))
    history = model.fit(
        x, y, loss=loss, optimizer=optimizer, lr=0.05, batch_size=batch_size, epochs=2, tol=tol
    )
    assert history.n_epochs == 2
