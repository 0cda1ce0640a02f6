"""An estimator in a model file: the JSON entry that ``save`` writes (class, parameters,
fitted attributes), and the encoding of its values; ``_file`` reads it back."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..schedules import Adaptive
from ._fitted import STOCHASTIC

# Parameters of where and how one fit runs, not of the estimator: not saved.
_RUN_PARAMETERS = ("backend", "device", "comm", "checkpoint")
# The fitted attributes every estimator file holds as they are (besides the
# network, the labels, the feature names and the "adaptive" schedule); it holds
# those of STOCHASTIC too where the estimator has them.
FITTED = ("n_features_in_", "n_layers_", "n_outputs_", "out_activation_", "loss_", "n_iter_", "t_")


def estimator_entry(estimator: Any) -> dict[str, Any]:
    """The JSON entry of a fitted estimator: its class, parameters (but ``backend``,
    ``device``, ``comm`` and ``checkpoint``, which belong to one run) and fitted
    attributes; ``TypeError`` for a value JSON cannot hold."""
    params = {k: v for k, v in estimator.get_params().items() if k not in _RUN_PARAMETERS}
    fitted = {name: getattr(estimator, name) for name in (*FITTED, *STOCHASTIC) if hasattr(estimator, name)}
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = estimator.feature_names_in_.tolist()
    if isinstance(getattr(estimator, "_adaptive", None), Adaptive):
        fitted["_adaptive"] = dict(vars(estimator._adaptive))
    if hasattr(estimator, "classes_"):
        fitted["classes_"] = estimator.classes_.tolist()
        fitted["label_type"] = estimator._label_binarizer.y_type_
    return {
        "class": type(estimator).__name__,
        "params": {name: to_json(value, name) for name, value in params.items()},
        "fitted": {name: to_json(value, name) for name, value in fitted.items()},
    }


def to_json(value: Any, name: str) -> Any:
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
        return [to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {
            "dict": [[to_json(k, f"a key of {name}"), to_json(v, f"{name}[{k!r}]")] for k, v in value.items()]
        }
    raise TypeError(
        f"{name} is a {type(value).__name__}, which an estimator file cannot hold: it holds None, "
        "bool, int, float, str and lists, tuples and dicts of them (e.g. an int as random_state)"
    )


def from_json(value: Any) -> Any:
    """The value that ``to_json`` wrote."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"tuple"} and isinstance(value["tuple"], list):
        return tuple(from_json(v) for v in value["tuple"])
    if set(value) == {"dict"} and isinstance(value["dict"], list):
        return {from_json(k): from_json(v) for k, v in value["dict"]}
    if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    raise ValueError(f"{value!r} is not a value that save writes")
