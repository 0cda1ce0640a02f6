"""The shipped data sets of ``mlp-xp train`` and their defaults, and seed 004's neuron.

Seed 004's worked example is one sigmoid neuron without bias trained by
gradient descent on the squared error.  ``mlp-xp train --data seed004``
trains it with the optimizer wrapped in ``WeightsOnly`` (β stays at 0), an
optimizer that is saved with the model like any built-in, so that a saved
neuron resumes training without a bias; a callback records the path of its
weights (w₁₁, w₁₂) for the surface plot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import datasets
from .._backend import to_numpy
from ..checkpoint import Checkpoint
from ..model import MLP
from ..optimizers import OPTIMIZERS, WeightsOnly


@dataclass(frozen=True)
class Preset:
    """Defaults of ``train`` for one data set; options given on the command line win.

    ``loss=None``: cross-entropy for class labels, mse for real targets;
    ``output_activation=None``: the one the loss needs, else identity;
    ``lr`` is SGD's (see ``DEFAULT_LR``); ``batch_size=None``: gradient descent.
    """

    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    loss: str | None = None
    output_activation: str | None = None
    lr: float = 0.1
    batch_size: int | None = 32
    epochs: int = 50
    test_fraction: float = 0.25


PRESETS = {
    "xor": Preset(hidden=(8,), activation="tanh", lr=0.5, batch_size=None, epochs=500, test_fraction=0.0),
    # Seed 004's worked example: one sigmoid neuron, squared error, gradient descent.
    "seed004": Preset(
        hidden=(),
        loss="mse",
        output_activation="sigmoid",
        lr=2.0,
        batch_size=None,
        epochs=100,
        test_fraction=0.0,
    ),
    "moons": Preset(hidden=(32, 32), epochs=200),
    "digits": Preset(epochs=40),
}
# (test_fraction, seed) -> (x_train, x_test, y_train, y_test)
LOADERS: dict[str, Callable[[float, int], tuple[Any, ...]]] = {
    "xor": lambda fraction, seed: datasets.split(*datasets.xor(), fraction, seed),
    "seed004": lambda fraction, seed: datasets.split(*datasets.seed004_points(), fraction, seed),
    "moons": lambda fraction, seed: datasets.split(*datasets.two_moons(seed=seed), fraction, seed),
    "digits": datasets.digits,
}
# Learning rates for the optimizers other than SGD, whose rate comes from the data set's preset.
DEFAULT_LR = {"adam": 0.01, "line_search": 1.0, "lbfgs": 1.0}


def is_seed004_neuron(data: str, model: MLP) -> bool:
    """Whether ``model`` is seed 004's neuron: two inputs, one output, no hidden layer."""
    return data == "seed004" and model.layer_sizes == [2, 1]


def fit_options(args: Any, preset: Preset, model: MLP) -> tuple[dict[str, Any], WeightRecorder | None]:
    """``fit``'s optimizer, lr, batch_size, epochs and checkpoint, and for seed 004's neuron a weight recorder
    (holding w⁰, the weights before the first epoch) and the weights-only optimizer."""
    optimizer: Any = OPTIMIZERS[args.optimizer]()
    recorder = None
    if is_seed004_neuron(args.data, model):
        optimizer, recorder = WeightsOnly(optimizer), WeightRecorder([])
        recorder(model, None)
    options = {
        "optimizer": optimizer,
        "lr": DEFAULT_LR.get(args.optimizer, preset.lr) if args.lr is None else args.lr,
        "batch_size": preset.batch_size if args.batch_size is None else (args.batch_size or None),
        "epochs": preset.epochs if args.epochs is None else args.epochs,
        "checkpoint": None,
    }
    if args.checkpoint:
        options["checkpoint"] = Checkpoint(args.checkpoint, every=args.checkpoint_every or 1)
    return options, recorder


@dataclass(frozen=True)
class WeightRecorder:
    """A ``fit`` callback appending the host copy of a one-neuron model's weights (n_0,) to ``path``."""

    path: list

    def __call__(self, model: MLP, history: Any) -> bool:
        self.path.append(to_numpy(model.weights[0])[:, 0].copy())
        return False
