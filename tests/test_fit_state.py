"""What fit leaves on the model: parameters set by callbacks, the History of an
interrupted fit, the state that resume continues, a refused fit that changes
nothing; argument types; warnings that point at the caller."""

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp

LAYERS = [3, 4, 2]


@pytest.fixture
def data(rng):
    x = rng.normal(size=(12, 3))
    return x, x @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(12, 2))


def assert_same_parameters(a, b):
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_array_equal(p, q)


def halved(model):
    """The model's first weights halved, as a new array of its backend."""
    return model.weights[0] * 0.5


def test_a_callback_that_sets_weights_changes_the_next_epoch(make_mlp, data):
    """Setting model.weights[0] after epoch 1 equals stopping there, setting it,
    and resuming."""
    x, y = data
    options = dict(optimizer=mlp_xp.SGD(momentum=0.9), lr=0.05, batch_size=5)

    def halve_after_the_first_epoch(model, history):
        if history.n_epochs == 1:
            model.weights[0] = halved(model)

    model = make_mlp(LAYERS, "tanh", dtype="float64", seed=0)
    model.fit(x, y, epochs=3, callbacks=halve_after_the_first_epoch, **options)
    by_hand = make_mlp(LAYERS, "tanh", dtype="float64", seed=0)
    by_hand.fit(x, y, epochs=1, **options)
    by_hand.weights[0] = halved(by_hand)
    by_hand.fit(x, y, epochs=2, resume=True, **options)
    assert_same_parameters(model, by_hand)


@pytest.mark.skip_backend("jax", reason="JAX arrays are immutable: a callback cannot write into them")
def test_early_stopping_keeps_the_best_epoch_that_a_callback_changed_in_place(make_mlp, data):
    """The best epoch's parameters are those it was measured with, even when a
    callback then writes into the model's arrays."""
    x, y = data

    def shift_in_place(model, history):
        if history.n_epochs == 1:
            model.weights[-1][...] = model.weights[-1] + 10.0

    model = make_mlp(LAYERS, "tanh", dtype="float64", seed=3)
    history = model.fit(
        x, y, batch_size=None, epochs=20, validation_data=(x, -y), callbacks=shift_in_place,
        early_stopping=mlp_xp.EarlyStopping("val_loss", patience=2),
    )  # fmt: skip
    assert history.best_epoch == 0 and history.stopped_early
    one_epoch = make_mlp(LAYERS, "tanh", dtype="float64", seed=3)
    one_epoch.fit(x, y, batch_size=None, epochs=1)
    assert_same_parameters(model, one_epoch)


def test_a_refused_optimizer_leaves_the_last_fit_usable(make_mlp, data, tmp_path):
    """The class instead of an instance: refused by name before anything changes;
    resume and save still work."""
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    model.fit(x, y, optimizer="adam", epochs=1)
    optimizer, state, before = model.optimizer, model.optimizer_state, parameters(model)
    with pytest.raises(TypeError, match=r"optimizer must be .*got the class SGD.*optimizer=SGD\(\)"):
        model.fit(x, y, optimizer=mlp_xp.SGD, epochs=1)
    assert model.optimizer is optimizer and model.optimizer_state is state
    for p, q in zip(parameters(model), before):
        np.testing.assert_array_equal(p, q)
    model.fit(x, y, optimizer="adam", epochs=1, resume=True)
    assert model.n_updates == 2 * 1 and model.optimizer is optimizer
    assert mlp_xp.load(model.save(tmp_path / "model")).n_updates == 2


def test_a_fit_that_fails_in_its_first_epoch_leaves_the_model_as_it_was(make_mlp, data):
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    history = model.fit(x, y, optimizer="adam", epochs=2)
    optimizer, state, before = model.optimizer, model.optimizer_state, parameters(model)
    with pytest.raises(FloatingPointError):
        model.fit(x * 1e30, y * 1e30, optimizer="sgd", lr=1e30, epochs=3)
    assert model.optimizer is optimizer and model.optimizer_state is state and model.n_updates == 2
    assert model.history is history
    for p, q in zip(parameters(model), before):
        np.testing.assert_array_equal(p, q)


