"""The fitted attributes of scikit-learn's MLP estimators, from a fit's History."""

from __future__ import annotations

import math
import warnings
from typing import Any

from sklearn.exceptions import ConvergenceWarning

from ..history import History


def record(
    estimator: Any, history: History, *, first: bool, n_samples: int, incremental: bool, diverged: bool
) -> None:
    """Set ``loss_curve_``, ``n_iter_``, ``t_``, the validation scores and the
    network's shape attributes; warn when ``max_iter`` ends training or it diverged.

    A diverged epoch counts as an iteration with a NaN loss (and validation
    score); the optimizer's sample count ``t_`` leaves it out, as its update was not kept.
    """
    model = estimator.model_
    scale = estimator._loss_scale(model.layer_sizes[-1])
    losses = [loss / scale for loss in history.loss] + ([math.nan] if diverged else [])
    if first:
        estimator.loss_curve_, estimator.t_ = [], 0
    estimator.n_iter_ = len(losses)
    estimator.t_ += n_samples * history.n_epochs
    estimator.loss_curve_ = estimator.loss_curve_ + losses
    estimator.loss_ = estimator.loss_curve_[-1]
    estimator.n_layers_ = len(model.layer_sizes)
    estimator.n_outputs_ = model.layer_sizes[-1]
    estimator.out_activation_ = {"sigmoid": "logistic"}.get(model.phis[-1].name, model.phis[-1].name)
    if estimator.early_stopping:
        previous = [] if first else getattr(estimator, "validation_scores_", None) or []
        estimator.validation_scores_ = previous + list(history.val_score) + ([math.nan] if diverged else [])
        scores = [s for s in estimator.validation_scores_ if not math.isnan(s)]
        estimator.best_validation_score_ = max(scores, default=-math.inf)
        estimator.best_loss_ = None
    else:
        estimator.validation_scores_ = estimator.best_validation_score_ = None
        estimator.best_loss_ = min(estimator.loss_curve_)
    name = type(estimator).__name__
    if diverged:
        warnings.warn(
            f"{name}: training diverged in iteration {estimator.n_iter_} (non-finite loss or "
            "parameters); the parameters of the best epoch are kept. Try a smaller learning_rate_init.",
            ConvergenceWarning,
            stacklevel=5,
        )
    elif not incremental and estimator.n_iter_ == estimator.max_iter and not history.stopped_early:
        warnings.warn(
            f"{name}: maximum iterations (max_iter={estimator.max_iter} epochs) reached "
            "and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=5,
        )
