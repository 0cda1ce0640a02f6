"""The estimators' solver="lbfgs" as scikit-learn's: max_iter, max_fun and tol, its warnings,
its fitted attributes, verbose, warm starts, early_stopping ignored, divergence, saving, and
its results from the same start; on every backend."""

import math
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlp_xp
from mlp_xp import LBFGS
from mlp_xp.estimators import MLPClassifier, MLPRegressor
from mlp_xp.estimators._fitted import STOCHASTIC

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_SCALED = X_IRIS / X_IRIS.max(axis=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [MLPClassifier(solver="lbfgs", max_iter=100), MLPRegressor(solver="lbfgs", max_iter=100)]
)
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's conventions, with L-BFGS and its own MLP's budget (max_iter=100)."""
    check(estimator)


def quietly(estimator, x, y, **params):
    """``estimator.set_params(**params).fit(x, y)`` with its ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.set_params(**params).fit(x, y)


def warning_of(estimator, x, y):
    """The one ConvergenceWarning message that fitting ``estimator`` gives."""
    with pytest.warns(ConvergenceWarning) as caught:
        estimator.fit(x, y)
    assert len(caught) == 1
    return str(caught[0].message)


@pytest.mark.parametrize(
    ("ours", "theirs", "x", "y"),
    [
        (MLPClassifier, SklearnMLPClassifier, X_SCALED, Y_IRIS),
        (MLPRegressor, SklearnMLPRegressor, *make_regression(60, 3, noise=1.0, random_state=0)),
    ],
)
def test_from_the_same_start_it_ends_where_scikit_learn_ends(ours, theirs, x, y):
    """Softmax or linear regression (convex): both warm-started from mlp_xp's network after one
    iteration, each fit a fresh L-BFGS run to tol = 1e-9: the same final loss_."""
    params = dict(hidden_layer_sizes=(), solver="lbfgs", tol=1e-9, warm_start=True, random_state=0)
    ours, theirs = quietly(ours(**params), x, y, max_iter=1), quietly(theirs(**params), x, y, max_iter=1)
    theirs.coefs_, theirs.intercepts_ = ours.coefs_, ours.intercepts_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours.set_params(max_iter=1000).fit(x, y), theirs.set_params(max_iter=1000).fit(x, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-5)
    assert 0 < ours.n_iter_ < 1000


def test_fitted_attributes_are_those_scikit_learn_gives_lbfgs():
    """n_iter_ (this fit's iterations), loss_ (at the final parameters, penalty included),
    t_ = 0, and, as in scikit-learn, no loss_curve_, best_loss_ or validation scores."""
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=500, random_state=0)
    ours = MLPClassifier(**params).fit(X_SCALED, Y_IRIS)
    theirs = SklearnMLPClassifier(**params).fit(X_SCALED, Y_IRIS)
    state = ours.model_.optimizer_state
    assert ours.n_iter_ == state["n_iterations"] > 0 and ours.loss_ == state["value"]
    assert ours.model_.optimizer == LBFGS(gtol=1e-4) and ours.t_ == theirs.t_ == 0
    assert not any(hasattr(ours, name) or hasattr(theirs, name) for name in STOCHASTIC)
    probabilities = ours.model_.forward(X_SCALED)
    cost = -np.mean(np.log(mlp_xp.to_numpy(probabilities)[np.arange(150), Y_IRIS]))
    penalty = 1e-4 / (2 * 150) * sum(np.sum(w * w) for w in ours.coefs_)
    assert ours.loss_ == pytest.approx(cost + penalty, rel=1e-12)


def test_max_iter_ends_with_scikit_learns_warning():
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3, random_state=0)
    text = warning_of(MLPClassifier(**params), X_SCALED, Y_IRIS)
    assert text == warning_of(SklearnMLPClassifier(**params), X_SCALED, Y_IRIS)
    assert "(max_iter=3)" in text and "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT" in text


def test_max_fun_stops_after_the_iteration_that_passes_it():
    """SciPy's test, after each iteration: the evaluations passed max_fun = 6 in the last
    iteration, not before it; the warning is scikit-learn's (its iteration count aside)."""
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, max_fun=6, random_state=0)
    clf = MLPClassifier(**params)
    text = warning_of(clf, X_SCALED, Y_IRIS)
    theirs = warning_of(SklearnMLPClassifier(**params), X_SCALED, Y_IRIS)
    assert re.sub(r"after \d+", "", text) == re.sub(r"after \d+", "", theirs)
    assert "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT" in text and "max_iter" not in text
    assert clf.model_.optimizer_state["n_evaluations"] > 6
    shorter = quietly(MLPClassifier(**params), X_SCALED, Y_IRIS, max_iter=clf.n_iter_ - 1)
    assert shorter.model_.optimizer_state["n_evaluations"] <= 6


