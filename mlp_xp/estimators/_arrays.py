"""Arrays of any library at the estimators' edge: rows, results in the caller's type, seeds."""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat
from scipy import sparse
from sklearn.utils import check_random_state

from .._backend import namespace_of, to_namespace, to_numpy

# Elements of a sparse X densified at a time by predict.
DENSE_BLOCK = 2**20


def is_array(a: Any) -> bool:
    return array_api_compat.is_array_api_obj(a)


def host(a: Any) -> Any:
    """A NumPy copy (or view) of an array of any library; anything else as it is."""
    return to_numpy(a) if is_array(a) else a


def take_rows(a: Any, rows: Any) -> Any:
    """The rows (host integer indices) of an array of any namespace."""
    xp = namespace_of(a)
    return xp.take(a, xp.asarray(rows, device=array_api_compat.device(a)), axis=0)


def forward_rows(model: Any, X: Any) -> Any:
    """αᴸ of ``model`` for the rows of X, shape (N, n_outputs); a SciPy sparse X
    is densified a block of rows at a time (about ``DENSE_BLOCK`` elements), never whole."""
    if not sparse.issparse(X):
        return model.forward(X)
    step = max(1, DENSE_BLOCK // X.shape[1])
    blocks = [model.forward(X[start : start + step].toarray()) for start in range(0, X.shape[0], step)]
    return blocks[0] if len(blocks) == 1 else model.xp.concat(blocks, axis=0)


def as_callers(result: Any, X: Any) -> Any:
    """``result`` in the array type and on the device of X; NumPy for NumPy and
    for anything that is not an array (lists, DataFrames, sparse matrices)."""
    if is_array(X) and not array_api_compat.is_numpy_array(X):
        return to_namespace(result, namespace_of(X), array_api_compat.device(X), "result")
    return to_numpy(result)


def seed_of(random_state: Any) -> Any:
    """The MLP's seed for scikit-learn's ``random_state``: None, an int, or an int
    drawn from a ``numpy.random.RandomState``."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return random_state
    return int(check_random_state(random_state).randint(2**31 - 1))
