"""The scikit-learn estimators: scikit-learn's own estimator checks, accuracy against
its MLPClassifier, targets of every kind, weights, stopping, continuation, array types."""

import json
import math
import re
import sys
import warnings

import numpy as np
import pytest
from conftest import host

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlp_xp
from mlp_xp.estimators import MLPClassifier, MLPRegressor

# Short trainings reach max_iter on purpose; the warning itself is tested below.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's conventions, with its own MLP's budget (max_iter=100)."""
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture
def blobs(rng):
    """60 samples, 4 features, 3 classes around distant centres."""
    y = np.repeat(np.arange(3), 20)
    return rng.normal(size=(60, 4)) + 3.0 * np.eye(4)[y], y


def full_batch_sgd(**params):
    """Deterministic training: full-batch gradient descent (data under 200 samples)."""
    return (
        dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.1, max_iter=20, random_state=0)
        | params
    )


def assert_same_parameters(a, b):
    for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ accuracy


def test_digits_accuracy_matches_scikit_learn(digits):
    x_train, x_test, y_train, y_test = digits
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=1e-2, batch_size=64, max_iter=30)
    for seed in (0, 1):
        ours = MLPClassifier(random_state=seed, **params).fit(x_train, y_train)
        theirs = SklearnMLPClassifier(random_state=seed, **params).fit(x_train, y_train)
        assert ours.score(x_test, y_test) >= 0.95
        assert abs(ours.score(x_test, y_test) - theirs.score(x_test, y_test)) <= 0.03
        assert ours.loss_curve_[-1] < ours.loss_curve_[0] / 10


def test_initial_loss_is_scikit_learns_log_loss(blobs):
    """loss_curve_ of one full-batch epoch is the cross-entropy of the initial network."""
    x, y = blobs
    clf = MLPClassifier(**full_batch_sgd(alpha=0.0, max_iter=1)).fit(x, y)
    initial = mlp_xp.MLP([4, 8, 3], "relu", "softmax", dtype="float64", seed=0)
    assert clf.loss_curve_[0] == pytest.approx(log_loss(y, host(initial.forward(x))), rel=1e-12)


def test_regressor_loss_is_scikit_learns_squared_error(rng):
    """½ · mean over samples and outputs, for several outputs."""
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    reg = MLPRegressor(**full_batch_sgd(alpha=0.0, max_iter=1)).fit(x, y)
    initial = mlp_xp.MLP([3, 8, 2], "relu", "identity", dtype="float64", seed=0)
    expected = 0.5 * np.mean((host(initial.forward(x)) - y) ** 2)
    assert reg.loss_curve_[0] == pytest.approx(expected, rel=1e-12)


# -------------------------------------------------------------- target kinds


