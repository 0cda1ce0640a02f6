"""ONNX export: the model's own forward pass traced with ndonnx, run by onnxruntime.

Export reads host copies of the parameters, so most tests run once, with the
numpy session; one test exports a model of every backend.  onnxruntime's
output must equal ``forward`` (``predict``, ``predict_proba``) to 1e-5 in
float32 and 1e-12 in float64.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, host

import mlp_xp
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ndonnx")

ONNX_PAGE = Path(__file__).parents[1] / "docs" / "user_guide" / "onnx.md"
host_only = pytest.mark.skipif("numpy" not in BACKENDS, reason="host-side export: run with numpy")
short_training = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
HIDDEN = [name for name, phi in ACTIVATIONS.items() if not phi.output_only]
OUTPUT = list(ACTIVATIONS)


def run_onnx(path, x):
    """The outputs of the ONNX model at ``path`` on ``x``, by name."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x})))


def with_random_biases(model, rng):
    """``model`` with biases drawn at random (they start at 0, which would hide a missing βʲ)."""
    xp, dtype, device = model.xp, model.dtype, model.device
    model.biases = [xp.asarray(rng.normal(size=b.shape), dtype=dtype, device=device) for b in model.biases]
    return model


def assert_close(got, want, dtype):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


# Every hidden activation before an identity output, every output activation after tanh, and
# every hidden activation in one deep network (ndonnx takes about 0.2 s per layer to trace).
NETWORKS = [
    *[pytest.param([5, 7, 4], activation, "identity", id=activation) for activation in HIDDEN],
    *[pytest.param([5, 7, 4], "tanh", output, id=f"tanh-{output}") for output in OUTPUT],
    pytest.param([5, *[6] * len(HIDDEN), 4], HIDDEN, "softmax", id="deep"),
]


@host_only
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("layer_sizes", "activation", "output_activation"), NETWORKS)
def test_onnxruntime_equals_forward(layer_sizes, activation, output_activation, dtype, tmp_path, rng):
    model = mlp_xp.MLP(layer_sizes, activation, output_activation, dtype=dtype, seed=0)
    path = with_random_biases(model, rng).to_onnx(tmp_path / "model.onnx")
    for n in (1, 37):
        x = (2.0 * rng.normal(size=(n, 5))).astype(dtype)
        assert_close(run_onnx(path, x)["y"], host(model.forward(x)), dtype)


@host_only
def test_the_file_declares_a_symbolic_batch_and_the_stated_opset(tmp_path):
    model = mlp_xp.MLP([3, 4, 2], dtype="float64", seed=0)
    proto = onnx.load(str(model.to_onnx(tmp_path / "model.onnx")))
    onnx.checker.check_model(proto, full_check=True)
    (x,), (y,) = proto.graph.input, proto.graph.output
    assert (x.name, y.name) == ("x", "y")
    assert [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim] == ["N", 3]
    assert x.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert {o.domain: o.version for o in proto.opset_import} == {"": 21}
    assert proto.producer_name == "mlp_xp"


def test_a_model_of_every_backend_exports_its_forward(make_mlp, tmp_path, rng):
    model = make_mlp([4, 6, 3], "tanh", "softmax", dtype="float64", seed=0)
    x = rng.normal(size=(9, 4))
    assert_close(run_onnx(model.to_onnx(tmp_path / "m.onnx"), x)["y"], host(model.forward(x)), "float64")


@host_only
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_user_activation_exports(swish, dtype, tmp_path, rng):
    model = with_random_biases(mlp_xp.MLP([3, 8, 2], "swish", dtype=dtype, seed=0), rng)
    x = rng.normal(size=(11, 3)).astype(dtype)
    assert_close(run_onnx(model.to_onnx(tmp_path / "m.onnx"), x)["y"], host(model.forward(x)), dtype)


@pytest.fixture
def hypot_activation():
    """√(z² + 1) by ``xp.hypot``: standard, but ndonnx 0.23 has no ONNX form for it."""
    yield mlp_xp.register_activation("soft_abs", lambda xp, z: xp.hypot(z, 1.0), lambda xp, z, a: z / a)
    del ACTIVATIONS["soft_abs"]


