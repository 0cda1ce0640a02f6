"""Which rows each batch of an epoch holds: "shuffle", "uniform" and "sequential".

An epoch is reproduced by hand from the seed (``reference.epoch_batches``) and the fit
compared with plain SGD written in float64 NumPy (``reference.sgd_fit``), on every
backend; sample weights that single out one row show which rows an epoch visited
without reproducing any draw.
"""

import math

import numpy as np
import pytest
import reference
from conftest import parameters

SIZES, ACTIVATIONS = [4, 6, 3], ["tanh", "softmax"]


@pytest.fixture
def data(rng):
    return rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)


@pytest.mark.parametrize(
    ("sampling", "batch_size"),
    [
        ("shuffle", 8),
        ("shuffle", 1),
        ("shuffle", 45),
        ("uniform", 8),
        ("uniform", 30),
        ("uniform", 45),
        ("sequential", 8),
        ("uniform", None),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_is_sgd_on_the_batches_drawn_from_the_seed(sampling, batch_size, dtype, data, make_mlp):
    """The batches of ``reference.epoch_batches``, from ``default_rng(seed)``: a permutation
    per epoch, ⌈N/M⌉·M indices drawn with replacement (a bootstrap sample of M rows even
    when M ≥ N), or the rows in order; then θ ← θ − η∇𝓔(batch), as float64 NumPy does it."""
    x, labels = data
    model = make_mlp(SIZES, "tanh", "softmax", dtype=dtype, seed=5)
    start = parameters(model)
    fit = dict(lr=0.2, batch_size=batch_size, epochs=3, seed=11, sampling=sampling)
    history = model.fit(x, labels, loss="cross_entropy", **fit)
    weights, biases, losses = reference.sgd_fit(
        start[:2], start[2:], ACTIVATIONS, x, np.eye(3)[labels], "cross_entropy", **fit
    )
    rtol = 1e-10 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(history.loss, losses, rtol=rtol)
    for got, expected in zip(parameters(model), [*weights, *biases]):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


def test_the_hand_drawn_batches_are_what_the_names_say():
    """The reference itself: a permutation covers each row once; uniform draws repeat rows
    and miss others, in batches of M even when M ≥ N; sequential keeps the order."""
    rng = np.random.default_rng(0)
    shuffled = np.concatenate(reference.epoch_batches(rng, 10, 3, "shuffle"))
    assert sorted(shuffled) == list(range(10)) and list(shuffled) != list(range(10))
    drawn = reference.epoch_batches(rng, 10, 15, "uniform")
    assert [len(b) for b in drawn] == [15] and len(set(drawn[0])) < 10
    assert [list(b) for b in reference.epoch_batches(rng, 5, 2, "sequential")] == [[0, 1], [2, 3], [4]]


def lone_row_fit(make_mlp, row, sampling, batch_size, epochs=12):
    """Training on 4 rows where only ``row`` has weight: an epoch's loss is NaN exactly
    when the epoch did not visit that row."""
    x, y = np.arange(8.0).reshape(4, 2) / 8, np.arange(4.0)
    weight = np.zeros(4)
    weight[row] = 1.0
    model = make_mlp([2, 1], seed=0)
    return model.fit(
        x, y, sample_weight=weight, lr=0.01, batch_size=batch_size, sampling=sampling, epochs=epochs, seed=1
    ).loss


@pytest.mark.parametrize("row", [0, 3], ids=["first-row", "last-row"])
def test_uniform_sampling_draws_the_first_and_the_last_row(row, make_mlp):
    """24 draws of 4 rows: each row is drawn in some epoch (missing one every time has
    probability (3/4)²⁴ ≈ 1e-3 for a seed, and the seed is fixed)."""
    losses = lone_row_fit(make_mlp, row, "uniform", batch_size=2)
    assert any(math.isfinite(loss) for loss in losses)


@pytest.mark.parametrize("batch_size", [4, 6], ids=["M=N", "M>N"])
def test_uniform_sampling_with_a_batch_of_all_rows_is_a_bootstrap_sample(batch_size, make_mlp):
    """A batch of M ≥ N rows is still drawn with replacement: some epochs miss row 0."""
    losses = lone_row_fit(make_mlp, 0, "uniform", batch_size=batch_size)
    assert any(math.isnan(loss) for loss in losses) and any(math.isfinite(loss) for loss in losses)


@pytest.mark.parametrize("sampling", ["shuffle", "sequential"])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 6])
def test_shuffle_and_sequential_visit_every_row_once_per_epoch(sampling, batch_size, make_mlp):
    for row in range(4):
        losses = lone_row_fit(make_mlp, row, sampling, batch_size=batch_size, epochs=3)
        assert all(math.isfinite(loss) for loss in losses)


@pytest.mark.parametrize("sampling", ["shuffle", "uniform"])
def test_an_epoch_loss_is_the_mean_cost_of_the_rows_visited(sampling, make_mlp, rng):
    """With a step too small to change a cost, a shuffled epoch's loss is the mean cost of
    all rows, each visited once; a uniform epoch's mean over rows drawn with repetition is not."""
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    model = make_mlp([3, 4, 2], "tanh", dtype="float64", seed=0)
    mean_cost = model.gradients(x, y)[0]
    loss = model.fit(x, y, lr=1e-30, batch_size=5, sampling=sampling, epochs=1, seed=2).loss[0]
    assert (loss == pytest.approx(mean_cost, rel=1e-12)) == (sampling == "shuffle")


@pytest.mark.parametrize("sampling", ["shuffle", "sequential"])
@pytest.mark.parametrize("batch_size", [30, 31])
def test_a_batch_of_all_rows_is_gradient_descent(sampling, batch_size, data, make_mlp):
    """Without replacement, a batch of M ≥ N rows holds every row once, in order: the fit of
    ``batch_size=None``, bit for bit."""
    x, labels = data
    model, full = (make_mlp(SIZES, "tanh", "softmax", seed=5) for _ in range(2))
    options = dict(loss="cross_entropy", lr=0.2, epochs=3, seed=11, sampling=sampling)
    history = model.fit(x, labels, batch_size=batch_size, **options)
    expected = full.fit(x, labels, batch_size=None, **options)
    assert history.loss == expected.loss
    for got, want in zip(parameters(model), parameters(full)):
        np.testing.assert_array_equal(got, want)
