"""scikit-learn's own MLP tests, run against mlp_xp's estimators.

The tests are read from the installed scikit-learn
(``sklearn/neural_network/tests/test_mlp.py``), their one import of the
estimators swapped for ``from mlp_xp import MLPClassifier, MLPRegressor``, and
collected here as they are.  Tests that read or set scikit-learn's private
attributes are skipped, each with its reason (``PRIVATE``); tests
that hold only from scikit-learn's initial weights (``OTHER_START``) are strict
expected failures, each with its reason.
"""

import types
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

PRIVATE = {
    "test_fit": "sets scikit-learn's private _coef_grads, _intercept_grads, _no_improvement_count "
    "and velocities, and assigns coefs_ (a read-only view of model_ in mlp_xp)",
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs",
    "test_learning_rate_warmstart": "reads scikit-learn's private _optimizer",
    "test_adaptive_learning_rate": "reads scikit-learn's private _optimizer",
    "test_n_iter_no_change": "reads scikit-learn's private _no_improvement_count",
    "test_n_iter_no_change_inf": "reads scikit-learn's private _no_improvement_count",
}
# Tests that pass or fail with the initial weights: mlp_xp draws its own (Glorot or He).
OTHER_START = {
    "test_lbfgs_regression_maxfun[X0-y0]": "expects max_fun=10 to stop every network, but from "
    "mlp_xp's initial weights the identity network converges first (8 iterations, 9 evaluations), "
    "as SciPy's L-BFGS-B does from the same start",
}


def _suite() -> types.ModuleType:
    """scikit-learn's test module, executed with mlp_xp's estimators in place of its own."""
    text = SOURCE.read_text(encoding="utf-8")
    assert text.count(IMPORT) == 1, f"{SOURCE} no longer imports the estimators as {IMPORT!r}"
    suite = types.ModuleType("sklearn_test_mlp_on_mlp_xp")
    suite.__file__ = str(SOURCE)
    code = compile(text.replace(IMPORT, "from mlp_xp import MLPClassifier, MLPRegressor"), SOURCE, "exec")
    exec(code, suite.__dict__)
    return suite


SUITE = _suite()
TESTS = {name: test for name, test in vars(SUITE).items() if name.startswith("test_") and callable(test)}
for _name, _test in TESTS.items():
    globals()[_name] = pytest.mark.skip(reason=PRIVATE[_name])(_test) if _name in PRIVATE else _test
del _name, _test


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of this name, at its default seed."""
    return 42


@pytest.fixture(autouse=True)
def _not_yet(request):
    """The strict expected failure of a test that needs scikit-learn's initial weights
    (``OTHER_START``)."""
    reason = OTHER_START.get(request.node.name)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def test_every_listed_test_exists():
    """A renamed or removed scikit-learn test must not leave a stale skip or mark here."""
    names = {name.split("[")[0] for name in OTHER_START}
    assert set(PRIVATE) <= set(TESTS) and names <= set(TESTS)
    assert not set(PRIVATE) & names
