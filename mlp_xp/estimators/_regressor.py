"""MLPRegressor: squared error with identity outputs, or Poisson deviance with exp outputs."""

from __future__ import annotations

from typing import Any

from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from .. import _validation as check
from ._arrays import as_callers, host
from ._base import MLPEstimator
from ._docstrings import ATTRIBUTES, PARAMETERS
from ._params import parameters

# scikit-learn's loss → (mlp_xp's cost, output activation).
LOSSES = {"squared_error": ("mse", "identity"), "poisson": ("poisson", "exp")}


@parameters
class MLPRegressor(RegressorMixin, MLPEstimator):
    __doc__ = f"""A multi-layer perceptron regressor trained on ``mlp_xp.MLP``.

    Minimises, plus an L2 penalty, the squared error (½ Σ over outputs, mean
    over samples) with an identity output layer, or the Poisson deviance with
    an exponential output layer (a log link); one or several outputs.

    Parameters
    ----------{PARAMETERS}
    loss : {{"squared_error", "poisson"}}, default="squared_error"
        "squared_error": identity outputs; "poisson": exp outputs, y ≥ 0 (as
        scikit-learn, keyword-only here).

    Attributes
    ----------{ATTRIBUTES}
    Notes
    -----
    ``loss_curve_`` is scikit-learn's: for "squared_error" the training cost
    divided by the number of outputs (½ · mean over samples and outputs; the
    L2 term is divided too), while the gradients, as scikit-learn's, use the
    sum over outputs; for "poisson" the cost as it is.
    """

    loss: str = "squared_error"

    def _check_params(self, incremental: bool) -> None:
        super()._check_params(incremental)
        check.check_choice(self.loss, "loss", tuple(LOSSES))

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X, shape (n_samples, n_features), and y, shape (n_samples,) or
        (n_samples, n_outputs); ``sample_weight`` shape (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda estimator: estimator._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing the network and its optimizer."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> Any:
        """Predictions, shape (n_samples,) for one output, else (n_samples, n_outputs),
        in the array type of X (NumPy for lists, DataFrames and sparse matrices)."""
        output = self._forward(X)
        if output.shape[1] == 1:
            output = self.model_.xp.reshape(output, (-1,))
        return as_callers(output, X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of ``predict(X)`` against y, computed on the host whatever the arrays' library."""
        return float(r2_score(host(y), host(self.predict(X)), sample_weight=host(sample_weight)))

    def _loss_scale(self, n_outputs: int) -> float:
        return float(n_outputs) if self.loss == "squared_error" else 1.0

    def _onnx_outputs(self, xp: Any, output: Any) -> dict[str, Any]:
        """``y`` as ``predict`` gives it, from αᴸ: shape (N,) for one output, else (N, n_outputs_)."""
        return {"y": xp.reshape(output, (-1,)) if self.n_outputs_ == 1 else output}

    def _encode_targets(
        self, y: Any, first: bool, incremental: bool, classes: Any, seen: Any = None
    ) -> tuple[Any, str, str]:
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(f"loss='poisson' needs targets y >= 0, got a minimum of {y.min()!r}")
        return (y, *LOSSES[self.loss])
