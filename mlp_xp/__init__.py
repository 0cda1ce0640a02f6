"""mlp_xp: multi-layer perceptrons trained by backpropagation, written once
against the Python Array API standard (NumPy, CuPy, PyTorch, array-api-strict)."""

from typing import Any

from . import datasets
from ._backend import to_numpy
from ._comm import Communicator
from ._engines import communicator
from ._registry import register_activation, register_cost
from ._version import __version__
from .activations import ACTIVATIONS, Activation
from .checkpoint import Checkpoint
from .costs import COSTS, Cost
from .gradient_check import gradient_check
from .history import EarlyStopping, History
from .io import load
from .lbfgs import LBFGS
from .model import MLP
from .optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    LineSearchGD,
    Optimizer,
    optimizer_config,
    optimizer_from_config,
)

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str) -> Any:
    """The scikit-learn-style estimators, imported on first use: they need scikit-learn."""
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'mlp_xp' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "LBFGS",
    "MLP",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "Adam",
    "Checkpoint",
    "Communicator",
    "Cost",
    "EarlyStopping",
    "History",
    "LineSearchGD",
    "Optimizer",
    "__version__",
    "communicator",
    "datasets",
    "gradient_check",
    "load",
    "optimizer_config",
    "optimizer_from_config",
    "register_activation",
    "register_cost",
    "to_numpy",
]
