"""The fitted attributes of scikit-learn's MLP estimators: from a fit's History for the
stochastic solvers, from the L-BFGS state for "lbfgs"."""

from __future__ import annotations

import math
import warnings
from typing import Any

from sklearn.exceptions import ConvergenceWarning

from ..history import History
from ..lbfgs import CONVERGED, STALLED

# The attributes that scikit-learn's stochastic solvers record and its "lbfgs" does not.
STOCHASTIC = ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_")
# SciPy's L-BFGS-B messages for the ends of a run that are not convergence.
_MAX_ITER = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
_MAX_FUN = "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
_STALLED = "ABNORMAL: ROUNDING ERRORS PREVENT PROGRESS"


def record(
    estimator: Any, history: History, *, first: bool, n_samples: int, incremental: bool, diverged: bool
) -> None:
    """Set ``loss_curve_``, ``n_iter_``, ``t_``, the validation scores and the
    network's shape attributes; warn when ``max_iter`` ends training or it diverged
    (for "lbfgs": ``record_lbfgs``).

    A diverged epoch counts as an iteration with a NaN loss (and validation
    score); the optimizer's sample count ``t_`` leaves it out, as its update was not kept.
    """
    if estimator.solver == "lbfgs":
        record_lbfgs(estimator, first=first)
        return
    scale = _record_network(estimator)
    losses = [loss / scale for loss in history.loss] + ([math.nan] if diverged else [])
    if first:
        estimator.loss_curve_, estimator.t_ = [], 0
    estimator.n_iter_ = len(losses)
    estimator.t_ += n_samples * history.n_epochs
    estimator.loss_curve_ = getattr(estimator, "loss_curve_", []) + losses
    estimator.loss_ = estimator.loss_curve_[-1]
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


def record_lbfgs(estimator: Any, *, first: bool) -> None:
    """Set scikit-learn's attributes of an "lbfgs" fit from the network's L-BFGS state:
    ``n_iter_`` (the iterations of this fit), ``loss_`` (at the final parameters), ``t_``
    (0, kept by a warm start), and none of ``STOCHASTIC``; warn as scikit-learn when
    the run ended for another reason than convergence."""
    scale, state = _record_network(estimator), estimator.model_.optimizer_state
    estimator.n_iter_, estimator.loss_ = state["n_iterations"], state["value"] / scale
    if first:
        estimator.t_ = 0
    for name in STOCHASTIC:
        estimator.__dict__.pop(name, None)
    message = _lbfgs_warning(state, estimator.max_iter, estimator.max_fun)
    if message is not None:
        warnings.warn(message, ConvergenceWarning, stacklevel=6)


def _lbfgs_warning(state: dict[str, Any], max_iter: int, max_fun: int) -> str | None:
    """scikit-learn's warning for an L-BFGS run that ended in ``state``, or None when it converged.

    SciPy's order: the limits on iterations, then on evaluations (tested after each
    iteration), end a run as "STOP" (status 1) even where it converged; a run whose
    line search found no decrease ends as "ABNORMAL" (status 2, or 1 beyond a limit).
    """
    n_iter, beyond_iter = state["n_iterations"], state["n_iterations"] >= max_iter
    beyond = beyond_iter or state["n_evaluations"] > max_fun
    if state["status"] == CONVERGED and not beyond:
        return None
    reason = _STALLED if state["status"] == STALLED else _MAX_ITER if beyond_iter else _MAX_FUN
    text = f"lbfgs failed to converge after {n_iter} iteration(s) (status={1 if beyond else 2}):\n{reason}\n"
    if n_iter == max_iter:
        text += f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
    return text + (
        "\nYou might also want to scale the data as shown in:\n"
        "    https://scikit-learn.org/stable/modules/preprocessing.html"
    )


def _record_network(estimator: Any) -> float:
    """Set the network's shape attributes; return the divisor of its loss for ``loss_``."""
    model = estimator.model_
    estimator.n_layers_ = len(model.layer_sizes)
    estimator.n_outputs_ = model.layer_sizes[-1]
    estimator.out_activation_ = {"sigmoid": "logistic"}.get(model.phis[-1].name, model.phis[-1].name)
    return estimator._loss_scale(model.layer_sizes[-1])
