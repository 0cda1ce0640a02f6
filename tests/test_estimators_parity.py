"""The estimators behave as scikit-learn's: signature, labels, weights, divergence,
warm starts across backends, Poisson loss, sparse input."""

import inspect
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy import sparse
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

import mlp_xp
from mlp_xp._backend import get_namespace
from mlp_xp.estimators import MLPClassifier, MLPRegressor

# Short trainings reach max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


@pytest.fixture
def blobs(rng):
    """60 samples, 4 features, 3 classes around distant centres."""
    y = np.repeat(np.arange(3), 20)
    return rng.normal(size=(60, 4)) + 3.0 * np.eye(4)[y], y


def assert_same_parameters(a, b, rtol=1e-10):
    for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-12)


# ------------------------------------------------------------------ signature


@pytest.mark.parametrize(
    ("ours", "theirs", "own"),
    [(MLPClassifier, SklearnMLPClassifier, {"class_weight"}), (MLPRegressor, SklearnMLPRegressor, set())],
)
def test_parameters_are_scikit_learns_plus_the_backends(ours, theirs, own):
    """Every parameter of scikit-learn's estimator, with its default, and mlp_xp's own."""
    params, reference = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    assert set(params) == set(reference) | {"backend", "device", "dtype", "comm", "checkpoint"} | own
    assert all(params[name].default == reference[name].default for name in reference)
    positional = [p.name for p in params.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == ["hidden_layer_sizes", "activation"]


def test_the_shared_parameters_are_declared_once():
    classifier = inspect.signature(MLPClassifier).parameters
    regressor = inspect.signature(MLPRegressor).parameters
    shared = set(classifier) & set(regressor)
    assert shared == set(classifier) - {"class_weight"} == set(regressor) - {"loss"}
    assert all(classifier[name] == regressor[name] for name in shared)
    assert MLPClassifier.__init__ is not MLPRegressor.__init__  # each stores its own parameters
    assert MLPRegressor(loss="poisson", alpha=0.5).get_params()["loss"] == "poisson"


def test_partial_fit_is_absent_for_lbfgs_as_in_scikit_learn():
    for estimator in (MLPClassifier, MLPRegressor):
        assert not hasattr(estimator(solver="lbfgs"), "partial_fit")
        assert hasattr(estimator(solver="sgd"), "partial_fit")


# --------------------------------------------------------------------- labels


@pytest.mark.parametrize(("classes", "shown"), [([0, 1], "[0 1]"), ([0, 1, 5], "[0 1 5]")])
def test_first_partial_fit_refuses_labels_outside_classes(blobs, classes, shown):
    x, y = blobs  # labels 0, 1, 2
    clf = MLPClassifier((4,), random_state=0)
    with pytest.raises(ValueError, match=rf"y has classes \[2\] that are not in classes={re_escape(shown)}"):
        clf.partial_fit(x, y, classes=classes)
    assert not hasattr(clf, "model_") and not hasattr(clf, "classes_")


def re_escape(text):
    return text.replace("[", r"\[").replace("]", r"\]")


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [("ab", TypeError, "classes must be a sequence"), ([[0, 1, 2]], ValueError, "classes must be a 1-D")],
)
def test_partial_fit_names_bad_classes(blobs, classes, error, match):
    with pytest.raises(error, match=match):
        MLPClassifier((4,)).partial_fit(*blobs, classes=classes)


def test_one_class_trains_and_predicts_it_as_scikit_learn(rng):
    x, y = rng.normal(size=(10, 2)), np.full(10, 7)
    clf = MLPClassifier((4,), max_iter=5, random_state=0).fit(x, y)
    np.testing.assert_array_equal(clf.classes_, [7])
    np.testing.assert_array_equal(clf.predict(x), y)
    assert clf.predict_proba(x).shape == (10, 2)  # [1 - p, p], as scikit-learn


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_feature_names_survive_early_stopping(estimator, rng):
    """scikit-learn's case: a DataFrame, one class, early stopping, and no warning (warnings are errors)."""
    pd = pytest.importorskip("pandas")
    x = pd.DataFrame(rng.normal(size=(10, 2)), columns=["colname_a", "colname_b"])
    y = pd.Series(np.full(10, 1), name="colname_y")
    fitted = estimator(early_stopping=True, validation_fraction=0.2, max_iter=3).fit(x, y)
    assert list(fitted.feature_names_in_) == ["colname_a", "colname_b"]
    fitted.score(x, y)


def test_stratified_split_error_names_the_users_classes_and_scikit_learns():
    """The user's labels, then scikit-learn's own message, which names the binarized ones."""
    x, y = [[1, 2], [2, 3], [3, 4], [4, 5]], ["no", "no", "no", "yes"]
    match = (
        r"classes with fewer than 2 samples: \['yes'\]\): The least populated classes in y have "
        r"only 1 member.*Classes with too few members are: \['True'\]"
    )
    with pytest.raises(ValueError, match=match):
        MLPClassifier(early_stopping=True).fit(x, y)


