"""Scores of predictions: accuracy for classification costs, R² for real-valued ones."""

from __future__ import annotations

from typing import Any

from ._backend import widest_float
from .costs import Cost


def score(xp: Any, cost: Cost, y: Any, output: Any) -> Any:
    """A 0-d array, in float64 where the device has it: the score of the network
    outputs αᴸ against prepared targets ``y``.

    Parameters
    ----------
    y, output : arrays, shape (N, n_L)
        Targets as ``fit`` prepares them (one-hot rows for class labels) and αᴸ.

    Notes
    -----
    ``"distribution"`` targets (cross-entropy): accuracy of the arg-max class;
    ``"probability"`` (binary cross-entropy): every output thresholded at ½
    must match (exact match for multi-label rows); ``"sign"`` (logistic,
    hinge): every output's sign must match; ``"real"`` and ``"non_negative"``:
    R² = 1 − SS_res/SS_tot averaged over outputs, where a constant column
    (max = min, tested exactly) scores 1 if fitted exactly, else 0.  Sums are
    taken in float64: a float32 model's N = 10⁶ rows would otherwise drift.
    """
    wide = widest_float(xp, y.device)
    if cost.targets == "distribution":
        hits = xp.argmax(output, axis=1) == xp.argmax(y, axis=1)
    elif cost.targets == "probability":
        hits = xp.all((output >= 0.5) == (y >= 0.5), axis=1)
    elif cost.targets == "sign":
        hits = xp.all((output >= 0.0) == (y > 0.0), axis=1)
    else:
        return xp.mean(r2_scores(xp, xp.astype(y, wide), xp.astype(output, wide)))
    return xp.mean(xp.astype(hits, wide))


def r2_scores(xp: Any, y: Any, output: Any) -> Any:
    """R² = 1 − SS_res/SS_tot per column of ``y`` (N, k) -> (k,); a constant
    column, max = min, gives 1 for an exact fit and 0 otherwise (its SS_tot
    is only the rounding residue of its mean)."""
    residual = xp.sum((y - output) ** 2, axis=0)
    total = xp.sum((y - xp.mean(y, axis=0)) ** 2, axis=0)
    flat = (xp.max(y, axis=0) == xp.min(y, axis=0)) | (total == 0.0)
    exact = xp.astype(residual == 0.0, residual.dtype)
    return xp.where(flat, exact, 1.0 - residual / xp.where(flat, 1.0, total))