def raise_after_two_epochs(model, history):
    if history.n_epochs == 2:
        raise RuntimeError("stop here")


def interrupt_in_epoch_two(k):
    if k == 5:  # the second update of epoch 2 (4 batches of 3)
        raise KeyboardInterrupt
    return 0.1


def diverge_in_epoch_three(k):
    return 0.01 if k < 8 else 1e30


@pytest.mark.parametrize(
    ("options", "exception", "completed"),
    [
        ({"callbacks": raise_after_two_epochs}, RuntimeError, 2),
        ({"lr_schedule": interrupt_in_epoch_two}, KeyboardInterrupt, 1),
        ({"lr_schedule": diverge_in_epoch_three}, FloatingPointError, 2),
    ],
    ids=["callback", "ctrl-c", "divergence"],
)
def test_an_interrupted_fit_keeps_the_history_of_its_completed_epochs(
    options, exception, completed, make_mlp, rng
):
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    model = make_mlp(LAYERS, seed=0)
    model.fit(x, y, epochs=1)
    with pytest.raises(exception):
        model.fit(x, y, batch_size=3, epochs=5, **options)
    assert model.history.n_epochs == completed == len(model.history.time)
    reference = make_mlp(LAYERS, seed=0)
    reference.fit(x, y, epochs=1)
    expected = reference.fit(x, y, batch_size=3, epochs=completed, **{**options, "callbacks": ()})
    assert model.history.loss == expected.loss
    assert_same_parameters(model, reference)


@pytest.mark.parametrize("through_a_file", [False, True], ids=["in-memory", "file"])
def test_resumed_fits_continue_the_adaptive_schedule(through_a_file, make_mlp, data, tmp_path):
    """4 + 4 epochs equal 8; the loss stalls (lr 1e-6), so η is divided within the first 4."""
    x, y = data
    options = dict(lr=1e-6, batch_size=4, lr_schedule="adaptive")
    whole = make_mlp(LAYERS, "tanh", dtype="float64", seed=2)
    whole.fit(x, y, epochs=8, **options)
    parts = make_mlp(LAYERS, "tanh", dtype="float64", seed=2)
    parts.fit(x, y, epochs=4, **options)
    assert parts.schedule_state["lr"] < 1e-6
    if through_a_file:
        parts = mlp_xp.load(parts.save(tmp_path / "parts"), backend=parts.xp, device=parts.device)
    parts.fit(x, y, epochs=4, resume=True, **options)
    assert_same_parameters(parts, whole)
    assert parts.schedule_state == whole.schedule_state


def test_a_version_1_file_loads_without_a_schedule_state(make_mlp, data, tmp_path):
    import json

    x, y = data
    model = make_mlp(LAYERS, seed=0)
    model.fit(x, y, epochs=2, lr_schedule="adaptive")
    path = model.save(tmp_path / "model")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    metadata["format_version"] = 1
    del metadata["schedule_state"]
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    loaded = mlp_xp.load(path)
    assert loaded.schedule_state is None and loaded.n_updates == model.n_updates


def test_the_divergence_warning_points_at_the_caller(make_mlp, rng):
    model = make_mlp([2, 4, 1], seed=0)
    with pytest.warns(RuntimeWarning, match="diverged") as caught:
        model.fit(rng.normal(size=(8, 2)) * 1e6, rng.normal(size=8) * 1e6, lr=1e6, on_divergence="warn")
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"verbose": "no"}, "verbose must be True or False"),
        ({"verbose": 1}, "verbose must be True or False"),
        ({"resume": "yes"}, "resume must be True or False"),
    ],
    ids=["verbose-str", "verbose-int", "resume-str"],
)
def test_flags_must_be_booleans(options, match, make_mlp, data, capsys):
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    with pytest.raises(TypeError, match=match):
        model.fit(x, y, epochs=1, **options)
    assert capsys.readouterr().out == "" and model.history is None