def test_tol_is_the_tolerance_on_the_largest_gradient_entry():
    """tol is L-BFGS-B's gtol, as scikit-learn passes it: training stops (converged, no
    warning) at the first iteration whose ‖∇𝓔‖∞ ≤ tol, and not one before."""

    def largest_gradient(clf):
        _, dW, db = clf.model_.gradients(X_SCALED, Y_IRIS, loss="cross_entropy")
        return max(float(np.abs(mlp_xp.to_numpy(g)).max()) for g in (*dW, *db))

    params = dict(hidden_layer_sizes=(), solver="lbfgs", tol=0.02, alpha=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(**params).fit(X_SCALED, Y_IRIS)
    before = quietly(MLPClassifier(**params), X_SCALED, Y_IRIS, max_iter=clf.n_iter_ - 1)
    assert largest_gradient(clf) <= 0.02 < largest_gradient(before)


def test_verbose_prints_each_iteration_s_loss(capsys):
    clf = MLPClassifier((8,), solver="lbfgs", max_iter=5, verbose=True, random_state=0)
    quietly(clf, X_SCALED, Y_IRIS)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"Iteration {k}" for k in range(1, 6)]
    assert lines[-1] == f"Iteration 5, loss = {clf.loss_:.8f}"


def test_warm_start_continues_the_network_with_a_fresh_memory():
    """The second fit starts where the first ended (its first loss is the first fit's loss_),
    with a fresh L-BFGS run: its own iteration count, as scikit-learn's n_iter_."""
    clf = MLPClassifier((8,), solver="lbfgs", max_iter=4, warm_start=True, random_state=0)
    quietly(clf, X_SCALED, Y_IRIS)
    first_loss, first_iterations = clf.loss_, clf.n_iter_
    quietly(clf, X_SCALED, Y_IRIS, max_iter=6)
    assert clf.model_.history.loss[0] == first_loss and first_iterations == 4
    assert clf.n_iter_ == clf.model_.optimizer_state["n_iterations"] == 6


def test_early_stopping_is_ignored_as_scikit_learn_does():
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0)
    plain = quietly(MLPClassifier(**params), X_SCALED, Y_IRIS)
    early = quietly(MLPClassifier(**params, early_stopping=True, n_iter_no_change=1), X_SCALED, Y_IRIS)
    for p, q in zip([*plain.coefs_, *plain.intercepts_], [*early.coefs_, *early.intercepts_], strict=True):
        np.testing.assert_array_equal(p, q)
    theirs = quietly(SklearnMLPClassifier(**params, early_stopping=True), X_SCALED, Y_IRIS)
    assert not hasattr(early, "validation_scores_") and not hasattr(theirs, "validation_scores_")


def test_a_non_finite_loss_raises_scikit_learns_error_even_with_early_stopping(rng):
    x, y = np.finfo(np.float64).max * rng.uniform(size=(10, 2)), rng.normal(size=10)
    reg = MLPRegressor(solver="lbfgs", early_stopping=True)
    with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights"):
        reg.fit(x, y)
    assert not hasattr(reg, "model_")


def test_round_trip_through_a_file(tmp_path):
    """A file of an lbfgs estimator holds no loss_curve_; it loads, predicts the same and
    warm-starts."""
    clf = quietly(
        MLPClassifier((8,), solver="lbfgs", max_iter=5, warm_start=True, random_state=0), X_SCALED, Y_IRIS
    )
    loaded = mlp_xp.load(clf.save(tmp_path / "lbfgs"))
    np.testing.assert_array_equal(loaded.predict_proba(X_SCALED), clf.predict_proba(X_SCALED))
    assert (loaded.n_iter_, loaded.loss_, loaded.t_) == (clf.n_iter_, clf.loss_, 0)
    assert not any(hasattr(loaded, name) for name in STOCHASTIC)
    assert quietly(loaded, X_SCALED, Y_IRIS, max_iter=2).n_iter_ == 2


def test_a_stochastic_fit_after_lbfgs_starts_its_own_loss_curve():
    clf = quietly(
        MLPClassifier((8,), solver="lbfgs", max_iter=3, warm_start=True, random_state=0), X_SCALED, Y_IRIS
    )
    quietly(clf, X_SCALED, Y_IRIS, solver="adam", max_iter=2)
    assert len(clf.loss_curve_) == 2 and clf.best_loss_ == min(clf.loss_curve_)


def test_every_backend_trains_numpy_s_network(backend, device):
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15, random_state=0)
    reference = quietly(MLPClassifier(**params), X_SCALED, Y_IRIS)
    clf = quietly(MLPClassifier(**params, backend=backend, device=device), X_SCALED, Y_IRIS)
    for p, q in zip(
        [*clf.coefs_, *clf.intercepts_], [*reference.coefs_, *reference.intercepts_], strict=True
    ):
        np.testing.assert_allclose(p, q, rtol=1e-7, atol=1e-9)
    assert clf.n_iter_ == reference.n_iter_ and math.isclose(clf.loss_, reference.loss_, rel_tol=1e-9)