# -------------------------------------------------------------------- weights


NOT_A_WEIGHT = r"class_weight\[0\] must be a finite number >= 0, got "


@pytest.mark.parametrize(
    ("class_weight", "error", "match"),
    [
        ({0: math.nan, 1: 1.0, 2: 1.0}, ValueError, NOT_A_WEIGHT + "nan"),
        ({0: -1.0, 1: 1.0, 2: 1.0}, ValueError, NOT_A_WEIGHT + "-1.0"),
        ({0: "1", 1: 1.0, 2: 1.0}, ValueError, NOT_A_WEIGHT + "'1'"),
        ({0: 0.0, 1: 0.0, 2: 0.0}, ValueError, r"class_weight=\{0: 0.0, 1: 0.0, 2: 0.0\} gives every sample"),
        ({7: 1.0}, ValueError, r"class_weight=\{7: 1.0\} does not fit y: The classes, \[0, 1, 2\]"),
        ("heavy", ValueError, "class_weight must be None, 'balanced' or a dict, got 'heavy'"),
        ([1.0, 2.0], TypeError, "class_weight must be None, 'balanced', a dict"),
    ],
)
def test_class_weight_problems_name_class_weight(blobs, class_weight, error, match):
    with pytest.raises(error, match=match):
        MLPClassifier((4,), max_iter=2, class_weight=class_weight).fit(*blobs)


def test_zero_sample_weight_is_named_before_class_weight(blobs):
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        MLPClassifier((4,), class_weight="balanced").fit(*blobs, sample_weight=np.zeros(60))


# ------------------------------------------------------------------ divergence


def test_non_finite_parameters_raise_scikit_learns_error(rng):
    x, y = np.finfo(np.float64).max * rng.uniform(size=(10, 2)), rng.normal(size=10)
    match = (
        "^Solver produced non-finite parameter weights. The input data may contain large values "
        "and need to be preprocessed.$"
    )
    with pytest.raises(ValueError, match=match):
        MLPRegressor().fit(x, y)


def test_a_diverging_warm_start_leaves_the_estimator_and_its_network_as_they_were():
    """Finite epochs, then divergence: the ValueError leaves the network of before the call."""
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=0.01)
    reg = MLPRegressor(**params, max_iter=1, warm_start=True, random_state=0)
    reg.fit(X_IRIS, Y_IRIS)
    before = (reg.coefs_, list(reg.loss_curve_), reg.model_.n_updates, reg.model_.rng.bit_generator.state)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        reg.set_params(max_iter=20).fit(X_IRIS, Y_IRIS)
    for p, q in zip(before[0], reg.coefs_, strict=True):
        np.testing.assert_array_equal(p, q)
    assert (reg.loss_curve_, reg.model_.n_updates, reg.model_.rng.bit_generator.state) == before[1:]


def test_divergence_under_early_stopping_stops_and_keeps_the_best_epoch():
    """As scikit-learn: a diverging validation loss ends training without an error."""
    params = dict(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=True,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg = MLPRegressor(**params).fit(X_IRIS, Y_IRIS)
    assert math.isnan(reg.validation_scores_[-1]) and math.isnan(reg.loss_curve_[-1])
    assert len(reg.validation_scores_) == len(reg.loss_curve_) == reg.n_iter_ < 20
    best = int(np.nanargmax(reg.validation_scores_))
    assert reg.best_validation_score_ == reg.validation_scores_[best]
    cut = MLPRegressor(**(params | {"max_iter": best + 1})).fit(X_IRIS, Y_IRIS)
    assert_same_parameters(reg, cut)


# ------------------------------------------------------------- warm starts


def test_warm_start_moves_the_network_to_a_new_backend_with_its_optimizer(backend, device, blobs):
    """Continuing on another backend or device equals continuing where it was."""
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=16, n_iter_no_change=math.inf)
    params["random_state"] = 0
    whole = MLPClassifier(**(params | {"max_iter": 6})).fit(x, y)
    moved = MLPClassifier(warm_start=True, **params).fit(x, y)
    moved.set_params(backend=backend, device=device).fit(x, y)
    assert moved.model_.xp is get_namespace(backend)
    assert moved.model_.device == mlp_xp.MLP([1, 1], backend=backend, device=device).device
    np.testing.assert_allclose(moved.predict_proba(x), whole.predict_proba(x), rtol=1e-9)
    assert moved.loss_curve_ == pytest.approx(whole.loss_curve_, rel=1e-9)


def test_partial_fit_moves_the_network_to_a_new_backend(backend, device, blobs):
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), batch_size=16, random_state=0)
    here = MLPRegressor(**params).partial_fit(x, y).partial_fit(x, y)
    moved = MLPRegressor(**params).partial_fit(x, y)
    moved.set_params(backend=backend, device=device).partial_fit(x, y)
    assert moved.model_.xp is get_namespace(backend)
    np.testing.assert_allclose(moved.predict(x), here.predict(x), rtol=1e-9)


