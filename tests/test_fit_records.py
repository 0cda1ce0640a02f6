"""What each epoch reads and reports: the divergence probe (the loss and the parameters),
the full-batch gradient norm of ``tol``, the loss the adaptive schedule hears, the
epoch times, and the verbose line with validation data and ``tol``."""

import io
import math
import re
import time

import numpy as np
import pytest
import reference
from conftest import host, parameters

import mlp_xp

DIVERGED = (
    "training diverged in epoch 1: the loss or the parameters became NaN or infinite; the model "
    "keeps the parameters of the last finite epoch (try a smaller lr)"
)


def set_parameters(model, weights, biases):
    xp = model.xp
    model.weights[:] = [xp.asarray(W, dtype=model.dtype, device=model.device) for W in weights]
    model.biases[:] = [xp.asarray(b, dtype=model.dtype, device=model.device) for b in biases]


def test_parameters_that_overflow_in_the_last_update_are_a_divergence(make_mlp):
    """One full-batch step: the loss (measured before it) and the gradient are finite, the
    step of 1e300·g is not: the probe of the parameters stops training."""
    model = make_mlp([1, 1], "identity", dtype="float64", seed=0)
    set_parameters(model, [[[0.0]]], [[0.0]])
    x, y = np.full((4, 1), 1e10), np.full(4, -1e10)
    with pytest.raises(FloatingPointError, match=re.escape(DIVERGED)):
        model.fit(x, y, lr=1e300, batch_size=None, epochs=2)
    assert model.history is None
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in parameters(model)]), [0.0, 0.0])


def test_a_loss_that_overflows_with_finite_parameters_is_a_divergence(make_mlp):
    """ŷ = 1e200: the cost ½ŷ² overflows, while the gradient ŷ and, after a step of 1e-300,
    the parameters stay finite: the probe of the loss stops training."""
    model = make_mlp([1, 1], "identity", dtype="float64", seed=0)
    set_parameters(model, [[[1e200]]], [[0.0]])
    x, y = np.ones((4, 1)), np.zeros(4)
    with pytest.warns(RuntimeWarning, match=re.escape(DIVERGED)):
        history = model.fit(x, y, lr=1e-300, batch_size=None, epochs=2, on_divergence="warn")
    assert history.n_epochs == 0 and host(model.weights[0])[0, 0] == 1e200


def test_the_gradient_norm_of_tol_is_the_full_batch_euclidean_norm(make_mlp, rng):
    """‖∇𝓔‖ = √(Σ over every parameter of its squared partial derivative), at the end of
    each epoch, on all the rows (not the last batch's)."""
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    norms = []

    def full_batch_norm(model, history):
        _, dW, db = model.gradients(x, y)
        norms.append(math.sqrt(sum(float(np.sum(host(g) ** 2)) for g in (*dW, *db))))

    history = model.fit(x, y, lr=0.1, batch_size=3, epochs=3, tol=1e-12, seed=0, callbacks=full_batch_norm)
    assert history.grad_norm == pytest.approx(norms, rel=1e-12)
    assert len(history.grad_norm) == 3 and not history.converged


def test_a_schedule_hears_each_epoch_s_own_loss():
    """A schedule with ``end_epoch(loss)`` is told every epoch's training loss, the latest."""

    class Listening:
        def __init__(self):
            self.heard = []

        def __call__(self, k):
            return 0.05

        def end_epoch(self, loss):
            self.heard.append(loss)

    x = np.linspace(-1, 1, 16)[:, None]
    schedule = Listening()
    history = mlp_xp.MLP([1, 3, 1], "tanh", seed=0).fit(x, x**2, batch_size=4, epochs=5, lr_schedule=schedule)
    assert schedule.heard == history.loss and len(set(history.loss)) == 5


def test_epoch_times_are_the_seconds_each_epoch_took(make_mlp, rng):
    """Each time is positive and they add up to no more than the whole fit took."""
    model = make_mlp([2, 3, 1], seed=0)
    started = time.perf_counter()
    history = model.fit(rng.normal(size=(40, 2)), rng.normal(size=40), batch_size=4, epochs=5)
    elapsed = time.perf_counter() - started
    assert len(history.time) == 5 and all(t > 0.0 for t in history.time)
    assert sum(history.time) <= elapsed


class Flushes(io.StringIO):
    """A stdout that notes, at each flush, the text it held: what a pipe would show."""

    def __init__(self):
        super().__init__()
        self.shown = []

    def flush(self):
        self.shown.append(self.getvalue())


