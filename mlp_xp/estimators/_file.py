"""Estimators in a model file: the JSON entry ``save`` writes and ``mlp_xp.load`` reads."""

from __future__ import annotations

import math
import numbers
from typing import Any

from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import column_or_1d

from .. import _validation as check
from ..schedules import Adaptive
from ._classifier import MLPClassifier
from ._regressor import MLPRegressor

_SAVABLE = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
# The fitted attributes an estimator file holds as they are (besides the
# network, the labels, the feature names and the "adaptive" schedule).
_FITTED = (
    "n_features_in_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "loss_",
    "loss_curve_",
    "n_iter_",
    "t_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)


def estimator_entry(estimator: Any) -> dict[str, Any]:
    """The JSON entry of a fitted estimator: its class, parameters (but ``backend`` and
    ``device``) and fitted attributes; ``TypeError`` for a value JSON cannot hold."""
    if type(estimator) not in _SAVABLE.values():
        raise TypeError(
            f"save writes {' and '.join(_SAVABLE)} only, not a {type(estimator).__name__}: "
            "save its network, estimator.model_.save(path)"
        )
    params = {k: v for k, v in estimator.get_params().items() if k not in ("backend", "device")}
    fitted = {name: getattr(estimator, name) for name in _FITTED}
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = estimator.feature_names_in_.tolist()
    if isinstance(getattr(estimator, "_adaptive", None), Adaptive):
        fitted["_adaptive"] = dict(vars(estimator._adaptive))
    if hasattr(estimator, "classes_"):
        fitted["classes_"] = estimator.classes_.tolist()
        fitted["label_type"] = estimator._label_binarizer.y_type_
    return {
        "class": type(estimator).__name__,
        "params": {name: _to_json(value, name) for name, value in params.items()},
        "fitted": {name: _to_json(value, name) for name, value in fitted.items()},
    }


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
    params = {name: _from_json(value) for name, value in entry["params"].items()}
    fitted = {name: _from_json(value) for name, value in entry["fitted"].items()}
    estimator = _SAVABLE[entry["class"]]()
    unknown = sorted(set(params) - set(estimator.get_params()))
    if unknown:
        raise ValueError(f"{entry['class']} has no parameters {unknown}")
    estimator.set_params(**params)
    estimator._check_params(incremental=False)
    required = [*_FITTED, *(("classes_", "label_type") if isinstance(estimator, MLPClassifier) else ())]
    missing = [name for name in required if name not in fitted]
    if missing:
        raise ValueError(f"fitted attributes missing: {', '.join(missing)}")
    for name in _FITTED:
        setattr(estimator, name, fitted[name])
    shape = {"n_features_in_": layer_sizes[0], "n_layers_": len(layer_sizes), "n_outputs_": layer_sizes[-1]}
    for name, value in shape.items():
        if getattr(estimator, name) != value:
            raise ValueError(f"{name} {getattr(estimator, name)!r} is not the network's {value}")
    outputs = ("identity", "exp", "logistic", "softmax")
    check.check_choice(estimator.out_activation_, "out_activation_", outputs)
    for name in ("n_iter_", "t_"):
        check.check_int(getattr(estimator, name), name, minimum=0)
    if not (isinstance(estimator.loss_curve_, list) and estimator.loss_curve_) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in estimator.loss_curve_
    ):
        raise ValueError(f"loss_curve_ must be a non-empty list of numbers, got {estimator.loss_curve_!r}")
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = column_or_1d(fitted["feature_names_in_"], dtype=object)
    if "_adaptive" in fitted:
        state = fitted["_adaptive"]
        estimator._adaptive = Adaptive(estimator.learning_rate_init)
        if not isinstance(state, dict) or set(state) != set(vars(estimator._adaptive)):
            raise ValueError(f"_adaptive must be {sorted(vars(estimator._adaptive))}, got {state!r}")
        vars(estimator._adaptive).update(state)
    if isinstance(estimator, MLPClassifier):
        estimator._label_binarizer, estimator.classes_ = _binarizer(
            fitted["classes_"], fitted["label_type"], layer_sizes[-1]
        )
    return estimator


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


def _to_json(value: Any, name: str) -> Any:
    """``value`` as JSON: None, bool, str, int and finite floats as they are, lists as
    lists; tuples, dicts and non-finite floats tagged: ``{"tuple": [...]}``,
    ``{"dict": [[key, value], ...]}``, ``{"float": "inf"}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list):
        return [_to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {
            "dict": [
                [_to_json(k, f"a key of {name}"), _to_json(v, f"{name}[{k!r}]")] for k, v in value.items()
            ]
        }
    raise TypeError(
        f"{name} is a {type(value).__name__}, which an estimator file cannot hold: it holds None, "
        "bool, int, float, str and lists, tuples and dicts of them (e.g. an int as random_state)"
    )


def _from_json(value: Any) -> Any:
    """The value that ``_to_json`` wrote."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"tuple"} and isinstance(value["tuple"], list):
        return tuple(_from_json(v) for v in value["tuple"])
    if set(value) == {"dict"} and isinstance(value["dict"], list):
        return {_from_json(k): _from_json(v) for k, v in value["dict"]}
    if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    raise ValueError(f"{value!r} is not a value that save writes")
