"""Data-parallel fit on every backend, with a process group of threads (``threads.py``).

The semantics of ``fit(comm=...)``: equal to one process fitting the global
batches, parameters identical on every process after every step, rank 0's
start, agreed input checks, an abort on failure, rank 0 alone writing.  The
same cases run on the real engines (MPI, torch.distributed) in
``test_launchers.py``.
"""

import numpy as np
import pytest
from cases import CASES, Recording, data, split
from conftest import host, parameters
from threads import run_group, run_ok

import mlp_xp
from mlp_xp import training
from mlp_xp._comm import LOCAL, rank_generator
from mlp_xp._engines import communicator
from mlp_xp.optimizers import SGD


def assert_same_on_every_process(models):
    for model in models[1:]:
        for a, b in zip(parameters(model), parameters(models[0])):
            np.testing.assert_array_equal(a, b)


def assert_histories_close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.n_epochs == w.n_epochs and g.best_epoch == w.best_epoch
        for name in ("loss", "val_loss", "grad_norm"):  # val_score: R², see the accuracy test below
            np.testing.assert_allclose(getattr(g, name), getattr(w, name), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("name", list(CASES))
def test_a_data_parallel_fit_equals_one_process_fitting_the_global_batches(name, size, backend, device):
    """Rank r starts from seed r, but takes rank 0's parameters; every process ends with the
    same bits, equal (to float rounding) to one process on the concatenated global batches."""
    case = CASES[name]

    def work(comm):
        model = case.model(backend, device, seed=comm.rank)
        return model, case.fit(model, size, comm.rank, comm)

    results = run_ok(size, work)
    models = [model for model, _ in results]
    assert_same_on_every_process(models)
    reference, histories = case.reference(size, backend, device)
    for got, want in zip(parameters(models[0]), parameters(reference)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert_histories_close(results[0][1], histories)
    for _, process_histories in results[1:]:
        for h, h0 in zip(process_histories, results[0][1]):
            assert h.loss == h0.loss and h.val_loss == h0.val_loss


def test_the_validation_values_are_those_of_every_process_s_validation_rows(make_mlp):
    """The validation loss is the mean over every process's rows, and so is the accuracy;
    an R² is the mean of each process's R², weighted by its rows (not the union's R²)."""
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(30, 3)), rng.integers(0, 3, size=30)
    options = dict(loss="cross_entropy", batch_size=None, epochs=3, lr=0.5)

    def work(comm):
        rows, val = split(np.arange(20), [12, 8])[comm.rank], split(np.arange(20, 30), [3, 7])[comm.rank]
        model = make_mlp([3, 4, 3], "tanh", "softmax", dtype="float64", seed=0)
        return model.fit(x[rows], labels[rows], validation_data=(x[val], labels[val]), comm=comm, **options)

    histories = run_ok(2, work)
    reference = make_mlp([3, 4, 3], "tanh", "softmax", dtype="float64", seed=0)
    expected = reference.fit(x[:20], labels[:20], validation_data=(x[20:], labels[20:]), **options)
    assert histories[0].val_score == histories[1].val_score
    np.testing.assert_allclose(histories[0].val_loss, expected.val_loss, rtol=1e-12)
    np.testing.assert_allclose(histories[0].val_score, expected.val_score, rtol=1e-12)


def test_the_parameters_are_the_same_on_every_process_after_every_step(make_mlp):
    """Shuffled batches (each process its own order), momentum, uneven shards: after each of
    the 3 x 3 steps the processes' parameters have the same digest."""
    x, y = data()[:2]

    def work(comm):
        model, optimizer = make_mlp([3, 5, 2], "tanh", seed=0), Recording()
        shard = [split(a, [8, 8, 6])[comm.rank] for a in (x, y)]
        model.fit(*shard, optimizer=optimizer, batch_size=3, epochs=3, seed=4, comm=comm)
        return optimizer.digests

    digests = run_ok(3, work)
    assert len(digests[0]) == 9 and len(set(digests[0])) == 9
    assert digests[1] == digests[0] and digests[2] == digests[0]


def test_each_process_draws_its_own_batch_order_from_the_seed_and_its_rank():
    orders = [rank_generator(np.random.default_rng(5), rank).permutation(20) for rank in (0, 1, 0)]
    assert np.array_equal(orders[0], orders[2]) and not np.array_equal(orders[0], orders[1])


def test_full_batch_gradient_descent_is_over_the_union_of_the_shards(make_mlp):
    """One update per epoch whose gradient is the union's: a single step equals one process's."""
    x, y = data()[:2]
    options = dict(optimizer="sgd", lr=0.3, batch_size=None, epochs=1)
    models = run_ok(
        2,
        lambda comm: _fitted(
            make_mlp, split(x, [4, 18])[comm.rank], split(y, [4, 18])[comm.rank], comm, options
        ),
    )
    reference = make_mlp([3, 5, 2], "tanh", dtype="float64", seed=0)
    reference.fit(x, y, **options)
    for got, want in zip(parameters(models[1]), parameters(reference)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert models[0].n_updates == models[1].n_updates == 1


def _fitted(make_mlp, x, y, comm, options):
    model = make_mlp([3, 5, 2], "tanh", dtype="float64", seed=comm.rank)
    model.fit(x, y, comm=comm, **options)
    return model


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"x": np.full((6, 3), np.nan)}, "NaN"),
        ({"x": np.zeros((6, 4))}, "features"),
        ({"lr": 0.2}, "its lr (not those of process 0)"),
        ({"loss": "l1"}, "its loss (not those of process 0)"),
    ],
    ids=["nan", "shape", "lr", "loss"],
)
def test_invalid_input_on_one_process_makes_every_process_raise_before_training(bad, message, make_mlp):
    x, y = data()[:2]

    def work(comm):
        model = make_mlp([3, 4, 2], "tanh", seed=comm.rank)
        arguments = {"x": x[:6], "y": y[:6], "lr": 0.1, "loss": "mse"}
        if comm.rank == 1:
            arguments.update(bad)
        try:
            model.fit(arguments.pop("x"), arguments.pop("y"), epochs=2, comm=comm, **arguments)
        finally:
            assert model.n_updates == 0 and model.history is None  # nothing trained
        return model

    _, errors = run_group(3, work)
    assert all(isinstance(error, ValueError) for error in errors), errors
    assert message in str(errors[1])
    for error in (errors[0], errors[2]):
        assert "process 1 of 3 refused its input, so no process trains" in str(error)