def test_verbose_prints_the_loss_validation_results_gradient_norm_and_time(make_mlp, rng, monkeypatch):
    """One line per epoch, flushed as it is printed, with the latest values of each:
    ``epoch e/E  loss L  val_loss V  val_score S  |grad| G  T s``."""
    x, labels = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    model = make_mlp([3, 4, 3], "tanh", "softmax", dtype="float64", seed=0)
    out = Flushes()
    monkeypatch.setattr("sys.stdout", out)
    history = model.fit(
        x, labels, loss="cross_entropy", lr=0.5, batch_size=5, epochs=3, tol=1e-12, verbose=True,
        validation_data=(x[:8], labels[:8]),
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    for e, line in enumerate(lines):
        assert line == (
            f"epoch {e + 1}/3  loss {history.loss[e]:.6g}  val_loss {history.val_loss[e]:.6g}  "
            f"val_score {history.val_score[e]:.4g}  |grad| {history.grad_norm[e]:.3g}  "
            f"{history.time[e]:.3f} s"
        )
    assert len(lines) == 3 and len(set(lines)) == 3
    assert [shown.count("\n") for shown in out.shown if shown] == [1, 2, 3]


def test_an_epoch_with_validation_data_records_every_value_in_its_place(make_mlp, rng):
    """Full-batch steps: the loss is 𝓔 before the step, the layers' norms ‖∇Ωʲ‖ those of
    that gradient, val_loss and val_score those of the parameters after it."""
    x, labels = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    model = make_mlp([3, 4, 3], "tanh", "softmax", dtype="float64", seed=0)
    expected = []

    def measure(model, _=None):
        loss, dW, _ = model.gradients(x, labels, "cross_entropy")
        val_loss = model.gradients(x[:8], labels[:8], "cross_entropy")[0]
        predicted = np.argmax(host(model.forward(x[:8])), axis=1)
        expected.append(
            (loss, [float(np.linalg.norm(host(g))) for g in dW], val_loss, np.mean(predicted == labels[:8]))
        )

    measure(model)
    history = model.fit(
        x, labels, loss="cross_entropy", lr=0.5, batch_size=None, epochs=3,
        validation_data=(x[:8], labels[:8]), callbacks=measure,
    )  # fmt: skip
    assert history.loss == pytest.approx([e[0] for e in expected[:3]], rel=1e-12)
    for got, e in zip(history.layer_grad_norms, expected[:3]):
        assert got == pytest.approx(e[1], rel=1e-12)
    assert history.val_loss == pytest.approx([e[2] for e in expected[1:]], rel=1e-12)
    assert history.val_score == pytest.approx([e[3] for e in expected[1:]], rel=1e-12)


def test_finite_float64_parameters_near_the_limit_are_not_a_divergence(make_mlp, rng):
    """±1e308 in unused places of two arrays (a zero input's row, dead ReLU units): finite,
    never updated; any sum of them overflows, the probe of the parameters must not."""
    model = make_mlp([2, 3, 1], "relu", dtype="float64", seed=0)
    W1, W2 = np.zeros((2, 3)), np.zeros((3, 1))
    W1[0, :2], W1[1, 2] = [1e308, -1e308], 1.0  # x₀ = 0; units 0 and 1 get ζ = β = −1: dead
    W2[:, 0] = [1e308, -1e308, 1.0]
    set_parameters(model, [W1, W2], [[-1.0, -1.0, 0.0], [0.0]])
    x = np.c_[np.zeros(16), rng.uniform(0.5, 1.5, size=16)]
    history = model.fit(x, rng.normal(size=16), lr=0.01, batch_size=4, epochs=2)
    assert history.n_epochs == 2
    np.testing.assert_array_equal(host(model.weights[1])[:2, 0], [1e308, -1e308])


def test_early_stopping_keeps_its_best_epoch_when_training_then_diverges(make_mlp, rng):
    """The best epoch is the first (the validation targets have the opposite sign); epoch 3
    steps by η = 1e300 and epoch 4 diverges, under on_divergence="warn": the model ends with
    epoch 1's parameters, not those of epoch 3, the last finite one."""
    x = rng.normal(size=(12, 3))
    y = np.tanh(x @ rng.normal(size=(3, 2)))
    model, first = (make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0) for _ in range(2))
    with pytest.warns(RuntimeWarning, match="diverged in epoch 4"):
        history = model.fit(
            x, y, batch_size=None, epochs=5, validation_data=(x, -y), on_divergence="warn",
            lr_schedule=lambda k: 0.1 if k < 2 else 1e300,
            early_stopping=mlp_xp.EarlyStopping("val_loss", patience=10),
        )  # fmt: skip
    first.fit(x, y, batch_size=None, epochs=1, lr=0.1)
    assert history.n_epochs == 3 and history.best_epoch == 0
    for p, q in zip(parameters(model), parameters(first)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    ("batch_size", "sampling", "rows"),
    [(None, "shuffle", 20), (5, "shuffle", 5), (5, "uniform", 5), (30, "shuffle", 20), (30, "uniform", 30)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_the_gradient_norm_of_tol_includes_the_penalty_of_the_batches(
    batch_size, sampling, rows, weighted, make_mlp, rng
):
    """‖∇(Σ wᵢCᵢ / Σ wᵢ + (α/2M̄) Σ‖Ω‖²)‖ over all rows, M̄ = M Σw / N the mean weight of a
    batch of M rows (M = N for gradient descent and for M ≥ N without replacement)."""
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    w = rng.uniform(0.5, 2.0, size=20) if weighted else np.ones(20)
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    norms = []

    def full_batch_norm(model, history):
        params = parameters(model)
        _, dW, db = reference.loss_and_gradients(params[:2], params[2:], ["tanh", "identity"], x, y, "mse", w)
        mean_weight = rows * w.sum() / 20
        grads = [g + 0.3 / mean_weight * W for g, W in zip(dW, params[:2])] + db
        norms.append(math.sqrt(sum(float((g**2).sum()) for g in grads)))

    history = model.fit(
        x, y, sample_weight=w if weighted else None, alpha=0.3, lr=0.05, batch_size=batch_size,
        sampling=sampling, epochs=2, tol=1e-12, callbacks=full_batch_norm,
    )  # fmt: skip
    assert history.grad_norm == pytest.approx(norms, rel=1e-12)


def test_tol_stops_when_the_gradient_norm_equals_it(make_mlp, rng):
    """‖∇𝓔‖ ≤ tol, equality included: a tol set to the norm the first epoch ends with stops there."""
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    norm = model.fit(x, y, lr=0.1, batch_size=None, epochs=1, tol=1e-300).grad_norm[0]
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    history = model.fit(x, y, lr=0.1, batch_size=None, epochs=5, tol=norm)
    assert history.converged and history.n_epochs == 1 and history.grad_norm == [norm]
