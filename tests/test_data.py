"""Data larger than memory and sparse data: memory-maps, .npy files and SciPy sparse
matrices train a batch of rows at a time, prefetched, and give the in-memory fit
bit for bit."""

import threading
import tracemalloc

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp import _data, _host_data
from mlp_xp.optimizers import SGD
from mlp_xp.training import FitConfig

sparse = pytest.importorskip("scipy.sparse")

SAMPLINGS = ["shuffle", "uniform", "sequential"]


@pytest.fixture
def data(rng):
    """103 samples (no batch size divides them), 5 features, 3 classes; weights in [0.1, 2]."""
    x = rng.normal(size=(103, 5))
    return x, rng.integers(0, 3, size=103), rng.uniform(0.1, 2.0, size=103)


def npy(tmp_path, name, array):
    """``array`` saved as ``tmp_path/name.npy``, opened as a read-only memory-map."""
    np.save(tmp_path / f"{name}.npy", array)
    return np.load(tmp_path / f"{name}.npy", mmap_mode="r")


def fitted(make_mlp, x, y, **options):
    """A [5, 7, 3] softmax network after 3 epochs of mini-batches of 10 on (x, y), eagerly:
    host data always trains so, and a compiled program (JAX's default) rounds otherwise."""
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    options = {"loss": "cross_entropy", "lr": 0.1, "batch_size": 10, "epochs": 3, "compile": False, **options}
    return model, model.fit(x, y, **options)