def test_an_error_on_one_process_during_training_aborts_every_process(make_mlp):
    """The failing process prints why and ends the job (here: breaks the group, as MPI Abort
    would end the others); no process waits forever."""
    x, y = data()[:2]

    def callback(model, history):
        if history.n_epochs == 2:
            raise RuntimeError("disk full")

    comms = []

    def work(comm):
        comms.append(comm)
        model = make_mlp([3, 4, 2], "tanh", seed=0)
        model.fit(x, y, epochs=5, comm=comm, callbacks=callback if comm.rank == 1 else ())

    _, errors = run_group(2, work)
    assert all(error is not None for error in errors)
    failed = next(comm for comm in comms if comm.rank == 1)
    assert "process 1 of 2 failed during training; aborting all 2 processes" in failed.aborted
    assert "RuntimeError: disk full" in failed.aborted


def test_a_stop_on_one_process_stops_every_process(make_mlp):
    """A callback's stop is shared: all stop after the same epoch, with the same parameters."""
    x, y = data()[:2]

    def work(comm):
        model = make_mlp([3, 4, 2], "tanh", seed=0)
        stop = (lambda m, h: h.n_epochs == 3) if comm.rank == 2 else ()
        model.fit(
            split(x, [8, 8, 6])[comm.rank],
            split(y, [8, 8, 6])[comm.rank],
            epochs=10,
            comm=comm,
            callbacks=stop,
        )
        return model

    models = run_ok(3, work)
    assert [m.history.n_epochs for m in models] == [3, 3, 3]
    assert [m.history.stopped_early for m in models] == [True] * 3
    assert_same_on_every_process(models)


def test_verbose_prints_on_rank_0_only(make_mlp, capsys):
    x, y = data()[:2]
    run_ok(2, lambda comm: make_mlp([3, 4, 2], seed=0).fit(x, y, epochs=2, verbose=True, comm=comm))
    assert capsys.readouterr().out.count("epoch 1/2") == 1


def test_rank_0_saves_and_every_process_returns_its_path_once_written(make_mlp, tmp_path, monkeypatch):
    writers = []
    original = mlp_xp.persistence.save
    monkeypatch.setattr(mlp_xp.persistence, "save", lambda *a, **k: writers.append(1) or original(*a, **k))

    def work(comm):
        model = make_mlp([3, 4, 2], seed=comm.rank)
        model.fit(*data()[:2], epochs=1, comm=comm)
        return model, model.save(tmp_path / "net", comm=comm)

    results = run_ok(3, work)
    assert writers == [1] and {str(path) for _, path in results} == {str(tmp_path / "net.npz")}
    loaded = mlp_xp.load(results[0][1], backend="numpy")  # load is local
    for got, want in zip(parameters(loaded), parameters(results[2][0])):
        np.testing.assert_array_equal(got, want)


def test_when_rank_0_cannot_save_every_process_raises(make_mlp, tmp_path):
    def work(comm):
        return make_mlp([3, 4, 2], seed=0).save(tmp_path / "missing" / "net", comm=comm)

    _, errors = run_group(2, work)
    assert isinstance(errors[0], OSError)
    assert isinstance(errors[1], RuntimeError) and "process 0 could not write" in str(errors[1])


