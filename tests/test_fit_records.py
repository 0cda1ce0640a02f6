"""What each epoch reads and reports: the divergence probe (the loss and the parameters),
the full-batch gradient norm of ``tol``, the loss the adaptive schedule hears, the
epoch times, and the verbose line with validation data and ``tol``."""

import io
import math
import re
import time

import numpy as np
import pytest
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
