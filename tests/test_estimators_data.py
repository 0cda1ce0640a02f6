"""The estimators on data larger than memory: memory-maps read a batch at a time, and
dask-ml's ``Incremental`` feeding ``partial_fit`` a Dask array's blocks."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from conftest import host

from mlp_xp import MLP, _host_data
from mlp_xp.estimators import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def blobs(rng):
    """90 samples, 4 features, 3 classes around distant centres."""
    y = np.repeat(np.arange(3), 30)
    return rng.normal(size=(90, 4)) + 3.0 * np.eye(4)[y], y


def memmap(tmp_path, array):
    np.save(tmp_path / "x.npy", array)
    return np.load(tmp_path / "x.npy", mmap_mode="r")


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_on_a_memory_map_equals_the_fit_on_the_array(
    backend, device, blobs, tmp_path, estimator, early_stopping
):
    """Bit for bit; with early stopping the training rows are a view of the memory-map,
    read a batch at a time, not a copy.  On JAX the array's fit is compiled (XLA fuses and
    rounds otherwise) and the memory-map's eager: equal to float32 rounding there."""
    x, labels = blobs
    y = labels if estimator is MLPClassifier else x @ np.arange(1.0, 5.0)
    options = dict(
        backend=backend,
        device=device,
        batch_size=16,
        max_iter=6,
        random_state=0,
        early_stopping=early_stopping,
    )
    reference = estimator((6,), **options).fit(x, y)
    mapped = memmap(tmp_path, x)
    fitted = estimator((6,), **options).fit(mapped, y)
    rounding = {"rtol": 1e-5, "atol": 1e-6} if backend == "jax" else {"rtol": 0.0, "atol": 0.0}
    for got, want in zip([*fitted.coefs_, *fitted.intercepts_], [*reference.coefs_, *reference.intercepts_]):
        np.testing.assert_allclose(got, want, **rounding)
    np.testing.assert_allclose(fitted.loss_curve_, reference.loss_curve_, **rounding)
    np.testing.assert_allclose(host(fitted.predict(mapped)), host(reference.predict(x)), **rounding)


def test_the_early_stopping_split_of_a_memory_map_is_a_view(blobs, tmp_path, monkeypatch):
    """The network trains on a view of the memory-map's training rows and validates on
    a view of the others: together every row once."""
    x, labels = blobs
    seen, training_data = [], MLP._training_data

    def recorded(self, x, y, cost, sample_weight, validation_data, config):
        seen.extend([x, validation_data[0]])
        return training_data(self, x, y, cost, sample_weight, validation_data, config)

    monkeypatch.setattr(MLP, "_training_data", recorded)
    MLPClassifier((6,), batch_size=16, max_iter=2, early_stopping=True, random_state=0).fit(
        memmap(tmp_path, x), labels
    )
    assert [type(view) for view in seen] == [_host_data.Rows] * 2
    assert sorted(np.concatenate([view.index for view in seen]).tolist()) == list(range(90))


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_dask_ml_incremental_trains_through_partial_fit(blobs, estimator, monkeypatch):
    """``dask_ml.wrappers.Incremental`` calls ``partial_fit`` once per block of a Dask
    array: one epoch on each block, in order, as the same calls made by hand."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    x, labels = blobs
    y = labels if estimator is MLPClassifier else x @ np.arange(1.0, 5.0)
    order = np.random.default_rng(0).permutation(90)  # blocks of mixed classes
    x, y = x[order], y[order]
    extra = {"classes": [0, 1, 2]} if estimator is MLPClassifier else {}
    blocks = []
    partial_fit = estimator.partial_fit
    monkeypatch.setattr(
        estimator,
        "partial_fit",
        lambda self, X, y, **kw: blocks.append(X.shape) or partial_fit(self, X, y, **kw),
    )
    incremental = wrappers.Incremental(estimator((6,), batch_size=10, random_state=0), shuffle_blocks=False)
    incremental.fit(da.from_array(x, chunks=30), da.from_array(y, chunks=30), **extra)
    assert blocks == [(30, 4)] * 3
    by_hand = estimator((6,), batch_size=10, random_state=0)
    for start in range(0, 90, 30):
        by_hand.partial_fit(x[start : start + 30], y[start : start + 30], **extra)
    for got, want in zip(incremental.estimator_.coefs_, by_hand.coefs_):
        np.testing.assert_array_equal(got, want)
    predicted = incremental.predict(da.from_array(x, chunks=30)).compute()
    np.testing.assert_array_equal(predicted, by_hand.predict(x))