def test_without_a_communicator_fit_exchanges_nothing(make_mlp, monkeypatch):
    """comm=None is the single-process loop itself: no reduction, no agreement, same bits."""
    assert communicator(None) is LOCAL and not LOCAL.distributed
    monkeypatch.setattr(training, "reduce_sums", lambda *a: pytest.fail("reduce_sums was called"))
    x, y = data()[:2]
    a, b = make_mlp([3, 4, 2], seed=0), make_mlp([3, 4, 2], seed=0)
    options = dict(optimizer=SGD(momentum=0.9), batch_size=5, epochs=2, alpha=0.1, tol=1e-9, seed=1)
    assert a.fit(x, y, **options).loss == b.fit(x, y, comm=None, **options).loss
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_array_equal(p, q)


def test_an_unknown_communicator_is_refused_naming_its_type(make_mlp):
    with pytest.raises(TypeError, match=r"comm must be None, an mpi4py communicator.*builtins\.str"):
        make_mlp([3, 4, 2]).fit(*data()[:2], comm="world")


# ------------------------------------------------------------------ estimators


@pytest.mark.filterwarnings("ignore:.*maximum iterations")
def test_an_estimator_s_classes_are_those_of_every_process(backend):
    """Rank 0 sees classes a and b, rank 1 b and c: both learn a, b and c, to the same network."""
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    labels = np.array(["a", "b"] * 10 + ["b", "c"] * 10)

    def work(comm):
        rows = slice(0, 20) if comm.rank == 0 else slice(20, 40)
        classifier = mlp_xp.MLPClassifier(
            (5,), max_iter=5, random_state=comm.rank, backend=backend, comm=comm
        )
        return classifier.fit(x[rows], labels[rows])

    classifiers = run_ok(2, work)
    assert [list(c.classes_) for c in classifiers] == [["a", "b", "c"]] * 2
    for p, q in zip(classifiers[0].coefs_, classifiers[1].coefs_):
        np.testing.assert_array_equal(p, q)
    assert classifiers[0].loss_curve_ == classifiers[1].loss_curve_


def test_an_estimator_keeps_its_communicator_through_clone_and_get_params():
    sklearn = pytest.importorskip("sklearn")
    group = run_ok(2, lambda comm: comm)
    regressor = mlp_xp.MLPRegressor(comm=group[0])
    clone = sklearn.base.clone(regressor)
    assert clone.comm is group[0] and regressor.get_params()["comm"] is group[0]


@pytest.mark.filterwarnings("ignore:.*maximum iterations")
def test_invalid_estimator_input_on_one_process_makes_every_process_raise():
    pytest.importorskip("sklearn")
    x, y = data()[:2]

    def work(comm):
        features = np.where(comm.rank == 1, np.nan, x[:10])
        return mlp_xp.MLPRegressor((4,), max_iter=2, comm=comm).fit(features, y[:10])

    _, errors = run_group(2, work)
    assert "NaN" in str(errors[1]) and "process 1 of 2 refused its input" in str(errors[0])


@pytest.mark.filterwarnings("ignore:.*maximum iterations")
def test_a_data_parallel_estimator_equals_one_process_on_the_union(backend):
    """Full-batch line search (one global batch per epoch): the same network as one process
    on every row, and the same ``loss_curve_``, ``t_`` and ``n_iter_``."""
    pytest.importorskip("sklearn")
    x, y = data()[:2]
    options = dict(solver="line_search", batch_size=22, learning_rate_init=1.0, max_iter=8, shuffle=False)

    def work(comm):
        shard = [split(a, [11, 11])[comm.rank] for a in (x, y)]
        regressor = mlp_xp.MLPRegressor((4,), random_state=0, backend=backend, comm=comm, **options)
        return regressor.set_params(batch_size=11).fit(*shard)

    regressors = run_ok(2, work)
    reference = mlp_xp.MLPRegressor((4,), random_state=0, backend=backend, **options).fit(x, y)
    for p, q in zip(regressors[1].coefs_, reference.coefs_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(regressors[1].loss_curve_, reference.loss_curve_, rtol=1e-10)
    assert regressors[0].t_ == reference.t_ and regressors[0].n_iter_ == reference.n_iter_
    assert host(regressors[0].predict(x)).shape == (22, 2)


def test_a_checkpoint_with_a_communicator_is_refused_on_every_process(make_mlp, tmp_path):
    """Every process would write the one file: refused before anything trains, on every process."""
    x, y = data()[:2]

    def work(comm):
        model = make_mlp([3, 4, 2], "tanh", seed=comm.rank)
        model.fit(x[:6], y[:6], loss="mse", epochs=2, comm=comm, checkpoint=tmp_path / "run.npz")
        return model

    _, errors = run_group(2, work)
    assert all(isinstance(error, ValueError) for error in errors), errors
    assert "checkpoint= and comm= together are not supported" in str(errors[0])
    assert not (tmp_path / "run.npz").exists()
