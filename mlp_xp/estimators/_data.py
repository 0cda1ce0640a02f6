"""The estimators' data: X and y checked, sample and class weights, the early-stopping split."""

from __future__ import annotations

import numbers
from collections import Counter
from typing import Any

import array_api_compat
from sklearn.base import is_classifier
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_array, column_or_1d, validate_data

from .._backend import backend_name, namespace_of
from .._host_data import is_sparse, is_streamable
from ._arrays import host, is_array, take_rows

_FLOATS = ("float64", "float32")


def keeps_in_place(X: Any, xp: Any) -> bool:
    """True for an array of a library other than NumPy that is ``xp``'s, and for a
    memory-map: it is used where it is (a memory-map is read a batch at a time)."""
    if is_streamable(X) and not is_sparse(X):
        return True
    if not is_array(X) or array_api_compat.is_numpy_array(X):
        return False
    return backend_name(namespace_of(X)) == backend_name(xp)


def check_fit_data(estimator: Any, X: Any, y: Any, xp: Any, reset: bool) -> tuple[Any, Any]:
    """X checked (NumPy, a SciPy CSR matrix, or the caller's array when it is of
    ``xp``, the backend it trains on, or a memory-map) and y as a NumPy array, 1-D
    for a single output."""
    y = host(y)
    numeric = not is_classifier(estimator)
    if keeps_in_place(X, xp):
        X = _check_array_in_place(estimator, X, reset)
        y = validate_data(estimator, X="no_validation", y=y, multi_output=True, y_numeric=numeric)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples, but y has {y.shape[0]}")
    else:
        X, y = validate_data(
            estimator,
            host(X),
            y,
            accept_sparse="csr",
            multi_output=True,
            y_numeric=numeric,
            dtype=_FLOATS,
            reset=reset,
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return X, y


def check_predict_X(estimator: Any, X: Any) -> Any:
    """X for prediction, checked against the fitted features: the caller's array
    when it is of the model's backend or a memory-map, else NumPy or a SciPy CSR matrix."""
    if keeps_in_place(X, estimator.model_.xp):
        return _check_array_in_place(estimator, X, reset=False)
    return validate_data(estimator, host(X), accept_sparse="csr", dtype=_FLOATS, reset=False)


def _check_array_in_place(estimator: Any, X: Any, reset: bool) -> Any:
    """The shape checks of ``validate_data`` for an array kept where it is; the
    network checks its values (real, finite) when it reads them."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array X, got shape {tuple(X.shape)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X is empty: shape {tuple(X.shape)}; at least 1 sample and 1 feature are needed")
    if reset:
        estimator.n_features_in_ = X.shape[1]
        estimator.__dict__.pop("feature_names_in_", None)
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X


def sample_weights(sample_weight: Any, class_weight: Any, y: Any, incremental: bool) -> Any:
    """The per-sample weights times the class weights (NumPy, shape (n_samples,)), or None."""
    if sample_weight is not None:
        sample_weight = host(sample_weight)
        sample_weight = check_array(
            sample_weight, ensure_2d=False, dtype="float64", input_name="sample_weight"
        )
        if sample_weight.shape != (y.shape[0],):
            raise ValueError(f"sample_weight must have shape ({y.shape[0]},), got {sample_weight.shape}")
        if (sample_weight < 0).any():
            raise ValueError("sample_weight must be non-negative; it holds negative values")
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
    by_class = class_weights(class_weight, y, incremental)
    if by_class is None:
        return sample_weight
    weights = by_class if sample_weight is None else sample_weight * by_class
    if not weights.sum() > 0:
        raise ValueError(
            f"class_weight={class_weight!r} gives every sample a zero weight: "
            "at least one sample must have a positive weight"
        )
    return weights


def class_weights(class_weight: Any, y: Any, incremental: bool) -> Any:
    """The weight of each sample's class, shape (n_samples,), or None.

    ``class_weight``: None, "balanced", ``{class: weight}``, or one such dict per
    label of multi-label targets; every weight a finite number ≥ 0.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
        if incremental:
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which sees one batch "
                "at a time; pass a dict of class weights, or use fit"
            )
    else:
        dicts = class_weight if isinstance(class_weight, list) else [class_weight]
        if not all(isinstance(d, dict) for d in dicts):
            raise TypeError(
                "class_weight must be None, 'balanced', a dict {class: weight} or, for "
                f"multi-label targets, a list of such dicts; got {class_weight!r}"
            )
        for weights in dicts:
            for label, weight in weights.items():
                # by <, which every numbers.Real has: neither negative, nor inf or NaN
                if not isinstance(weight, numbers.Real) or weight < 0.0 or not weight < float("inf"):
                    raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}")
    try:
        return compute_sample_weight(class_weight, y)
    except ValueError as exc:
        raise ValueError(f"class_weight={class_weight!r} does not fit y: {exc}") from exc


def split(estimator: Any, rng: Any, X: Any, targets: Any, weights: Any, y: Any) -> tuple[tuple, Any]:
    """((X, targets, weights) to train on, validation (X, targets) or None).

    With ``early_stopping`` (and a stochastic solver) a fraction of the rows is
    held out, drawn from the host generator ``rng``; for classifiers with one
    output, stratified as scikit-learn does, by the rows of the binarized targets.
    """
    if not estimator._early_stops():
        return (X, targets, weights), None
    fraction, seed = estimator.validation_fraction, int(rng.integers(2**31 - 1))
    stratify = is_classifier(estimator) and y.ndim == 1
    splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(test_size=fraction, random_state=seed)
    try:
        rows, held_out = next(splitter.split(targets, targets.astype(bool) if stratify else None))
    except ValueError as exc:  # e.g. fewer held-out samples than classes
        rare = sorted(label for label, count in Counter(y.tolist()).items() if count < 2) if stratify else []
        stratified = f", stratified by class (classes with fewer than 2 samples: {rare})" if rare else ""
        raise ValueError(
            f"early_stopping cannot hold out validation_fraction={fraction} of {y.shape[0]} "
            f"samples{stratified}: {exc}"
        ) from exc
    if held_out.shape[0] < 2:
        raise ValueError(
            f"The validation set is too small: {held_out.shape[0]} sample(s). "
            "Increase validation_fraction or the size of your dataset."
        )
    train = tuple(None if a is None else take_rows(a, rows) for a in (X, targets, weights))
    return train, (take_rows(X, held_out), take_rows(targets, held_out))
