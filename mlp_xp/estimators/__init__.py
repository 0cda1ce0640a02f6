"""scikit-learn estimators on ``mlp_xp.MLP``: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's estimator conventions and the parameter names and
training semantics of its own MLP estimators (epochs of shuffled mini-batches,
stopping when the training loss or the validation score stalls for
``n_iter_no_change`` epochs, warm starts, ``partial_fit``; or L-BFGS on the
whole training set, with ``max_iter``, ``max_fun`` and ``tol`` as SciPy's
L-BFGS-B takes them), and train an ``mlp_xp.MLP`` on any backend.  Inputs may
be NumPy, CuPy or torch arrays (or anything NumPy converts); results come back
in the caller's array type.

Host-side bookkeeping (labels, splits, weights) uses scikit-learn's utilities;
the network's arrays live on the model's backend.  Data that already lives in
the model's namespace (a CuPy array for ``backend="cupy"``, a tensor for
``backend="torch"``) is used where it is, without a trip through the host; a
SciPy sparse X and a NumPy memory-map stay on the host, read a batch of rows
at a time (see ``MLP.fit``).

Where they differ from scikit-learn's MLP: the initial weights are mlp_xp's (Glorot or He), so one
``random_state`` gives other numbers; ``warm_start`` continues the state of a
stochastic optimizer (scikit-learn restarts it) and may move the network to a
new backend or device; a stall is measured against the last epoch that
improved by ``tol`` (scikit-learn: against the best value so far); the
"adaptive" schedule watches the training loss even with ``early_stopping``;
the validation score ignores the sample weights; a diverging epoch ends
training at once.
"""

from __future__ import annotations

try:
    import sklearn.base  # noqa: F401  (every estimator module needs it)
except ImportError as exc:  # scikit-learn is an optional dependency
    raise ImportError(
        'mlp_xp.MLPClassifier and mlp_xp.MLPRegressor need scikit-learn: pip install "mlp_xp[sklearn]"'
    ) from exc

from ._classifier import MLPClassifier
from ._file import estimator_from_entry
from ._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "estimator_from_entry"]
