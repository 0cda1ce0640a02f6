"""What a model predicts and how well: an ``MLP`` (just trained, or saved) or a saved
``MLPClassifier`` / ``MLPRegressor``.

An MLP's class labels are its ``classes`` (saved by ``train``) at the arg-max
output, or at σ ≥ ½ for a single output; a model saved without ``classes``
gives the class indices 0..K−1.  An estimator predicts with its own
``predict`` (its own labels) and scores with its own ``score``.
"""

from __future__ import annotations

from typing import Any

from .. import datasets
from .._backend import to_numpy
from ..costs import COSTS
from ..metrics import score
from ..model import MLP


def model_task(model: Any, option: str) -> str:
    """``--task``, or for "auto" the model's own task: the one saved with it, else (files
    written before tasks were saved) classification for softmax and sigmoid outputs."""
    if not isinstance(model, MLP):
        own = "classification" if hasattr(model, "classes_") else "regression"
        if option not in ("auto", own):
            raise ValueError(f"the model is an {type(model).__name__}: --task {option} does not apply")
        return own
    if option != "auto":
        return option
    if model.task is not None:
        return model.task
    return "classification" if model.phis[-1].name in ("softmax", "sigmoid") else "regression"


def predicted_labels(model: Any, x: Any) -> list[Any]:
    """The class label of each row of ``x``: a list of N labels (numbers or strings)."""
    if not isinstance(model, MLP):
        return model.predict(x).tolist()
    indices = class_indices(model, x).tolist()
    return indices if model.classes is None else [model.classes[i] for i in indices]


def class_indices(model: MLP, x: Any) -> Any:
    """Host int array (N,): the arg-max output of each row, or σ ≥ ½ for a single output."""
    xp, output = model.xp, model.forward(x)
    if output.shape[1] == 1:
        return to_numpy(xp.astype(output[:, 0] >= 0.5, xp.int64))
    return to_numpy(xp.argmax(output, axis=1))


def predicted_values(model: Any, x: Any) -> Any:
    """Host array (N, k): an MLP's outputs αᴸ, a regressor's predictions, a classifier's
    class probabilities."""
    if isinstance(model, MLP):
        return to_numpy(model.forward(x))
    values = model.predict_proba(x) if hasattr(model, "classes_") else model.predict(x)
    return values.reshape(len(values), -1)


def score_text(model: Any, x: Any, y: Any, task: str) -> str:
    """ "accuracy 97.1%" or "R² 0.953" of ``model`` on the rows ``x`` and targets ``y``."""
    if not isinstance(model, MLP):
        value = model.score(x, y)
        return f"accuracy {value:.1%}" if task == "classification" else f"R² {value:.4g}"
    if task == "classification":
        known = model.classes if model.classes is not None else list(range(max(2, model.layer_sizes[-1])))
        truth = datasets.label_indices(y, known)
        return f"accuracy {(class_indices(model, x) == truth).mean():.1%}"
    return f"R² {_r2(model, x, y):.4g}"


def _r2(model: MLP, x: Any, y: Any) -> float:
    """R² of the outputs against real targets ``y``, one column per output."""
    if y.dtype.kind in "US":
        raise ValueError(f"R² needs numbers, but the targets are text such as {y[0]!r}")
    columns = 1 if y.ndim == 1 else y.shape[1]
    if columns != model.layer_sizes[-1]:
        raise ValueError(
            f"the model has {model.layer_sizes[-1]} outputs, but the data has {columns} target column(s)"
        )
    xp, output = model.xp, model.forward(x)
    y = xp.reshape(xp.asarray(y, dtype=model.dtype, device=model.device), output.shape)
    return float(score(xp, COSTS["mse"], y, output))
