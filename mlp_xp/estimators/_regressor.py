"""MLPRegressor: mean squared error, identity outputs."""

from __future__ import annotations

from typing import Any

from sklearn.base import RegressorMixin

from ._arrays import as_callers
from ._base import MLPEstimator
from ._docstrings import ATTRIBUTES, PARAMETERS


class MLPRegressor(RegressorMixin, MLPEstimator):
    __doc__ = f"""A multi-layer perceptron regressor trained on ``mlp_xp.MLP``.

    Minimises the mean squared error (½ Σ over outputs, mean over samples)
    plus an L2 penalty, with an identity output layer; one or several outputs.

    Parameters
    ----------{PARAMETERS}
    Attributes
    ----------{ATTRIBUTES}
    Notes
    -----
    ``loss_curve_`` is scikit-learn's "squared_error": the training cost
    divided by the number of outputs (½ · mean over samples and outputs; the
    L2 term is divided too).  The gradients are those of scikit-learn's
    regressor, whose updates use the sum over outputs.
    """

    _loss_divisor_is_n_outputs = True

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X, shape (n_samples, n_features), and y, shape (n_samples,) or
        (n_samples, n_outputs); ``sample_weight`` shape (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing the network and its optimizer."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> Any:
        """Predictions, shape (n_samples,) for one output, else (n_samples, n_outputs),
        in the array type of X (NumPy for lists and DataFrames)."""
        output = self._forward(X)
        if output.shape[1] == 1:
            output = self.model_.xp.reshape(output, (-1,))
        return as_callers(output, X)

    def _encode_targets(self, y: Any, first: bool, incremental: bool, classes: Any) -> tuple[Any, str, str]:
        return y, "mse", "identity"
