"""Scores of predictions: accuracy for classification costs, R² for real-valued ones."""

from __future__ import annotations

from typing import Any

from .costs import Cost


def score(xp: Any, cost: Cost, y: Any, output: Any) -> Any:
    """A 0-d array: the score of the network outputs αᴸ against prepared targets ``y``.

    Parameters
    ----------
    y, output : arrays, shape (N, n_L)
        Targets as ``fit`` prepares them (one-hot rows for class labels) and αᴸ.

    Notes
    -----
    ``"distribution"`` targets (cross-entropy): accuracy of the arg-max class;
    ``"probability"`` (binary cross-entropy): every output thresholded at ½
    must match (exact match for multi-label rows); ``"sign"`` (logistic,
    hinge): every output's sign must match; ``"real"``: R² = 1 − SS_res/SS_tot
    averaged over outputs (1 for a perfect fit of a constant column, else 0).
    """
    if cost.targets == "distribution":
        hits = xp.argmax(output, axis=1) == xp.argmax(y, axis=1)
    elif cost.targets == "probability":
        hits = xp.all((output >= 0.5) == (y >= 0.5), axis=1)
    elif cost.targets == "sign":
        hits = xp.all((output >= 0.0) == (y > 0.0), axis=1)
    else:
        residual = xp.sum((y - output) ** 2, axis=0)
        total = xp.sum((y - xp.mean(y, axis=0)) ** 2, axis=0)
        constant = xp.astype(residual == 0.0, residual.dtype)
        r2 = xp.where(total > 0.0, 1.0 - residual / xp.where(total > 0.0, total, 1.0), constant)
        return xp.mean(r2)
    return xp.mean(xp.astype(hits, output.dtype))