def test_binary_labels_give_one_sigmoid_output(rng):
    x = rng.normal(size=(80, 2))
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=100, random_state=0).fit(x, y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1 and clf.n_layers_ == 3
    assert list(clf.classes_) == ["no", "yes"]
    probabilities = clf.predict_proba(x)
    assert probabilities.shape == (80, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[probabilities.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(probabilities))
    assert clf.score(x, y) > 0.95


def test_multiclass_gives_softmax_outputs(blobs):
    x, y = blobs
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=50, random_state=0).fit(x, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (3,)]
    assert clf.score(x, y) > 0.95


def test_multilabel_indicator_gives_one_sigmoid_per_label(rng):
    x = rng.normal(size=(120, 3))
    y = (x > 0).astype(int)  # label k: feature k is positive
    clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(x, y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    predicted, probabilities = clf.predict(x), clf.predict_proba(x)
    assert predicted.shape == probabilities.shape == (120, 3)
    np.testing.assert_array_equal(predicted, probabilities > 0.5)
    assert clf.score(x, y) > 0.9  # exact-match accuracy


def test_multi_output_regression(rng):
    x = rng.normal(size=(150, 3))
    y = np.c_[x[:, 0] - x[:, 1], 2.0 * x[:, 2]]
    reg = MLPRegressor((16,), learning_rate_init=0.01, max_iter=300, random_state=0).fit(x, y)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 2
    assert reg.predict(x).shape == (150, 2) and reg.predict(x).dtype == np.float64
    assert reg.score(x, y) > 0.95
    single = clone(reg).fit(x, y[:, 0])
    assert single.predict(x).shape == (150,)


# ------------------------------------------------------------------- weights


def test_zero_sample_weight_equals_dropping_the_samples(blobs):
    x, y = blobs
    weight = np.ones(60)
    weight[::4] = 0.0
    weighted = MLPClassifier(**full_batch_sgd()).fit(x, y, sample_weight=weight)
    dropped = MLPClassifier(**full_batch_sgd()).fit(x[weight > 0], y[weight > 0])
    assert_same_parameters(weighted, dropped)
    assert weighted.loss_curve_ == pytest.approx(dropped.loss_curve_, rel=1e-10)


def test_integer_sample_weight_equals_repeating_the_samples(rng):
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    weight = rng.integers(0, 4, size=30)
    weighted = MLPRegressor(**full_batch_sgd(learning_rate_init=0.01)).fit(x, y, sample_weight=weight)
    repeated = MLPRegressor(**full_batch_sgd(learning_rate_init=0.01)).fit(
        np.repeat(x, weight, axis=0), np.repeat(y, weight)
    )
    assert_same_parameters(weighted, repeated)


@pytest.mark.parametrize("class_weight", [{0: 3.0, 1: 0.5}, "balanced"])
def test_class_weight_multiplies_the_sample_weights(blobs, class_weight):
    x, y = blobs[0][:50], blobs[1][:50]  # 20, 20 and 10 samples: unbalanced
    sample_weight = np.linspace(0.5, 1.5, 50)
    by_class = MLPClassifier(**full_batch_sgd(class_weight=class_weight)).fit(
        x, y, sample_weight=sample_weight
    )
    expected = sample_weight * compute_sample_weight(class_weight, y)
    if class_weight == "balanced":
        np.testing.assert_allclose(
            compute_sample_weight("balanced", y)[[0, 20, 40]], [50 / 60, 50 / 60, 50 / 30]
        )
    by_sample = MLPClassifier(**full_batch_sgd()).fit(x, y, sample_weight=expected)
    assert_same_parameters(by_class, by_sample)


# ------------------------------------------------------------------ stopping


def test_training_stops_like_scikit_learn_when_the_loss_stalls(blobs):
    """With a tol no epoch can meet, both stop after n_iter_no_change + 2 epochs."""
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), tol=1e9, n_iter_no_change=3, max_iter=50, random_state=0)
    ours = MLPClassifier(**params).fit(x, y)
    theirs = SklearnMLPClassifier(**params).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert ours.best_loss_ == min(ours.loss_curve_) and ours.validation_scores_ is None


def test_max_iter_without_convergence_warns(blobs):
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(*blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = MLPClassifier((4,), max_iter=50, tol=1e9, n_iter_no_change=1, random_state=0).fit(*blobs)
    assert stopped.n_iter_ == 3


def test_early_stopping_restores_the_best_epoch(digits):
    x, y = digits[0][:600], digits[2][:600]
    params = dict(
        hidden_layer_sizes=(16,),
        learning_rate_init=0.02,
        early_stopping=True,
        n_iter_no_change=3,
        tol=0.0,
        max_iter=200,
        random_state=0,
    )
    stopped = MLPClassifier(**params).fit(x, y)
    best = stopped.model_.history.best_epoch
    assert stopped.best_loss_ is None
    assert len(stopped.validation_scores_) == len(stopped.loss_curve_) == stopped.n_iter_
    assert best == int(np.argmax(stopped.validation_scores_))
    assert stopped.best_validation_score_ == stopped.validation_scores_[best]
    assert stopped.n_iter_ == best + 1 + 4  # n_iter_no_change + 1 epochs without improvement
    # The same training cut at the best epoch ends with the parameters kept.
    cut = MLPClassifier(**(params | {"max_iter": best + 1})).fit(x, y)
    assert_same_parameters(stopped, cut)


def test_adaptive_learning_rate_stops_once_it_is_tiny(blobs):
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), solver="sgd", tol=1e9, max_iter=100, random_state=0)
    adaptive = MLPClassifier(learning_rate="adaptive", **params).fit(x, y)
    assert adaptive._adaptive.lr <= 1e-6 and adaptive.n_iter_ < 100
    assert MLPClassifier(**(params | {"n_iter_no_change": math.inf})).fit(x, y).n_iter_ == 100


def descend_by_hand(x, y, steps):
    """A linear network (seed 0) after full-batch gradient steps [(rows, rate), ...] on mse."""
    model = mlp_xp.MLP([x.shape[1], 1], "relu", "identity", dtype="float64", seed=0)
    for rows, rate in steps:
        _, dW, db = model.gradients(x[rows], y[rows], loss="mse")
        model.weights[0], model.biases[0] = model.weights[0] - rate * dW[0], model.biases[0] - rate * db[0]
    return host(model.weights[0])


