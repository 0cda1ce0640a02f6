"""Saving, loading and moving models: bit-identical round trips on every backend, exact
resumption of training, atomic writes, no pickle, and a clear error for every damaged or
foreign file."""

import json
import os
import re
import stat
import struct
import zipfile

import array_api_compat
import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp import persistence
from mlp_xp.activations import ACTIVATIONS, Activation
from mlp_xp.optimizers import SGD, Adam, LineSearchGD

LAYERS = [4, 6, 5, 3]


def data(rng):
    return rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)


def trained(make_mlp, rng, optimizer="adam", dtype="float64", epochs=2):
    """A model after ``epochs`` epochs: optimizer state, update count and generator all moved on."""
    model = make_mlp(LAYERS, ["tanh", "relu"], "softmax", dtype=dtype, seed=0)
    x, y = data(rng)
    model.fit(x, y, loss="cross_entropy", optimizer=optimizer, lr=0.05, batch_size=8, epochs=epochs)
    return model


def assert_same_model(loaded, model, device):
    """Same architecture, bit-identical parameters and optimizer state, same counters and generator."""
    assert loaded.layer_sizes == model.layer_sizes
    assert [phi.name for phi in loaded.phis] == [phi.name for phi in model.phis]
    for a, b in zip(parameters(loaded), parameters(model)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    for p in (*loaded.weights, *loaded.biases):
        assert array_api_compat.array_namespace(p) is loaded.xp
        assert array_api_compat.device(p) == loaded.device
    if device is not None:
        assert loaded.device == device
    assert loaded.optimizer == model.optimizer
    assert loaded.optimizer_state.keys() == model.optimizer_state.keys()
    for key, value in model.optimizer_state.items():
        if isinstance(value, list):
            for a, b in zip(loaded.optimizer_state[key], value):
                np.testing.assert_array_equal(host(a), host(b))
                assert array_api_compat.device(a) == loaded.device
        else:
            assert loaded.optimizer_state[key] == value
    assert loaded.n_updates == model.n_updates > 0
    assert loaded.rng.bit_generator.state == model.rng.bit_generator.state
    assert loaded.rng is not model.rng


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical(make_mlp, backend, device, rng, tmp_path, dtype):
    model = trained(make_mlp, rng, dtype=dtype)
    path = model.save(tmp_path / "model")
    assert path == tmp_path / "model.npz"  # the suffix is appended, as numpy.savez does
    loaded = mlp_xp.load(path, backend=backend, device=device)
    assert_same_model(loaded, model, device)
    x = rng.normal(size=(7, 4))
    np.testing.assert_array_equal(host(loaded.forward(x)), host(model.forward(x)))


def test_saved_on_any_backend_loads_on_numpy(make_mlp, rng, tmp_path):
    model = trained(make_mlp, rng)
    loaded = mlp_xp.load(model.save(tmp_path / "model.npz"))
    assert_same_model(loaded, model, None)
    assert isinstance(loaded.weights[0], np.ndarray)
    x = rng.normal(size=(7, 4))
    np.testing.assert_allclose(host(loaded.forward(x)), host(model.forward(x)), rtol=1e-12, atol=1e-15)


def test_to_moves_a_copy_between_backends(backend, device, rng):
    model = trained(mlp_xp.MLP, rng)
    moved = model.to(backend, device)
    assert_same_model(moved, model, device)
    back = moved.to("numpy")
    assert_same_model(back, model, None)
    x = rng.normal(size=(7, 4))
    np.testing.assert_allclose(host(moved.forward(x)), host(model.forward(x)), rtol=1e-12, atol=1e-15)
    # A copy: the original's parameters and generator are not shared.
    back.weights[0][0, 0] += 1.0
    assert back.weights[0][0, 0] != model.weights[0][0, 0]
    model.rng.random()
    assert moved.rng.bit_generator.state != model.rng.bit_generator.state


@pytest.mark.parametrize(
    "optimizer", ["sgd", SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam(), LineSearchGD()]
)
def test_resume_after_load_continues_exactly(make_mlp, backend, device, rng, tmp_path, optimizer):
    """2 epochs, save, load, 2 more epochs with resume=True == 4 epochs in one go."""
    x, y = data(rng)
    options = dict(loss="cross_entropy", optimizer=optimizer, lr=0.05, batch_size=8, lr_schedule="invscaling")
    once = make_mlp(LAYERS, ["tanh", "relu"], "softmax", dtype="float64", seed=0)
    once.fit(x, y, epochs=4, **options)
    first = make_mlp(LAYERS, ["tanh", "relu"], "softmax", dtype="float64", seed=0)
    first.fit(x, y, epochs=2, **options)
    resumed = mlp_xp.load(first.save(tmp_path / "half"), backend=backend, device=device)
    resumed.fit(x, y, epochs=2, resume=True, **options)
    for a, b in zip(parameters(resumed), parameters(once)):
        np.testing.assert_array_equal(a, b)
    assert resumed.n_updates == once.n_updates == 4 * 5
    assert resumed.rng.bit_generator.state == once.rng.bit_generator.state


def test_without_optimizer_the_model_is_saved_alone(rng, tmp_path):
    model = trained(mlp_xp.MLP, rng)
    loaded = mlp_xp.load(model.save(tmp_path / "model", include_optimizer=False))
    assert loaded.optimizer is None and loaded.optimizer_state is None
    assert loaded.n_updates == model.n_updates
    for a, b in zip(parameters(loaded), parameters(model)):
        np.testing.assert_array_equal(a, b)


def test_a_new_model_round_trips(tmp_path):
    model = mlp_xp.MLP([3, 2], output_activation="sigmoid", seed=1, init="lecun")
    loaded = mlp_xp.load(model.save(tmp_path / "m"))
    assert loaded.optimizer is None and loaded.n_updates == 0 and loaded.init == "lecun"
    for a, b in zip(parameters(loaded), parameters(model)):
        np.testing.assert_array_equal(a, b)


def test_the_task_and_the_labels_travel_with_the_model(tmp_path):
    model = mlp_xp.MLP([2, 3], "relu", "softmax", seed=0)
    model.task, model.classes = "classification", ["cat", "dog", "eel"]
    path = model.save(tmp_path / "model")
    with np.load(path) as archive:
        metadata = json.loads(archive["metadata"].tobytes())
    assert (metadata["task"], metadata["classes"]) == ("classification", ["cat", "dog", "eel"])
    for copy in (mlp_xp.load(path), model.to("numpy")):
        assert (copy.task, copy.classes) == (model.task, model.classes)
        assert copy.classes is not model.classes


def test_the_file_holds_plain_arrays_and_json(rng, tmp_path):
    model = trained(mlp_xp.MLP, rng, dtype="float32")
    path = model.save(tmp_path / "model.npz")
    names = [f"{kind}/{j}" for kind in ("weights", "biases") for j in range(3)]
    names += [f"optimizer/{key}/{i}" for key in ("m", "v") for i in range(6)]
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(f"{n}.npy" for n in [*names, "metadata"])
        for member in archive.namelist():
            with archive.open(member) as fp:
                assert np.lib.format.read_magic(fp) == (1, 0)
                _, _, dtype = np.lib.format.read_array_header_1_0(fp)
            assert not dtype.hasobject and dtype in (np.float32, np.uint8)
    with np.load(path, allow_pickle=False) as archive:
        metadata = json.loads(archive["metadata"].tobytes().decode("utf-8"))
        np.testing.assert_array_equal(archive["weights/2"], host(model.weights[2]))
        np.testing.assert_array_equal(archive["optimizer/v/4"], host(model.optimizer_state["v"][4]))
    assert metadata == {
        "format": "mlp_xp.model",
        "format_version": 2,
        "library_version": mlp_xp.__version__,
        "layer_sizes": LAYERS,
        "activations": ["tanh", "relu", "softmax"],
        "dtype": "float32",
        "init": None,
        "optimizer": {
            "config": {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
            "state": {"arrays": ["m", "v"], "scalars": {"t": 10}},
        },
        "n_updates": 10,
        "rng_state": json.loads(json.dumps(model.rng.bit_generator.state)),
        "schedule_state": None,
    }


def test_a_registered_user_activation_loads_once_registered_again(monkeypatch, tmp_path):
    cube = Activation("cube", lambda xp, z: z * z * z, lambda xp, z, a, g: 3.0 * z * z * g)
    monkeypatch.setitem(ACTIVATIONS, "cube", cube)
    path = mlp_xp.MLP([2, 3, 1], "cube", seed=0).save(tmp_path / "cube")
    assert mlp_xp.load(path).phis[0] is cube
    monkeypatch.delitem(ACTIVATIONS, "cube")
    with pytest.raises(ValueError, match=r"^cannot load .*'cube' is not registered: .*register_activation"):
        mlp_xp.load(path)
    with pytest.raises(ValueError, match=r"^cannot save the model to .*'cube' is not registered"):
        mlp_xp.MLP([2, 3, 1], cube, seed=0).save(tmp_path / "unregistered")
    assert sorted(os.listdir(tmp_path)) == ["cube.npz"]


# --- Atomic writes ------------------------------------------------------------------------


def _fail_on_second_array(monkeypatch):
    write_array, written = np.lib.format.write_array, []

    def failing(*args, **kwargs):
        if written:
            raise OSError("No space left on device")
        written.append(True)
        return write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    return OSError


def _fail_on_fsync(monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    return KeyboardInterrupt


def _fail_on_rename(monkeypatch):
    def failing(source, target):
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", failing)
    return PermissionError


@pytest.mark.parametrize("failure", [_fail_on_second_array, _fail_on_fsync, _fail_on_rename])
def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(monkeypatch, rng, tmp_path, failure):
    old = trained(mlp_xp.MLP, rng)
    path = old.save(tmp_path / "model.npz")
    new = trained(mlp_xp.MLP, rng, epochs=3)
    with monkeypatch.context() as patch:
        error = failure(patch)
        with pytest.raises(error):
            new.save(path)
    assert os.listdir(tmp_path) == ["model.npz"]
    for a, b in zip(parameters(mlp_xp.load(path)), parameters(old)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_file_gets_the_permissions_of_any_new_file(tmp_path):
    umask = os.umask(0o027)
    try:
        path = mlp_xp.MLP([2, 1], seed=0).save(tmp_path / "model")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_model_that_could_not_be_loaded_is_not_saved(tmp_path):
    model = mlp_xp.MLP([3, 4, 2], seed=0)
    model.weights[1] = model.weights[1] * np.nan
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r}: weights/1 contains NaN or infinity")):
        model.save(path)
    assert os.listdir(tmp_path) == []


def test_a_custom_optimizer_is_refused_with_a_way_out(rng, tmp_path):
    class Halving:
        def init(self, params):
            return None

        def step(self, params, grads, state, lr):
            return [p - 0.5 * lr * g for p, g in zip(params, grads)], state

    model = trained(mlp_xp.MLP, rng, optimizer=Halving())
    with pytest.raises(
        ValueError, match=r"^cannot save the model to .*cannot be saved.*include_optimizer=False"
    ):
        model.save(tmp_path / "model")
    assert os.listdir(tmp_path) == []
    assert isinstance(model.to("numpy").optimizer, Halving)  # in memory, any optimizer moves along
    model.save(tmp_path / "model", include_optimizer=False)
    assert os.listdir(tmp_path) == ["model.npz"]


class ListMomentum:
    """A user optimizer whose state is a list of velocities (any state is allowed)."""

    def init(self, params):
        return [p * 0.0 for p in params]

    def step(self, params, grads, state, lr):
        velocity = [0.5 * v - lr * g for v, g in zip(state, grads)]
        return [p + v for p, v in zip(params, velocity)], velocity


class TreeMomentum(ListMomentum):
    """The same, its state a tree of dicts, tuples, arrays, numbers and strings."""

    def init(self, params):
        return {"velocity": tuple(super().init(params)), "steps": 0, "note": "v"}

    def step(self, params, grads, state, lr):
        params, velocity = super().step(params, grads, state["velocity"], lr)
        return params, {"velocity": tuple(velocity), "steps": state["steps"] + 1, "note": "v"}


def _state_arrays(state):
    return list(state) if isinstance(state, list) else list(state["velocity"])


@pytest.mark.parametrize("optimizer", [ListMomentum, TreeMomentum])
def test_to_carries_any_optimizer_state(make_mlp, backend, device, rng, optimizer):
    x, y = data(rng)
    options = dict(loss="cross_entropy", optimizer=optimizer(), lr=0.05, batch_size=8)
    model = make_mlp(LAYERS, ["tanh", "relu"], "softmax", dtype="float64", seed=0)
    model.fit(x, y, epochs=2, **options)
    moved = model.to("numpy").to(backend, device)
    assert type(moved.optimizer_state) is type(model.optimizer_state)
    for a, b in zip(_state_arrays(moved.optimizer_state), _state_arrays(model.optimizer_state)):
        assert array_api_compat.array_namespace(a) is moved.xp and array_api_compat.device(a) == moved.device
        assert a is not b
        np.testing.assert_array_equal(host(a), host(b))
    for m in (model, moved):  # both continue the same way
        m.fit(x, y, epochs=1, resume=True, **{**options, "optimizer": m.optimizer})
    for a, b in zip(parameters(moved), parameters(model)):
        np.testing.assert_array_equal(a, b)


def test_a_state_a_file_cannot_hold_is_refused_with_a_way_out(rng, tmp_path):
    model = trained(mlp_xp.MLP, rng)
    model.optimizer_state = list(model.optimizer_state["m"])
    with pytest.raises(
        ValueError, match=r"^cannot save .*state, a list, cannot be stored.*include_optimizer=False"
    ):
        model.save(tmp_path / "model")
    model.optimizer_state = {"m": model.optimizer_state, "t": "ten"}
    with pytest.raises(ValueError, match=r"state, a dict whose 't' is a str, cannot be stored"):
        model.save(tmp_path / "model")
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "model", include_optimizer=False)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_subclassed_estimator_is_refused_by_save(tmp_path):
    class MyClassifier(mlp_xp.MLPClassifier):
        pass

    x, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    estimator = MyClassifier((3,), tol=1e9, n_iter_no_change=1, random_state=0).fit(x, y)
    with pytest.raises(
        TypeError, match="save writes MLPClassifier and MLPRegressor only, not a MyClassifier"
    ):
        estimator.save(tmp_path / "mine")
    assert os.listdir(tmp_path) == []


def test_an_estimator_entry_beyond_the_floats_is_refused_naming_the_file(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    classifier = mlp_xp.MLPClassifier((3,), tol=1e9, n_iter_no_change=1, random_state=0).fit(x, y)
    path = classifier.save(tmp_path / "classifier")
    _rewrite(path, lambda m: m["estimator"]["params"].__setitem__("learning_rate_init", 10**400))
    with pytest.raises(ValueError, match=r"^cannot load .*estimator entry is invalid: int too large"):
        mlp_xp.load(path)


# --- Paths ---------------------------------------------------------------------------------


def test_the_suffix_is_recognised_in_any_case(tmp_path):
    path = mlp_xp.MLP([2, 1], seed=0).save(tmp_path / "model.NPZ")
    assert path == tmp_path / "model.NPZ"
    assert os.listdir(tmp_path) == ["model.NPZ"]


def test_a_name_as_long_as_the_file_system_allows_is_saved(tmp_path):
    """255 bytes, the limit of common file systems: the temporary file's name is shortened."""
    model = mlp_xp.MLP([2, 1], seed=0)
    path = model.save(tmp_path / ("m" * 251))
    assert path.name == "m" * 251 + ".npz" and os.listdir(tmp_path) == [path.name]
    for a, b in zip(parameters(mlp_xp.load(path)), parameters(model)):
        np.testing.assert_array_equal(a, b)


def test_a_folder_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.npz").mkdir()
    model = mlp_xp.MLP([2, 1], seed=0)
    for path, folder in [(".", "."), (tmp_path, str(tmp_path)), ("taken", "taken.npz")]:
        with pytest.raises(
            ValueError, match=rf"^cannot save the model to {re.escape(repr(folder))}: it is a folder"
        ):
            model.save(path)
    assert os.listdir(tmp_path) == ["taken.npz"]


def test_bad_arguments_are_named(rng, tmp_path):
    model = mlp_xp.MLP([2, 1], seed=0)
    with pytest.raises(TypeError, match="path must be a str or a path-like object, got 3"):
        model.save(3)
    with pytest.raises(TypeError, match="include_optimizer must be True or False"):
        persistence.save(model, tmp_path / "m", include_optimizer="yes")
    with pytest.raises(FileNotFoundError):
        mlp_xp.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="backend must be one of"):
        mlp_xp.load(model.save(tmp_path / "m"), backend="mxnet")
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_version_1_file_loads(rng, tmp_path):
    """Version 1 had no schedule_state: such files load as before, with none."""
    model = trained(mlp_xp.MLP, rng)
    path = model.save(tmp_path / "model")
    _rewrite(path, lambda m: (m.update(format_version=1), m.pop("schedule_state")))
    loaded = mlp_xp.load(path)
    assert_same_model(loaded, model, None)
    assert loaded.schedule_state is None


def test_an_optimizer_state_may_hold_more_than_its_init_gives(rng, tmp_path):
    """An optimizer whose state grows (a history of pairs, say) keeps more keys than ``init``."""
    model = trained(mlp_xp.MLP, rng)
    path = model.save(tmp_path / "model")
    _rewrite(path, _set_state_scalar("rho/0", -2.5))
    assert mlp_xp.load(path).optimizer_state["rho/0"] == -2.5


def test_compressed_and_fortran_order_members_load(rng, tmp_path):
    """numpy.savez_compressed writes deflated members, and F-contiguous arrays in Fortran order."""
    model = trained(mlp_xp.MLP, rng)
    path = model.save(tmp_path / "model")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["weights/1"] = np.asfortranarray(arrays["weights/1"])
    np.savez_compressed(path, **arrays)
    with zipfile.ZipFile(path) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    loaded = mlp_xp.load(path)
    assert_same_model(loaded, model, None)


# --- Damaged and foreign files ---------------------------------------------------------


def _rewrite(path, edit_metadata=None, **members):
    """Rewrite the file at ``path`` with ``edit_metadata(metadata)`` applied and ``members``
    replaced (None: removed), written by plain numpy.savez (which pickles object arrays)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    if edit_metadata is not None:
        edit_metadata(metadata)
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    arrays.update(members)
    np.savez(path, **{name: a for name, a in arrays.items() if a is not None})


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_weight_byte(path):
    raw = bytearray(path.read_bytes())
    with np.load(path) as archive:
        start = raw.index(archive["weights/0"].tobytes())
    raw[start + 10] ^= 0xFF
    path.write_bytes(bytes(raw))


def _add_text_member(path):
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("README.txt", "hello")


def _set(key, value):
    return lambda metadata: metadata.__setitem__(key, value)


def _patch(path, *patches):
    """Overwrite little-endian fields of the zip structures: (signature, offset, format, value)."""
    raw = bytearray(path.read_bytes())
    for signature, offset, fmt, value in patches:
        struct.pack_into(fmt, raw, raw.index(signature) + offset, value)
    path.write_bytes(bytes(raw))


LOCAL, CENTRAL, END = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"


def _set_state_scalar(key, value):
    return lambda metadata: metadata["optimizer"]["state"]["scalars"].__setitem__(key, value)


DAMAGES = {
    "truncated": (_truncate, "it is not an .npz archive"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "not an .npz archive"),
    "a .npy file": (lambda p: p.write_bytes(b"\x93NUMPY" + bytes(200)), "it is not an .npz archive"),
    "a flipped data byte": (_flip_a_weight_byte, "its member 'weights/0' is damaged"),
    "a text member": (_add_text_member, "its member 'README.txt' is not a .npy array"),
    "no metadata": (lambda p: np.savez(p, **{"weights/0": np.ones((4, 6))}), "it has no 'metadata' member"),
    "metadata not JSON": (
        lambda p: _rewrite(p, metadata=np.arange(5, dtype=np.uint8)),
        "not valid UTF-8 JSON",
    ),
    "metadata as floats": (lambda p: _rewrite(p, metadata=np.ones(3)), "its metadata is not UTF-8 bytes"),
    "another format": (lambda p: _rewrite(p, _set("format", "keras")), "not an mlp_xp model file"),
    "a newer version": (
        lambda p: _rewrite(p, _set("format_version", 3)),
        "format version 3 .*reads versions 1 to 2: upgrade mlp_xp",
    ),
    "bad schedule state": (
        lambda p: _rewrite(p, _set("schedule_state", {"lr": -0.1, "best": None, "bad_epochs": 0})),
        "its schedule_state must be None or",
    ),
    "no layer sizes": (lambda p: _rewrite(p, lambda m: m.pop("layer_sizes")), "has no 'layer_sizes'"),
    "bad layer sizes": (
        lambda p: _rewrite(p, _set("layer_sizes", [4, 0, 5, 3])),
        r"layer_sizes\[1\] must be",
    ),
    "too few activations": (lambda p: _rewrite(p, _set("activations", ["relu"])), "must be 3 names"),
    "unknown activation": (
        lambda p: _rewrite(p, _set("activations", ["swish", "relu", "softmax"])),
        "'swish' is not registered: register user activations with mlp_xp.register_activation.* before "
        "saving or loading",
    ),
    "unknown dtype": (lambda p: _rewrite(p, _set("dtype", "float16")), "its dtype must be one of"),
    "negative n_updates": (
        lambda p: _rewrite(p, _set("n_updates", -1)),
        r"n_updates must be in \[0, 9223372036854775807\]",
    ),
    "boolean n_updates": (lambda p: _rewrite(p, _set("n_updates", True)), "'n_updates' must be int"),
    "bad rng state": (lambda p: _rewrite(p, _set("rng_state", {"bit_generator": "Xorshift"})), "rng_state"),
    "unknown optimizer": (
        lambda p: _rewrite(p, lambda m: m["optimizer"].__setitem__("config", {"name": "rmsprop"})),
        "optimizer .*'rmsprop'.* cannot be rebuilt",
    ),
    "NaN optimizer scalar": (
        lambda p: _rewrite(p, lambda m: m["optimizer"]["state"]["scalars"].__setitem__("t", float("nan"))),
        "not valid UTF-8 JSON",
    ),
    "a missing member": (lambda p: _rewrite(p, **{"biases/1": None}), "members missing: biases/1"),
    "a missing state array": (
        lambda p: _rewrite(p, **{"optimizer/m/5": None}),
        "members missing: optimizer/m/5",
    ),
    "an extra member": (lambda p: _rewrite(p, notes=np.zeros(2)), "unexpected members: notes"),
    "another shape": (
        lambda p: _rewrite(p, **{"weights/0": np.ones((5, 6))}),
        r"weights/0 has shape \(5, 6\)",
    ),
    "other layer sizes": (
        lambda p: _rewrite(p, _set("layer_sizes", [4, 7, 5, 3])),
        r"weights/0 has shape \(4, 6\), but layer_sizes \[4, 7, 5, 3\] needs \(4, 7\)",
    ),
    "another dtype": (
        lambda p: _rewrite(p, **{"biases/2": np.ones(3, dtype=np.float32)}),
        "biases/2 has dtype float32, but the model's dtype is float64",
    ),
    "a NaN weight": (
        lambda p: _rewrite(p, **{"weights/1": np.full((6, 5), np.nan)}),
        "weights/1 contains NaN or infinity",
    ),
    "an infinite state array": (
        lambda p: _rewrite(p, **{"optimizer/v/0": np.full((4, 6), np.inf)}),
        "optimizer/v/0 contains NaN or infinity",
    ),
    "an invalid init": (lambda p: _rewrite(p, _set("init", "uniform")), "its init must be null or one of"),
    "huge layer sizes": (
        lambda p: _rewrite(p, _set("layer_sizes", [4, 10**6, 10**6, 3])),
        r"describe 1000009000003 parameters, more than the 4294967296 a model file may hold",
    ),
    "a negative Adam step count": (
        lambda p: _rewrite(p, _set_state_scalar("t", -1)),
        r"optimizer state must be a state with \{'m': 'list', 'v': 'list', 't': 'int'\} for Adam",
    ),
    "no Adam step count": (
        lambda p: _rewrite(p, lambda m: m["optimizer"]["state"]["scalars"].pop("t")),
        "its optimizer state must be a state with",
    ),
    "a state array also a scalar": (
        lambda p: _rewrite(p, _set_state_scalar("m", 1)),
        "its optimizer state must be a state with",
    ),
    "softmax in a hidden layer": (
        lambda p: _rewrite(p, _set("activations", ["softmax", "relu", "softmax"])),
        "its activations do not fit its layers: activation 'softmax' is for the output layer only",
    ),
    "softmax on one output": (
        lambda p: _rewrite(p, _set("layer_sizes", [4, 6, 5, 1])),
        "its activations do not fit its layers: .*softmax.* needs at least 2 output units",
    ),
    "an Adam eps beyond the floats": (
        lambda p: _rewrite(p, lambda m: m["optimizer"]["config"].__setitem__("eps", 10**400)),
        "its optimizer .* cannot be rebuilt: int too large to convert to float",
    ),
    "an unknown task": (
        lambda p: _rewrite(p, _set("task", "clustering")),
        "its task must be null, 'classification' or 'regression', got 'clustering'",
    ),
    "labels that do not fit the outputs": (
        lambda p: _rewrite(p, lambda m: m.update(task="classification", classes=["a", "a", "b"])),
        "its classes must be null or, with task 'classification', 3 distinct labels",
    ),
    "an encrypted member": (lambda p: _patch(p, (LOCAL, 6, "<H", 1), (CENTRAL, 8, "<H", 1)), "is encrypted"),
    "a bzip2 member": (
        lambda p: _patch(p, (LOCAL, 8, "<H", 12), (CENTRAL, 10, "<H", 12)),
        "compressed with zip method 12: model files are stored or deflated",
    ),
    "a directory beyond the end": (lambda p: _patch(p, (END, 16, "<L", 2**31)), "damaged"),
    "a member larger than its bytes": (
        lambda p: _patch(p, (CENTRAL, 24, "<L", 2**31)),
        r"announces 2147483648 bytes, more than its \d+ compressed bytes can hold",
    ),
    "metadata nested too deep": (
        lambda p: _rewrite(p, metadata=np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8)),
        "not valid UTF-8 JSON",
    ),
    "a pickled object array": (
        lambda p: _rewrite(p, **{"weights/0": np.array([[{"exploit": 1}] * 6] * 4, dtype=object)}),
        r"weights/0 holds Python objects \(pickled data\)",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_or_foreign_file_is_refused_clearly(rng, tmp_path, damage):
    path = trained(mlp_xp.MLP, rng).save(tmp_path / "model.npz")
    spoil, message = DAMAGES[damage]
    spoil(path)
    with pytest.raises(ValueError, match=f"^cannot load {re.escape(repr(str(path)))}: .*{message}"):
        mlp_xp.load(path)