def test_numpy_booleans_and_integers_are_accepted(make_mlp, data, capsys):
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    rule = mlp_xp.EarlyStopping("loss", patience=np.int64(3), restore_best=np.True_)
    model.fit(x, y, epochs=np.int32(2), verbose=np.False_, resume=np.bool_(True), early_stopping=rule)
    assert rule.patience == 3 and isinstance(rule.patience, int) and model.history.n_epochs == 2
    assert capsys.readouterr().out == ""  # verbose=np.False_ is False


def test_early_stopping_flags_and_layer_sets_are_refused():
    with pytest.raises(TypeError, match="restore_best must be True or False, got 'no'"):
        mlp_xp.EarlyStopping(restore_best="no")
    with pytest.raises(TypeError, match="layer_sizes must be a sequence of ints"):
        mlp_xp.MLP({3, 10, 2})


def test_a_short_validation_set_names_its_features(make_mlp, data):
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    with pytest.raises(
        ValueError, match=r"validation_data\[1\] has 5 samples, but validation_data\[0\] has 6"
    ):
        model.fit(x, y, validation_data=(x[:6], y[:5]))


def bad_parameters(model):
    """Assignments that do not fit the model: (list, index, value, exception, match)."""
    xp, device, W = model.xp, model.device, host(model.weights[0])
    other = xp.float64 if model.dtype == xp.float32 else xp.float32
    foreign = W if model.xp.__name__ != "array_api_compat.numpy" else W.tolist()
    return [
        ("weights", 0, xp.asarray(W, dtype=other, device=device), TypeError, r"weights\[0\] has dtype"),
        ("biases", 1, xp.zeros((3,), dtype=model.dtype, device=device), ValueError, r"biases\[1\] has shape"),
        ("weights", 1, foreign, TypeError, r"model.weights\[1\] must be an array of the model's backend"),
    ]


@pytest.mark.parametrize("case", range(3), ids=["dtype", "shape", "backend"])
@pytest.mark.parametrize("call", ["fit", "forward", "gradients"])
def test_assigned_parameters_are_checked(case, call, make_mlp, data):
    x, y = data
    model = make_mlp(LAYERS, seed=0)
    name, j, value, exception, match = bad_parameters(model)[case]
    getattr(model, name)[j] = value
    with pytest.raises(exception, match=match):
        {"fit": lambda: model.fit(x, y, epochs=1), "forward": lambda: model.forward(x),
         "gradients": lambda: model.gradients(x, y)}[call]()  # fmt: skip
    assert model.history is None


def test_parameters_set_by_a_callback_are_checked_after_it(make_mlp, data):
    x, y = data
    model = make_mlp(LAYERS, seed=0)

    def widen(model, history):
        model.weights[0] = model.xp.astype(model.weights[0], model.xp.float64)

    with pytest.raises(TypeError, match=r"model.weights\[0\] has dtype"):
        model.fit(x, y, epochs=3, callbacks=widen)
    assert model.history.n_epochs == 1


def test_parameters_on_another_device_are_refused(data):
    xs = pytest.importorskip("array_api_strict")
    x, y = data
    model = mlp_xp.MLP(LAYERS, backend="array_api_strict", device=xs.Device("device1"), seed=0)
    model.biases[0] = xs.zeros((4,), dtype=xs.float32)  # on the default device
    with pytest.raises(ValueError, match=r"model.biases\[0\] is on device .*but the model is on"):
        model.fit(x, y, epochs=1)


def test_an_estimator_s_integer_verbose_prints(rng, capsys):
    pytest.importorskip("sklearn")
    x, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    mlp_xp.MLPRegressor((4,), max_iter=2, verbose=2, random_state=0, tol=0.0, n_iter_no_change=5).partial_fit(
        x, y
    )
    assert capsys.readouterr().out.startswith("Iteration 1, loss = ")