def assert_same_fit(got, want):
    (model, history), (reference, reference_history) = got, want
    for a, b in zip(parameters(model), parameters(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history.loss == reference_history.loss


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_a_memory_map_trains_as_the_array_in_memory(make_mlp, data, tmp_path, sampling, weighted):
    x, labels, weights = data
    options = {"sampling": sampling, "seed": 2, "alpha": 1e-3, "optimizer": "adam"}
    options["sample_weight"] = npy(tmp_path, "w", weights) if weighted else None
    streamed = fitted(make_mlp, npy(tmp_path, "x", x), npy(tmp_path, "y", labels), **options)
    options["sample_weight"] = weights if weighted else None
    assert_same_fit(streamed, fitted(make_mlp, x, labels, **options))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_real_targets_of_another_dtype_stream_as_in_memory(make_mlp, rng, tmp_path, sampling):
    """float64 data for a float32 model, real 1-D targets: cast on the host as on the device."""
    x, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    options = dict(loss="mse", lr=0.05, batch_size=8, epochs=2, sampling=sampling, seed=0, compile=False)
    model, reference = make_mlp([4, 6, 1], "tanh", seed=0), make_mlp([4, 6, 1], "tanh", seed=0)
    history = model.fit(npy(tmp_path, "x", x), npy(tmp_path, "y", y), **options)
    assert_same_fit((model, history), (reference, reference.fit(x, y, **options)))


def test_a_pair_of_npy_paths_trains_as_the_arrays(make_mlp, data, tmp_path):
    x, labels, _ = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    streamed = fitted(make_mlp, str(tmp_path / "x.npy"), tmp_path / "y.npy")
    assert_same_fit(streamed, fitted(make_mlp, x, labels))
    model = streamed[0]
    np.testing.assert_array_equal(host(model.forward(tmp_path / "x.npy")), host(model.forward(x)))


@pytest.mark.parametrize(
    "container", [sparse.csr_matrix, sparse.csr_array, sparse.csc_matrix, sparse.coo_array]
)
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_sparse_x_trains_as_its_dense_array(make_mlp, data, container, sampling):
    x, labels, weights = data
    x = np.where(np.abs(x) > 1.0, x, 0.0)
    options = {"sampling": sampling, "seed": 3, "sample_weight": weights}
    assert_same_fit(fitted(make_mlp, container(x), labels, **options), fitted(make_mlp, x, labels, **options))


def test_a_sparse_matrix_with_duplicate_entries_is_summed_as_scipy_sums_them(make_mlp, data):
    labels = data[1]
    two_entries_at_i_1 = (np.ones(206), np.ones(206, dtype=np.int32), np.arange(0, 207, 2))
    duplicated = sparse.csr_matrix(two_entries_at_i_1, shape=(103, 5))
    assert not duplicated.has_canonical_format
    assert_same_fit(fitted(make_mlp, duplicated, labels), fitted(make_mlp, duplicated.toarray(), labels))
    assert not duplicated.has_canonical_format  # the caller's matrix is left as it was


@pytest.mark.parametrize("optimizer", ["sgd", "line_search", "lbfgs"])
def test_gradient_descent_reads_host_data_whole_once(make_mlp, data, tmp_path, optimizer):
    x, labels, _ = data
    options = {"batch_size": None, "optimizer": optimizer, "epochs": 4}
    reference = fitted(make_mlp, x, labels, **options)
    assert_same_fit(fitted(make_mlp, npy(tmp_path, "x", x), labels, **options), reference)
    assert_same_fit(fitted(make_mlp, sparse.csr_matrix(x), labels, **options), reference)


def test_validation_data_may_be_host_data(make_mlp, data, tmp_path):
    x, labels, _ = data
    validation = (sparse.csr_matrix(x[:20]), npy(tmp_path, "y_val", labels[:20]))
    streamed = fitted(make_mlp, npy(tmp_path, "x", x), labels, validation_data=validation)
    reference = fitted(make_mlp, x, labels, validation_data=(x[:20], labels[:20]))
    assert_same_fit(streamed, reference)
    assert streamed[1].val_loss == reference[1].val_loss


@pytest.mark.parametrize("kind", ["memmap", "sparse"])
def test_forward_reads_host_data_a_block_of_rows_at_a_time(make_mlp, data, tmp_path, monkeypatch, kind):
    x, labels, _ = data
    model = fitted(make_mlp, x, labels)[0]
    monkeypatch.setattr(_data, "BLOCK_ELEMENTS", 20 * x.shape[1])  # 20 rows at a time
    blocks = []
    output = model._output
    monkeypatch.setattr(model, "_output", lambda rows: blocks.append(rows.shape) or output(rows))
    source = npy(tmp_path, "x", x) if kind == "memmap" else sparse.csr_matrix(x)
    predicted = host(model.forward(source))
    assert blocks == [(20, 5)] * 5 + [(3, 5)]
    by_blocks = [host(model.forward(x[start : start + 20])) for start in range(0, len(x), 20)]
    np.testing.assert_array_equal(predicted, np.concatenate(by_blocks))  # a GEMM's rounding may follow N


class PlainSGD:
    """θ ← θ − η g through ``init`` and ``step``, with ``before_step(k)`` called at update k."""

    def __init__(self, before_step):
        self.before_step, self.steps = before_step, 0

    def init(self, params):
        return None

    def step(self, params, grads, state, lr):
        self.steps += 1
        self.before_step(self.steps)
        return [p - lr * g for p, g in zip(params, grads)], state


def test_the_next_batch_is_read_while_the_current_one_trains(make_mlp, data, tmp_path, monkeypatch):
    """Update 1 waits until batch 2 is being read: without a reader running ahead of the
    updates, in another thread, the fit could not go on."""
    x, labels, _ = data
    source, reading, readers, read = npy(tmp_path, "x", x), threading.Event(), set(), _host_data.gather

    def gather(a, rows, dtype=None):
        if a is source and isinstance(rows, slice) and rows.stop - rows.start == 10:  # a batch
            readers.add(threading.current_thread().name)
            if rows.start == 10:
                reading.set()
        return read(a, rows, dtype)

    def before_step(k):
        assert k > 1 or reading.wait(timeout=60), "batch 2 was not read during update 1"

    monkeypatch.setattr(_host_data, "gather", gather)
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    optimizer = PlainSGD(before_step)
    model.fit(
        source,
        labels,
        loss="cross_entropy",
        optimizer=optimizer,
        batch_size=10,
        sampling="sequential",
        epochs=1,
    )
    assert optimizer.steps == 11 and readers and all(name.startswith("mlp_xp-batches") for name in readers)


def test_a_fit_that_fails_between_batches_leaves_no_reader_behind(make_mlp, data, tmp_path):
    x, labels, _ = data

    def before_step(k):
        if k == 3:
            raise RuntimeError("update 3 failed")

    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    with pytest.raises(RuntimeError, match="update 3 failed"):
        model.fit(
            npy(tmp_path, "x", x),
            labels,
            loss="cross_entropy",
            optimizer=PlainSGD(before_step),
            batch_size=10,
        )
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("mlp_xp-batches")]


@pytest.fixture(scope="module")
def large_memmap(tmp_path_factory):
    """A 200 MB float64 memory-map (390,625 × 64) and its labels, written a block at a time."""
    path = tmp_path_factory.mktemp("large") / "x.npy"
    rows, features = 390_625, 64
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 100_000):
        x[start : start + 100_000] = rng.normal(size=(min(100_000, rows - start), features))
    x.flush()
    del x
    return np.load(path, mmap_mode="r"), rng.integers(0, 2, size=rows)


