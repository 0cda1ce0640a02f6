"""mlp_xp: multi-layer perceptrons trained by backpropagation, written once
against the Python Array API standard (NumPy, CuPy, PyTorch, array-api-strict)."""

from . import datasets
from ._backend import to_numpy
from .activations import ACTIVATIONS, Activation
from .costs import COSTS, Cost
from .gradient_check import gradient_check
from .model import MLP
from .optimizers import SGD, Optimizer
from .training import History

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "MLP",
    "SGD",
    "Activation",
    "Cost",
    "History",
    "Optimizer",
    "__version__",
    "datasets",
    "gradient_check",
    "to_numpy",
]
