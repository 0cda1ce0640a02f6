"""Estimators in a model file: ``mlp_xp.load`` rebuilds one from the JSON entry ``save`` writes."""

from __future__ import annotations

from typing import Any

from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import column_or_1d

from .. import _validation as check
from ..schedules import Adaptive
from ._classifier import MLPClassifier
from ._entry import FITTED, from_json
from ._fitted import STOCHASTIC
from ._regressor import MLPRegressor

_SAVABLE = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}


def estimator_from_entry(entry: Any, layer_sizes: list[int]) -> MLPClassifier | MLPRegressor:
    """The estimator of a file's ``estimator`` entry, all but its network ``model_``.

    ``layer_sizes`` are the network's, which the fitted attributes must match.
    Raises ValueError (or TypeError, KeyError) saying what is wrong.
    """
    if not isinstance(entry, dict) or set(entry) != {"class", "params", "fitted"}:
        raise ValueError(f"expected {{'class', 'params', 'fitted'}}, got {entry!r}")
    if entry["class"] not in _SAVABLE:
        raise ValueError(f"unknown estimator class {entry['class']!r}; mlp_xp has {', '.join(_SAVABLE)}")
    if not isinstance(entry["params"], dict) or not isinstance(entry["fitted"], dict):
        raise ValueError("its 'params' and 'fitted' must be JSON objects")
    params = {name: from_json(value) for name, value in entry["params"].items()}
    fitted = {name: from_json(value) for name, value in entry["fitted"].items()}
    estimator = _SAVABLE[entry["class"]]()
    unknown = sorted(set(params) - set(estimator.get_params()))
    if unknown:
        raise ValueError(f"{entry['class']} has no parameters {unknown}")
    estimator.set_params(**params)
    estimator._check_params(incremental=False)
    required = [
        *FITTED,
        *(STOCHASTIC if estimator.solver != "lbfgs" else ()),
        *(("classes_", "label_type") if isinstance(estimator, MLPClassifier) else ()),
    ]
    missing = [name for name in required if name not in fitted]
    if missing:
        raise ValueError(f"fitted attributes missing: {', '.join(missing)}")
    for name in (*FITTED, *STOCHASTIC):
        if name in fitted:
            setattr(estimator, name, fitted[name])
    shape = {"n_features_in_": layer_sizes[0], "n_layers_": len(layer_sizes), "n_outputs_": layer_sizes[-1]}
    for name, value in shape.items():
        if getattr(estimator, name) != value:
            raise ValueError(f"{name} {getattr(estimator, name)!r} is not the network's {value}")
    outputs = ("identity", "exp", "logistic", "softmax")
    check.check_choice(estimator.out_activation_, "out_activation_", outputs)
    for name in ("n_iter_", "t_"):
        check.check_int(getattr(estimator, name), name, minimum=0)
    if "loss_curve_" in fitted and not _is_curve(fitted["loss_curve_"]):  # absent after "lbfgs"
        raise ValueError(f"loss_curve_ must be a non-empty list of numbers, got {fitted['loss_curve_']!r}")
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = column_or_1d(fitted["feature_names_in_"], dtype=object)
    if "_adaptive" in fitted:
        state, adaptive = fitted["_adaptive"], Adaptive(estimator.learning_rate_init)
        if not isinstance(state, dict) or set(state) != set(vars(adaptive)):
            raise ValueError(f"_adaptive must be {sorted(vars(adaptive))}, got {state!r}")
        vars(adaptive).update(state)
        estimator._adaptive = adaptive
    if isinstance(estimator, MLPClassifier):
        estimator._label_binarizer, estimator.classes_ = _binarizer(
            fitted["classes_"], fitted["label_type"], layer_sizes[-1]
        )
    return estimator


def _is_curve(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of numbers."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def _binarizer(classes: Any, label_type: Any, n_outputs: int) -> tuple[LabelBinarizer, Any]:
    """The fitted LabelBinarizer of a classifier with these labels and outputs, and its classes_."""
    if label_type == "multilabel-indicator" and isinstance(classes, list):
        binarizer = LabelBinarizer().fit([[int(i == j) for j in range(len(classes))] for i in classes])
    else:
        binarizer = LabelBinarizer().fit(classes)
    expected = 1 if binarizer.y_type_ == "binary" else len(classes)
    if binarizer.y_type_ != label_type or binarizer.classes_.tolist() != classes or n_outputs != expected:
        raise ValueError(
            f"classes_ {classes!r} of type {label_type!r} do not fit a network with {n_outputs} outputs"
        )
    return binarizer, binarizer.classes_
