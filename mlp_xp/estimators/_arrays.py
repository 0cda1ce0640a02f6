"""Arrays of any library at the estimators' edge: rows, results in the caller's type, seeds."""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat
from sklearn.utils import check_random_state

from .._backend import namespace_of, to_namespace, to_numpy
from .._host_data import is_streamable, take


def is_array(a: Any) -> bool:
    return array_api_compat.is_array_api_obj(a)


def host(a: Any) -> Any:
    """A NumPy copy (or view) of an array of any library; anything else as it is."""
    return to_numpy(a) if is_array(a) else a


def is_float32(X: Any) -> bool:
    """True for data of dtype float32: an array of any namespace, a memory-map, a sparse matrix."""
    return X.dtype == (namespace_of(X).float32 if is_array(X) else "float32")


def take_rows(a: Any, rows: Any) -> Any:
    """The rows (host integer indices) of an array of any namespace, or of host data:
    a sparse matrix's rows, or a view of a memory-map's read only when used."""
    if is_streamable(a):
        return take(a, rows)
    xp = namespace_of(a)
    return xp.take(a, xp.asarray(rows, device=array_api_compat.device(a)), axis=0)


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