LINEAR_GD = full_batch_sgd(hidden_layer_sizes=(), momentum=0.0, alpha=0.0, n_iter_no_change=math.inf)


def test_invscaling_lowers_the_rate_by_samples_seen(rng):
    """Epoch e steps with η / (e·n + 1)^power_t, as scikit-learn."""
    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    reg = MLPRegressor(**(LINEAR_GD | {"max_iter": 2, "learning_rate": "invscaling", "power_t": 0.5}))
    reg.fit(x, y)
    everything = slice(None)
    expected = descend_by_hand(x, y, [(everything, 0.1), (everything, 0.1 / math.sqrt(40 + 1))])
    np.testing.assert_allclose(reg.coefs_[0], expected, rtol=1e-12)
    assert reg.t_ == 80


def test_without_shuffle_the_batches_follow_the_rows(rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    reg = MLPRegressor(**(LINEAR_GD | {"max_iter": 1, "batch_size": 10, "shuffle": False})).fit(x, y)
    expected = descend_by_hand(x, y, [(slice(0, 10), 0.1), (slice(10, 20), 0.1)])
    np.testing.assert_allclose(reg.coefs_[0], expected, rtol=1e-12)


# -------------------------------------------------------------- continuation


def test_partial_fit_equals_fit_epoch_by_epoch(blobs):
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), batch_size=16, n_iter_no_change=math.inf, random_state=0)
    whole = MLPClassifier(max_iter=4, **params).fit(x, y)
    steps = MLPClassifier(**params)
    for _ in range(4):
        steps.partial_fit(x, y, classes=[0, 1, 2])
    assert_same_parameters(whole, steps)
    assert steps.loss_curve_ == pytest.approx(whole.loss_curve_, rel=1e-12)
    assert steps.n_iter_ == 1 and steps.t_ == whole.t_ == 240


def test_partial_fit_needs_the_classes_first_and_then_knows_them(blobs):
    x, y = blobs
    clf = MLPClassifier((4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(x, y)
    clf.partial_fit(x[y < 2], y[y < 2], classes=[0, 1, 2])  # a batch need not hold every class
    assert clf.predict_proba(x).shape == (60, 3)
    with pytest.raises(ValueError, match=r"y has classes \[3\] that are not in classes_ \[0 1 2\]"):
        clf.partial_fit(x, y + 1)
    with pytest.raises(ValueError, match="early_stopping"):
        clf.set_params(early_stopping=True).partial_fit(x, y)


def test_warm_start_continues_training(blobs):
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), batch_size=16, n_iter_no_change=math.inf, random_state=0)
    whole = MLPClassifier(max_iter=6, **params).fit(x, y)
    warm = MLPClassifier(max_iter=3, warm_start=True, **params).fit(x, y).fit(x, y)
    assert_same_parameters(whole, warm)
    assert warm.loss_curve_ == pytest.approx(whole.loss_curve_, rel=1e-12)
    cold = MLPClassifier(max_iter=3, **params).fit(x, y).fit(x, y)
    assert len(cold.loss_curve_) == 3