@host_only
def test_what_ndonnx_cannot_express_is_named_and_nothing_is_written(hypot_activation, tmp_path):
    model = mlp_xp.MLP([3, 4, 2], "soft_abs", seed=0)
    model.forward(np.ones((2, 3)))  # NumPy has hypot
    with pytest.raises(ValueError, match=r"ndonnx .* cannot express `.*xp\.hypot\(z, 1\.0\).*` in <lambda>"):
        model.to_onnx(tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@host_only
def test_a_library_without_a_file_leaves_the_error_named(hypot_activation, monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules["spox"], "__file__", None)  # as a namespace package
    with pytest.raises(ValueError, match=r"ndonnx .* cannot express `.*xp\.hypot\(z, 1\.0\).*` in <lambda>"):
        mlp_xp.MLP([3, 4, 2], "soft_abs", seed=0).to_onnx(tmp_path / "m.onnx")


@host_only
def test_without_ndonnx_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ndonnx", None)
    with pytest.raises(ImportError, match=re.escape('pip install "mlp_xp[onnx]"')):
        mlp_xp.MLP([2, 1]).to_onnx(tmp_path / "m.onnx")


@host_only
def test_a_bad_path_is_refused(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or a path-like object, got 3"):
        mlp_xp.MLP([2, 1]).to_onnx(3)


@host_only
def test_the_guide_example_exports_its_model(tmp_path, monkeypatch):
    """The ONNX page's model and its export: onnxruntime gives what ``forward`` gives."""
    text = ONNX_PAGE.read_text(encoding="utf-8")
    example, export = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)[:2]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(example + export, namespace)
    want = host(namespace["model"].forward(namespace["x_test"]))
    assert_close(namespace["onnx_probabilities"], want, "float32")


# --- the estimators: what predict and predict_proba give -----------------------------------------


def _classification_cases(rng):
    x = rng.normal(size=(60, 4))
    score = x[:, 0] + 0.5 * x[:, 1]
    return {
        "binary-int": (x, np.where(score > 0, 7, -3)),
        "multiclass-str": (x, np.array(["cat", "dog", "emu"])[np.digitize(score, [-0.5, 0.5])]),
        "multilabel": (x, np.c_[score > 0, x[:, 2] > 0, x[:, 3] > 0.5].astype(int)),
        "one-class": (x, np.full(60, "only")),
    }


@short_training
@host_only
@pytest.mark.parametrize("case", ["binary-int", "multiclass-str", "multilabel", "one-class"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classifier_onnx_gives_predict_and_predict_proba(case, dtype, tmp_path, rng):
    x, y = _classification_cases(rng)[case]
    clf = mlp_xp.MLPClassifier((8,), max_iter=30, learning_rate_init=0.05, dtype=dtype, random_state=0)
    clf.fit(x, y)
    x_new = (2.0 * rng.normal(size=(25, 4))).astype(dtype)
    outputs = run_onnx(clf.to_onnx(tmp_path / "clf.onnx"), x_new)
    assert list(outputs) == ["label", "probabilities"]
    np.testing.assert_array_equal(outputs["label"], clf.predict(x_new))
    assert_close(outputs["probabilities"], clf.predict_proba(x_new), dtype)
    assert_close(
        run_onnx(tmp_path / "clf.onnx", x_new[:1])["probabilities"], clf.predict_proba(x_new[:1]), dtype
    )


@short_training
@host_only
@pytest.mark.parametrize(("loss", "n_outputs"), [("squared_error", 1), ("squared_error", 3), ("poisson", 2)])
def test_regressor_onnx_gives_predict(loss, n_outputs, tmp_path, rng):
    x = rng.normal(size=(50, 3))
    y = np.exp(x[:, :n_outputs]) if loss == "poisson" else x[:, :n_outputs] ** 2
    reg = mlp_xp.MLPRegressor((6,), loss=loss, max_iter=20, dtype="float64", random_state=0)
    reg.fit(x, y[:, 0] if n_outputs == 1 else y)
    x_new = rng.normal(size=(13, 3))
    assert_close(run_onnx(reg.to_onnx(tmp_path / "reg.onnx"), x_new)["y"], reg.predict(x_new), "float64")


@host_only
def test_an_unfitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        mlp_xp.MLPClassifier().to_onnx(tmp_path / "clf.onnx")


# --- the command line ------------------------------------------------------------------------------


@host_only
def test_cli_exports_a_saved_network(capsys, tmp_path, rng):
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.integers(0, 3, size=40)
    model = mlp_xp.MLP([3, 5, 3], "relu", "softmax", seed=0)
    model.fit(x, y, loss="cross_entropy", epochs=2)
    saved, target = model.save(tmp_path / "model.npz"), tmp_path / "model.onnx"
    assert main(["export", str(saved), str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}: input x of shape (N, 3), float32\n"
    assert_close(run_onnx(target, x)["y"], host(model.forward(x)), "float32")


@short_training
@host_only
def test_cli_exports_a_saved_classifier(capsys, tmp_path, rng):
    x, y = rng.normal(size=(40, 3)), np.array(["a", "b", "c"])[rng.integers(0, 3, size=40)]
    clf = mlp_xp.MLPClassifier((5,), max_iter=5, random_state=0).fit(x, y)
    saved, target = clf.save(tmp_path / "clf.npz"), tmp_path / "clf.onnx"
    assert main(["export", str(saved), str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}: input x of shape (N, 3), float64\n"
    np.testing.assert_array_equal(run_onnx(target, x)["label"], clf.predict(x))


@host_only
def test_cli_export_of_a_missing_file_is_a_one_line_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(tmp_path / "missing.npz"), str(tmp_path / "m.onnx")])
    assert exit_info.value.code == 2
    assert "missing.npz" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