@pytest.mark.parametrize("incremental", [False, True])
def test_warm_start_refuses_another_dtype_and_keeps_the_network(blobs, incremental):
    x, y = blobs
    clf = MLPClassifier((8,), max_iter=2, warm_start=True, dtype="float64", random_state=0)
    clf.fit(x, y)
    before = clf.coefs_
    clf.set_params(dtype="float32")
    match = (
        "dtype='float32', but warm_start and partial_fit continue the fitted network, whose parameters are"
    )
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(x, y) if incremental else clf.fit(x, y)
    for p, q in zip(before, clf.coefs_, strict=True):
        np.testing.assert_array_equal(p, q)


# ------------------------------------------------------------------- poisson


@pytest.mark.skipif("poisson" not in mlp_xp.COSTS, reason="mlp_xp has no 'poisson' cost yet")
def test_poisson_loss_without_hidden_layers_is_the_poisson_glm(rng):
    """An exp output on a linear layer is scikit-learn's PoissonRegressor (alpha=0)."""
    x = np.linspace(0, 1, 100).reshape(-1, 1)
    y = rng.poisson(np.exp(x[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-10).fit(x, y)
    params = dict(hidden_layer_sizes=(), alpha=0.0, solver="line_search", learning_rate_init=1.0)
    reg = MLPRegressor(loss="poisson", **params, batch_size=100, max_iter=2000, tol=1e-12, random_state=0)
    reg.fit(x, y)
    assert reg.out_activation_ == "exp" and reg.n_outputs_ == 1
    np.testing.assert_allclose(reg.predict(x), glm.predict(x), rtol=1e-3)
    squared = MLPRegressor(loss="squared_error", **params, batch_size=100, max_iter=50, random_state=0)
    assert squared.fit(x, y).out_activation_ == "identity"


@pytest.mark.skipif("poisson" not in mlp_xp.COSTS, reason="mlp_xp has no 'poisson' cost yet")
def test_poisson_loss_curve_is_not_divided_by_the_outputs(rng):
    x, y = rng.normal(size=(40, 3)), rng.poisson(2.0, size=(40, 2))
    reg = MLPRegressor(
        (4,), loss="poisson", solver="sgd", batch_size=40, alpha=0.0, max_iter=1, random_state=0
    )
    reg.fit(x, y)
    initial = mlp_xp.MLP([3, 4, 2], "relu", "exp", dtype="float64", seed=0)
    assert reg.loss_curve_[0] == pytest.approx(initial.gradients(x, y, loss="poisson")[0], rel=1e-12)


def test_regressor_loss_is_checked_and_poisson_needs_non_negative_targets(rng):
    x, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    with pytest.raises(ValueError, match="loss must be one of 'squared_error', 'poisson', got 'huber'"):
        MLPRegressor(loss="huber").fit(x, y)
    with pytest.raises(ValueError, match=r"loss='poisson' needs targets y >= 0"):
        MLPRegressor(loss="poisson").fit(x, y)


# -------------------------------------------------------------------- sparse


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array, sparse.csc_matrix])
def test_predict_densifies_sparse_rows_a_block_at_a_time(blobs, monkeypatch, container):
    x, y = blobs
    clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(x, y)
    dense = clf.predict_proba(x)
    monkeypatch.setattr(mlp_xp._data, "BLOCK_ELEMENTS", 7 * x.shape[1])  # 7 rows at a time
    blocks = []
    output = clf.model_._output
    monkeypatch.setattr(clf.model_, "_output", lambda rows: blocks.append(rows.shape) or output(rows))
    np.testing.assert_array_equal(clf.predict_proba(container(x)), dense)
    assert blocks == [(7, 4)] * 8 + [(4, 4)]
    np.testing.assert_array_equal(clf.predict(container(x)), clf.predict(x))


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array, sparse.csc_matrix])
@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_on_sparse_x_equals_the_dense_fit(blobs, container, estimator, early_stopping):
    """Each batch's rows are densified as the batch is read: the same parameters, bit for
    bit, as training on the dense array, with the solver "adam" and sample weights."""
    x, labels = blobs
    x = np.where(np.abs(x) > 1.0, x, 0.0)  # about a third of the entries stored
    y = labels if estimator is MLPClassifier else x @ np.arange(1.0, 5.0)
    weights = np.linspace(0.5, 2.0, x.shape[0])
    options = dict(solver="adam", batch_size=16, max_iter=8, random_state=0, early_stopping=early_stopping)
    dense = estimator((6,), **options).fit(x, y, sample_weight=weights)
    fitted = estimator((6,), **options).fit(container(x), y, sample_weight=weights)
    for got, want in zip([*fitted.coefs_, *fitted.intercepts_], [*dense.coefs_, *dense.intercepts_]):
        np.testing.assert_array_equal(got, want)
    assert fitted.loss_curve_ == dense.loss_curve_
    np.testing.assert_array_equal(fitted.predict(container(x)), dense.predict(x))