def test_warm_start_refuses_other_classes_or_layers_and_keeps_the_model(blobs):
    x, y = blobs
    clf = MLPClassifier((8,), max_iter=3, warm_start=True, random_state=0).fit(x, y)
    before = clf.coefs_
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(x[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="warm_start=False"):
        clf.set_params(hidden_layer_sizes=(5,)).fit(x, y)
    for p, q in zip(before, clf.coefs_):
        np.testing.assert_array_equal(p, q)


def test_get_and_set_params(blobs):
    x, y = blobs
    clf = MLPClassifier((8,), solver="sgd", class_weight="balanced", max_iter=5)
    assert clf.get_params()["solver"] == "sgd" and clf.get_params()["class_weight"] == "balanced"
    assert clone(clf).get_params() == clf.get_params()
    clf.set_params(hidden_layer_sizes=(3, 5), activation="logistic").fit(x, y)
    assert [c.shape for c in clf.coefs_] == [(4, 3), (3, 5), (5, 3)]
    assert [phi.name for phi in clf.model_.phis] == ["sigmoid", "sigmoid", "softmax"]


# ---------------------------------------------------------- arrays, backends


def test_answers_come_in_the_callers_array_type(blobs):
    torch = pytest.importorskip("torch")
    x, y = blobs
    clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(torch.asarray(x), torch.asarray(y))
    x_torch = torch.asarray(x)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        from_torch, from_numpy = getattr(clf, method)(x_torch), getattr(clf, method)(x)
        assert isinstance(from_torch, torch.Tensor) and isinstance(from_numpy, np.ndarray)
        np.testing.assert_array_equal(from_torch.numpy(), from_numpy)
    assert isinstance(clf.predict(x.tolist()), np.ndarray)
    labelled = MLPClassifier((8,), max_iter=5, random_state=0).fit(x, np.array(["a", "b", "c"])[y])
    assert isinstance(labelled.predict(x_torch), np.ndarray)  # strings have no tensor type


def test_every_backend_trains_the_same_network(backend, device, blobs):
    x, y = blobs
    params = dict(hidden_layer_sizes=(8,), max_iter=5, batch_size=16, random_state=0)
    reference = MLPClassifier(**params).fit(x, y)
    clf = MLPClassifier(backend=backend, device=device, **params).fit(x, y)
    assert clf.model_.xp is mlp_xp.MLP([1, 1], backend=backend).xp
    np.testing.assert_allclose(clf.predict_proba(x), reference.predict_proba(x), rtol=1e-9)
    reg = MLPRegressor(backend=backend, device=device, dtype="float32", **params).fit(x, y)
    assert reg.predict(x).dtype == np.float32


def test_data_in_the_backends_namespace_stays_there(blobs, monkeypatch):
    """A tensor for backend="torch" is not copied through NumPy by the estimator."""
    torch = pytest.importorskip("torch")
    from mlp_xp.estimators import _arrays, _base, _classifier

    x, y = blobs
    copies = []
    for module in (_arrays, _base, _classifier):  # every estimator module that copies to the host
        monkeypatch.setattr(module, "to_numpy", lambda a, _f=module.to_numpy: copies.append(a) or _f(a))
    clf = MLPRegressor((8,), max_iter=3, backend="torch", random_state=0).fit(torch.asarray(x), y)
    prediction = clf.predict(torch.asarray(x))
    assert all(not isinstance(a, torch.Tensor) or a.ndim < 2 for a in copies)
    assert isinstance(prediction, torch.Tensor) and prediction.dtype == torch.float64
    with pytest.raises(ValueError, match="X has 3 features, but MLPRegressor is expecting 4"):
        clf.predict(torch.asarray(x[:, :3]))


# --------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"solver": "newton"}, ValueError, "solver must be one of"),
        ({"activation": "softmax"}, ValueError, "activation must be one of"),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes\[1\] must be >= 1"),
        ({"hidden_layer_sizes": "8"}, TypeError, "hidden_layer_sizes must be"),
        ({"learning_rate": "fast"}, ValueError, "learning_rate must be one of"),
        ({"learning_rate_init": 0.0}, ValueError, r"learning_rate_init must be in \(0"),
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\)"),
        ({"beta_2": "0.9"}, TypeError, "beta_2 must be a real number"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an int"),
        ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change must be >= 1"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be in"),
        ({"dtype": "float16"}, ValueError, "dtype must be None, 'float32' or 'float64'"),
        ({"backend": "mxnet"}, ValueError, "backend must be one of"),
        ({"early_stopping": True, "validation_fraction": 0.02}, ValueError, "validation_fraction=0.02 of 60"),
    ],
)
def test_bad_parameters_raise_naming_them_and_keep_the_model(blobs, params, error, match):
    x, y = blobs
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(x, y)
    before = clf.coefs_
    with pytest.raises(error, match=match):
        clf.set_params(**params).fit(x, y)
    for p, q in zip(before, clf.coefs_):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda clf, x, y: clf.fit(x, y, sample_weight=-np.ones(60)), "non-negative"),
        (lambda clf, x, y: clf.fit(x, y, sample_weight=np.ones(59)), r"shape \(60,\)"),
        (lambda clf, x, y: clf.fit(x, y, sample_weight=np.zeros(60)), "sums to zero"),
        (lambda clf, x, y: clf.fit(x, y + 0.5), "Unknown label type"),
        (lambda clf, x, y: clf.fit(x, None), "requires y"),
        (
            lambda clf, x, y: MLPRegressor(early_stopping=True, validation_fraction=0.01).fit(x, y),
            "too small",
        ),
        (
            lambda clf, x, y: clf.set_params(class_weight="balanced").partial_fit(x, y, classes=[0, 1, 2]),
            "balanced",
        ),
    ],
)
def test_bad_data_raise_clear_errors(blobs, call, match):
    with pytest.raises(ValueError, match=match):
        call(MLPClassifier((4,), max_iter=2, random_state=0), *blobs)


