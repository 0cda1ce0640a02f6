"""The public model: ``MLP``, a multi-layer perceptron on any Array API backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _validation as check
from ._backend import dtype_name, get_device, get_dtype, get_namespace, host_rng
from .costs import get_cost
from .network import backward, forward, init_parameters
from .optimizers import get_optimizer, get_schedule
from .training import FitConfig, History, train

SAMPLINGS = ("shuffle", "uniform")
ON_DIVERGENCE = ("raise", "warn")


class MLP:
    """A multi-layer perceptron trained by backpropagation (seed 003).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_0, n_1, ..., n_L]``: inputs, hidden layer widths, outputs.
    activation : str or sequence of str
        Φ of the hidden layers: one name for all, or one per hidden layer.
    output_activation : str
        Φ of the output layer (``"softmax"`` only there).
    backend : {"numpy", "cupy", "torch", "array_api_strict"} or namespace
    device : optional
        A device of the backend; default: the backend's default device.
    dtype : {"float32", "float64"}
    seed : int, optional
        Seeds the host generator that draws the initial weights (and, unless
        ``fit`` gets its own seed, the batch orders).

    Attributes
    ----------
    weights : list of arrays
        ``weights[j-1]`` is Ωʲ, shape (n_{j−1}, n_j); a plain list, assignable.
    biases : list of arrays
        ``biases[j-1]`` is βʲ, shape (n_j,).
    xp, device, dtype
        The Array API namespace, device and dtype of the parameters.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output_activation: str = "identity",
        *,
        backend: Any = "numpy",
        device: Any = None,
        dtype: Any = "float32",
        seed: int | None = None,
    ) -> None:
        self.layer_sizes = check.check_layer_sizes(layer_sizes)
        self.phis = check.check_activations(activation, output_activation, self.layer_sizes)
        self.xp = get_namespace(backend)
        self.device = get_device(self.xp, device)
        self.dtype = get_dtype(self.xp, dtype)
        self._rng = host_rng(seed)
        self.weights, self.biases = init_parameters(
            self.xp, self.layer_sizes, self.phis, self._rng, self.dtype, self.device
        )

    def __repr__(self) -> str:
        hidden = [phi.name for phi in self.phis[:-1]]
        activation = hidden[0] if len(set(hidden)) == 1 else hidden
        return (
            f"MLP({self.layer_sizes}, activation={activation!r}, "
            f"output_activation={self.phis[-1].name!r}, backend={self.xp.__name__!r}, "
            f"device={self.device!r}, dtype={dtype_name(self.xp, self.dtype)!r})"
        )

    def forward(self, x: Any) -> Any:
        """αᴸ for the rows of ``x`` (array-like, shape (N, n_0)): shape (N, n_L)."""
        x = check.as_features(self.xp, x, self.layer_sizes[0], self.dtype, self.device)
        return forward(self.xp, self.weights, self.biases, self.phis, x)[1][-1]

    def gradients(self, x: Any, y: Any, loss: str = "mse") -> tuple[float, list[Any], list[Any]]:
        """The batch cost 𝓔 = (1/N) Σ C on (x, y) and its gradients ``dW``, ``db``.

        ``dW[j]`` and ``db[j]`` are shaped like ``weights[j]`` and ``biases[j]``.
        """
        cost = get_cost(loss)
        x, y = self._prepare(x, y, cost)
        zs, activations = forward(self.xp, self.weights, self.biases, self.phis, x)
        losses, dW, db = backward(self.xp, self.weights, self.phis, zs, activations, y, cost)
        return float(self.xp.mean(losses)), dW, db

    def fit(
        self,
        x: Any,
        y: Any,
        loss: str = "mse",
        optimizer: Any = "sgd",
        lr: float = 0.1,
        batch_size: int | None = 32,
        epochs: int = 10,
        seed: int | None = None,
        *,
        sampling: str = "shuffle",
        lr_schedule: Any = "constant",
        power_t: float = 0.5,
        tol: float | None = None,
        verbose: bool = False,
        on_divergence: str = "raise",
    ) -> History:
        """Train by gradient descent (``batch_size=None``), SGD (1) or mini-batch SGD.

        Parameters
        ----------
        x : array-like, shape (N, n_0)
        y : array-like, shape (N, n_L), or (N,) for one output or integer class labels
        loss : str
            A cost of ``mlp_xp.COSTS``.
        optimizer : str or optimizer object
            ``"sgd"`` or an object with ``init`` and ``step`` (see ``optimizers``).
        lr : float
            The learning rate η (γ₀ of a schedule).
        batch_size : int or None
            Samples per update; None: the whole data set (gradient descent).
        epochs : int
            Passes over the data (or ⌈N/M⌉ updates each, for ``sampling="uniform"``).
        seed : int, optional
            Seeds the batch order; default: the model's own generator.
        sampling : {"shuffle", "uniform"}
            A permutation per epoch, or indices drawn uniformly with replacement.
        lr_schedule : {"constant", "robbins_monro", "invscaling"} or callable
            η_k = η, η/(k+1) (seed 004), η/(k+1)^power_t, or ``k -> η_k``.
        tol : float, optional
            Stop once the full-batch gradient norm ‖∇𝓔‖ ≤ tol (seed 004).
        verbose : bool
            Print one line per epoch.
        on_divergence : {"raise", "warn"}
            On a NaN/infinite loss or parameter: raise ``FloatingPointError``
            or warn; either way the model keeps its last finite epoch.

        Returns
        -------
        History
        """
        cost = get_cost(loss)
        config = FitConfig(
            batch_size=None if batch_size is None else check.check_int(batch_size, "batch_size"),
            epochs=check.check_int(epochs, "epochs"),
            sampling=check.check_choice(sampling, "sampling", SAMPLINGS),
            schedule=get_schedule(
                lr_schedule,
                check.check_positive_float(lr, "lr"),
                check.check_positive_float(power_t, "power_t"),
            ),
            tol=None if tol is None else check.check_positive_float(tol, "tol"),
            verbose=bool(verbose),
            on_divergence=check.check_choice(on_divergence, "on_divergence", ON_DIVERGENCE),
        )
        optimizer = get_optimizer(optimizer)
        rng = self._rng if seed is None else host_rng(seed)
        x, y = self._prepare(x, y, cost)
        return train(self, x, y, cost, optimizer, config, rng)

    def _prepare(self, x: Any, y: Any, cost: Any) -> tuple[Any, Any]:
        """(x, y) validated and moved to the model's device: once per call."""
        check.check_loss_pair(cost, self.phis[-1])
        x = check.as_features(self.xp, x, self.layer_sizes[0], self.dtype, self.device)
        y = check.as_targets(self.xp, y, self.layer_sizes[-1], x.shape[0], cost, self.dtype, self.device)
        return x, y