def test_fitting_a_memory_map_stays_within_a_memory_bound(make_mlp, large_memmap):
    """The host memory allocated while checking and training a float32 model on a 200 MB
    float64 memory-map stays under 50 MB, as tracemalloc counts it (NumPy's arrays,
    which torch and array_api_strict share here): neither the checks nor the batches read
    it whole (read whole, it takes 108 MB on NumPy, 200 MB on torch)."""
    x, labels = large_memmap
    model = make_mlp([64, 8, 2], "relu", "softmax", seed=0)
    tracemalloc.start()
    try:
        model.fit(x, labels, loss="cross_entropy", batch_size=4096, epochs=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.nbytes == 200_000_000 and peak < 50_000_000, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("corrupt", "error", "match"),
    [
        (lambda x, y: x.__setitem__((101, 2), np.nan), ValueError, "x contains NaN or infinity"),
        (lambda x, y: x.__setitem__((101, 2), 1e300), ValueError, "beyond the range of the model's dtype"),
        (lambda x, y: y.__setitem__(101, 3), ValueError, r"y holds class labels outside 0\.\.2"),
    ],
    ids=["nan", "overflow", "label"],
)
def test_host_data_is_checked_block_by_block_before_training(
    make_mlp, data, tmp_path, monkeypatch, corrupt, error, match
):
    """A bad value in the last block is found before the first update; the model is unchanged."""
    x, labels, _ = data
    x, labels = x.copy(), labels.copy()
    corrupt(x, labels)
    monkeypatch.setattr(_data, "BLOCK_ELEMENTS", 10 * x.shape[1])  # blocks of 10 rows
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    before = parameters(model)
    with pytest.raises(error, match=match):
        model.fit(npy(tmp_path, "x", x), npy(tmp_path, "y", labels), loss="cross_entropy", batch_size=10)
    for a, b in zip(parameters(model), before):
        np.testing.assert_array_equal(a, b)
    assert model.history is None
    sparse_x = sparse.csr_matrix(np.where((np.abs(x) > 1.0) | ~np.isfinite(x), x, 0.0))
    with pytest.raises(error, match=match):
        model.fit(sparse_x, labels, loss="cross_entropy", batch_size=10)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda x, y, p: (x[:, :4], y), "x has 4 features, but the model expects 5"),
        (lambda x, y, p: (x[0], y), "x must be 2-D"),
        (lambda x, y, p: (x, y[:100]), "y has 100 samples, but x has 103"),
        (lambda x, y, p: (x, np.zeros((103, 2, 2))), "y must be 1-D or 2-D"),
        (lambda x, y, p: (p("z.npz"), y), "must name a .npy file"),
        (lambda x, y, p: (p("objects.npy"), y), "is not a .npy file of numbers"),
        (lambda x, y, p: (x.astype("U3"), y), "x must hold real numbers"),
    ],
    ids=["features", "1-d", "rows", "y-3d", "npz", "pickle", "strings"],
)
def test_bad_host_data_is_refused_naming_it(make_mlp, data, tmp_path, make, match):
    x, labels, _ = data
    np.savez(tmp_path / "z.npz", x=x)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    x_given, y_given = make(x, labels, lambda name: tmp_path / name)
    x_given = npy(tmp_path, "x", x_given) if isinstance(x_given, np.ndarray) else x_given
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(x_given, y_given, loss="cross_entropy", batch_size=10)


def test_tol_is_refused_for_host_data_in_mini_batches(make_mlp, data, tmp_path):
    x, labels, _ = data
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    with pytest.raises(ValueError, match=r"tol=0\.001 tests the gradient on all rows at once"):
        model.fit(npy(tmp_path, "x", x), labels, loss="cross_entropy", batch_size=10, tol=1e-3)
    model.fit(npy(tmp_path, "x", x), labels, loss="cross_entropy", batch_size=None, tol=1e-3, epochs=2)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_shards_are_contiguous_blocks_of_rows_of_the_same_kind(make_mlp, data, tmp_path, size):
    """``shard(rank, size)``: every row in exactly one shard, in order, sizes within 1."""
    x, labels, weights = data
    model = make_mlp([5, 7, 3], "relu", "softmax", seed=1)
    config = FitConfig(
        SGD(), 10, 1, "sequential", schedule=None, tol=None, verbose=False, on_divergence="raise"
    )
    cost = mlp_xp.COSTS["cross_entropy"]
    streamed = _data.streamed(model, cost, npy(tmp_path, "x", x), labels, weights, config)
    in_memory = model._training_data(x, labels, cost, weights, None, config).batches
    every_row = [host(a) for a in in_memory.whole()]
    for source in (streamed, in_memory):
        shards = [source.shard(rank, size) for rank in range(size)]
        assert [type(shard) for shard in shards] == [type(source)] * size
        assert {shard.n_rows for shard in shards} <= {103 // size, 103 // size + 1}
        batches = [batch for shard in shards for batch in shard.epoch(None, 103, "sequential")]
        for k, want in enumerate(every_row):
            np.testing.assert_array_equal(np.concatenate([host(batch[k]) for batch in batches]), want)
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1 \(size=2\), got 2"):
        streamed.shard(2, 2)