def test_unfitted_estimators_refuse_to_predict(blobs):
    for estimator in (MLPClassifier(), MLPRegressor()):
        with pytest.raises(NotFittedError):
            estimator.predict(blobs[0])
        with pytest.raises(AttributeError):
            estimator.coefs_  # noqa: B018


def test_batch_size_beyond_the_data_warns_and_uses_them_all(blobs):
    with pytest.warns(UserWarning, match="batch_size=500 is larger than the 60 training samples"):
        clf = MLPClassifier((4,), batch_size=500, max_iter=2, random_state=0).fit(*blobs)
    assert clf.t_ == 120


def test_verbose_prints_scikit_learns_lines(blobs, capsys):
    """scikit-learn's "Iteration N, loss = …" per epoch (the loss of loss_curve_),
    "Validation score: …" with early stopping, and why training stopped."""
    clf = MLPClassifier((4,), max_iter=3, verbose=True, random_state=0).fit(*blobs)
    expected = [f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(clf.loss_curve_)]
    assert capsys.readouterr().out.splitlines() == expected
    params = dict(early_stopping=True, n_iter_no_change=2, tol=1e9, verbose=True, random_state=0)
    stopped = MLPRegressor((4,), **params).fit(blobs[0], blobs[0][:, :2])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Iteration 1, loss = {stopped.loss_curve_[0]:.8f}"
    assert lines[1] == f"Validation score: {stopped.validation_scores_[0]:f}"
    assert len(lines) == 2 * stopped.n_iter_ + 1
    assert lines[-1] == (
        f"Validation score did not improve more than tol={1e9:f} for 2 consecutive epochs. Stopping."
    )


def test_random_state_accepts_a_numpy_random_state(blobs):
    a = MLPClassifier((4,), max_iter=2, random_state=np.random.RandomState(3)).fit(*blobs)
    b = MLPClassifier((4,), max_iter=2, random_state=np.random.RandomState(3)).fit(*blobs)
    assert_same_parameters(a, b)


def test_mlp_xp_exports_the_estimators():
    assert mlp_xp.MLPClassifier is MLPClassifier and mlp_xp.MLPRegressor is MLPRegressor


def test_missing_scikit_learn_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.base", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "mlp_xp.estimators")
    monkeypatch.delattr(mlp_xp, "estimators")
    with pytest.raises(ImportError, match=r'need scikit-learn: pip install "mlp_xp\[sklearn\]"'):
        mlp_xp.MLPRegressor  # noqa: B018


# ----------------------------------------------------------------- save and load


def fitted_attributes(estimator):
    names = ["n_features_in_", "n_layers_", "n_outputs_", "out_activation_", "loss_", "loss_curve_"]
    names += ["n_iter_", "t_", "best_loss_", "validation_scores_", "best_validation_score_"]
    return {name: getattr(estimator, name) for name in names}


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog", "emu"]), np.array([-1, 7]), np.array([2.0, 5.0, 9.0]), np.array([False, True])],
)
def test_classifier_round_trip_keeps_labels_and_predictions(blobs, tmp_path, labels):
    x, y = blobs
    y = labels[y % labels.shape[0]]
    params = full_batch_sgd(learning_rate="adaptive", n_iter_no_change=math.inf, max_iter=5)
    saved = MLPClassifier(**params).fit(x, y)
    loaded = mlp_xp.load(saved.save(tmp_path / "classifier"))
    assert type(loaded) is MLPClassifier
    assert loaded.get_params() == saved.get_params()  # tuple, math.inf and all
    assert loaded.classes_.dtype == saved.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, saved.classes_)
    assert fitted_attributes(loaded) == fitted_attributes(saved)
    np.testing.assert_array_equal(loaded.predict(x), saved.predict(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), saved.predict_proba(x))
    for estimator in (saved, loaded):  # continues exactly, "adaptive" schedule state included
        estimator.partial_fit(x[:30], y[:30]).partial_fit(x[30:], y[30:])
    assert fitted_attributes(loaded) == fitted_attributes(saved)
    assert vars(loaded._adaptive) == vars(saved._adaptive)
    np.testing.assert_array_equal(loaded.predict_proba(x), saved.predict_proba(x))


