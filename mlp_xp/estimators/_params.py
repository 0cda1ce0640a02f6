"""The estimators' parameters: declared once, checked before anything is modified.

scikit-learn reads an estimator's parameters from the explicit signature of its
``__init__``, which must only store them.  ``parameters`` writes that
``__init__`` from annotated class attributes (a dataclass without its ``__eq__``
and ``__repr__``, which stay scikit-learn's), so the parameters the two
estimators share are written once, here, and each estimator adds its own.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator

from .. import _validation as check
from .._backend import DTYPES
from ..activations import ACTIVATIONS
from ..checkpoint import as_checkpoint

SOLVERS = ("lbfgs", "sgd", "adam", "line_search")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
# scikit-learn's name of the logistic sigmoid, accepted beside ours.
ALIASES = {"logistic": "sigmoid"}
# Intervals [low, high) of the real-valued hyper-parameters, (low, high) where open.
_INTERVALS = {
    "alpha": (0.0, math.inf, "closed"),
    "learning_rate_init": (0.0, math.inf, "open"),
    "power_t": (0.0, math.inf, "closed"),
    "tol": (0.0, math.inf, "closed"),
    "momentum": (0.0, 1.0, "closed"),
    "validation_fraction": (0.0, 1.0, "open"),
    "beta_1": (0.0, 1.0, "closed"),
    "beta_2": (0.0, 1.0, "closed"),
    "epsilon": (0.0, math.inf, "open"),
}
_FLAGS = ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping")


def parameters(cls: type) -> type:
    """``cls`` with an ``__init__`` that takes and stores its annotated class attributes.

    The parameters are keyword-only unless declared with ``field(kw_only=False)``;
    a subclass decorated the same way adds its own after those it inherits.
    """
    return dataclass(eq=False, repr=False, kw_only=True)(cls)


@parameters
class MLPParams(BaseEstimator):
    """The parameters that MLPClassifier and MLPRegressor share, and their checks."""

    hidden_layer_sizes: int | Sequence[int] = field(default=(100,), kw_only=False)
    activation: str = field(default="relu", kw_only=False)
    solver: str = "adam"
    alpha: float = 1e-4
    batch_size: int | str = "auto"
    learning_rate: str = "constant"
    learning_rate_init: float = 1e-3
    power_t: float = 0.5
    max_iter: int = 200
    shuffle: bool = True
    random_state: Any = None
    tol: float = 1e-4
    verbose: bool | int = False
    warm_start: bool = False
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    early_stopping: bool = False
    validation_fraction: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    n_iter_no_change: int | float = 10
    max_fun: int = 15000
    backend: Any = "numpy"
    device: Any = None
    dtype: str | None = None
    comm: Any = None
    checkpoint: Any = None

    def _check_params(self, incremental: bool) -> None:
        """Every hyper-parameter checked, each error naming its parameter."""
        check.check_choice(self.solver, "solver", SOLVERS)
        hidden = [name for name, phi in ACTIVATIONS.items() if not phi.output_only]
        check.check_choice(self.activation, "activation", [*ALIASES, *hidden])
        check.check_choice(self.learning_rate, "learning_rate", LEARNING_RATES)
        self._hidden_sizes()
        for name, (low, high, kind) in _INTERVALS.items():
            check.check_real(getattr(self, name), name, low, high, low_open=kind == "open")
        for name in ("max_iter", "max_fun"):
            check.check_int(getattr(self, name), name)
        if self.batch_size != "auto":
            check.check_int(self.batch_size, "batch_size")
        if self.n_iter_no_change != math.inf:
            check.check_int(self.n_iter_no_change, "n_iter_no_change")
        for name in _FLAGS:
            if not isinstance(getattr(self, name), (bool, numbers.Integral)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit")
        if as_checkpoint(self.checkpoint) is not None and incremental:
            raise ValueError(
                "partial_fit does not take a checkpoint (each call trains one epoch): "
                "use fit, or save the estimator between calls"
            )

    def _hidden_sizes(self) -> list[int]:
        sizes: object = self.hidden_layer_sizes  # as the user set it: checked here
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}")
        return [check.check_int(n, f"hidden_layer_sizes[{i}]") for i, n in enumerate(sizes)]

    def _early_stops(self) -> bool:
        """Whether training holds out a validation set and keeps its best epoch:
        ``early_stopping``, which "lbfgs" ignores (as scikit-learn)."""
        return bool(self.early_stopping) and self.solver != "lbfgs"

    def _check_solver(self) -> bool:
        """partial_fit's availability: every solver but "lbfgs", which works on the whole data set."""
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                "solver='lbfgs' optimizes over the whole data set at once"
            )
        return True