def test_regressor_round_trip_continues_exactly(rng, tmp_path):
    x = rng.normal(size=(50, 3))
    y = np.stack([x @ [1.0, -2.0, 0.5], np.sin(x[:, 0])], axis=1)
    saved = MLPRegressor((6, 4), max_iter=4, random_state=1, early_stopping=True).fit(x, y)
    loaded = mlp_xp.load(saved.save(tmp_path / "regressor.npz"))
    assert type(loaded) is MLPRegressor and loaded.get_params() == saved.get_params()
    assert fitted_attributes(loaded) == fitted_attributes(saved)
    assert loaded.validation_scores_ is not None
    np.testing.assert_array_equal(loaded.predict(x), saved.predict(x))
    loaded.set_params(early_stopping=False)
    saved.set_params(early_stopping=False)
    for estimator in (saved, loaded):
        estimator.partial_fit(x, y)
    np.testing.assert_array_equal(loaded.predict(x), saved.predict(x))
    assert fitted_attributes(loaded) == fitted_attributes(saved)


def test_multilabel_round_trip(rng, tmp_path):
    x = rng.normal(size=(40, 3))
    y = (x[:, :2] > 0).astype(int)
    saved = MLPClassifier((5,), max_iter=3, random_state=0).fit(x, y)
    loaded = mlp_xp.load(saved.save(tmp_path / "multilabel"))
    np.testing.assert_array_equal(loaded.classes_, saved.classes_)
    np.testing.assert_array_equal(loaded.predict(x), saved.predict(x))


def test_estimator_file_loads_on_every_backend(backend, device, blobs, tmp_path):
    x, y = blobs
    saved = MLPClassifier(**full_batch_sgd()).fit(x, y)
    loaded = mlp_xp.load(saved.save(tmp_path / "classifier"), backend=backend, device=device)
    assert loaded.backend == backend and loaded.device == device
    assert loaded.model_.xp is mlp_xp.MLP([1, 1], backend=backend, device=device).xp
    probabilities = loaded.predict_proba(x)
    assert isinstance(probabilities, np.ndarray)  # NumPy in, NumPy out
    np.testing.assert_allclose(probabilities, saved.predict_proba(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(loaded.predict(x), saved.predict(x))


def test_a_model_file_still_loads_as_an_mlp(blobs, tmp_path):
    saved = MLPClassifier(**full_batch_sgd(max_iter=2)).fit(*blobs)
    loaded = mlp_xp.load(saved.model_.save(tmp_path / "network"))
    assert isinstance(loaded, mlp_xp.MLP)


def rewrite_estimator_entry(path, change):
    """The file at ``path`` with its metadata's estimator entry passed through ``change``."""
    with np.load(path) as archive:
        arrays = dict(archive)
    metadata = json.loads(arrays["metadata"].tobytes())
    change(metadata["estimator"])
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda e: e.update({"class": "MLPRanker"}), "unknown estimator class 'MLPRanker'"),
        (lambda e: e["fitted"].update({"classes_": [0, 1, 2, 3]}), "classes_ .* do not fit"),
        (lambda e: e["fitted"].update({"n_features_in_": 5}), "n_features_in_ 5 is not the network's 4"),
        (lambda e: e["fitted"].pop("loss_curve_"), "fitted attributes missing: loss_curve_"),
        (lambda e: e["params"].update({"solver": "newton"}), "solver must be one of"),
        (lambda e: e["params"].update({"colour": 1}), r"has no parameters \['colour'\]"),
        (lambda e: e["params"].update({"tol": {"pickle": "x"}}), "is not a value that save writes"),
    ],
)
def test_a_damaged_estimator_entry_raises_naming_the_file(blobs, tmp_path, change, match):
    path = MLPClassifier(**full_batch_sgd(max_iter=2)).fit(*blobs).save(tmp_path / "classifier")
    rewrite_estimator_entry(path, change)
    with pytest.raises(ValueError, match=f"cannot load '{re.escape(str(path))}': .*{match}"):
        mlp_xp.load(path)


def test_save_refuses_what_json_cannot_hold_and_writes_nothing(blobs, tmp_path):
    estimator = MLPClassifier(**full_batch_sgd(max_iter=2, random_state=np.random.RandomState(0)))
    estimator.fit(*blobs)
    with pytest.raises(TypeError, match="random_state is a RandomState, which an estimator file cannot"):
        estimator.save(tmp_path / "classifier")
    assert not list(tmp_path.iterdir())
    with pytest.raises(NotFittedError):
        MLPRegressor().save(tmp_path / "regressor")
