"""One benchmark configuration (data, initial weights, batch orders) and the array calls it needs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

import mlp_xp
import mlp_xp.datasets


def ops(library: str, device: str) -> SimpleNamespace:
    """The few calls in which NumPy/CuPy and torch differ, for a library and device."""
    if library == "torch":
        import torch

        dev = torch.device(device)
        return SimpleNamespace(
            lib=torch,
            asarray=lambda host: torch.as_tensor(np.array(host), device=dev),
            dtype=lambda name: getattr(torch, name),
            cast=lambda a, dtype: a.to(dtype),
            relu_=lambda z: z.clamp_(min=0.0),
            rowmax=lambda z: z.amax(dim=1, keepdim=True),
            rowsum=lambda z: z.sum(dim=1, keepdim=True),
            colsum=lambda a: a.sum(dim=0),
            normal=lambda shape, dtype: torch.randn(
                shape, dtype=dtype, device=dev, generator=torch.Generator(dev).manual_seed(0)
            ),
            empty=lambda shape, dtype: torch.empty(shape, dtype=dtype, device=dev),
        )
    lib = importlib.import_module(library)  # numpy or cupy (CuPy: the current device)
    return SimpleNamespace(
        lib=lib,
        asarray=lambda host: lib.array(host, copy=True),
        dtype=lambda name: lib.dtype(name),
        cast=lambda a, dtype: a.astype(dtype),
        relu_=lambda z: lib.maximum(z, 0, out=z),
        rowmax=lambda z: z.max(axis=1, keepdims=True),
        rowsum=lambda z: z.sum(axis=1, keepdims=True),
        colsum=lambda a: a.sum(axis=0),
        normal=lambda shape, dtype: lib.asarray(np.random.default_rng(0).standard_normal(shape, dtype=dtype)),
        empty=lambda shape, dtype: lib.empty(shape, dtype=dtype),
    )


def host(a: Any) -> np.ndarray:
    """A float64 host copy of an array of any library."""
    return np.array(mlp_xp.to_numpy(a), dtype=np.float64)


@dataclass
class Problem:
    """One benchmark configuration: data, initial weights and batch orders.

    ``x`` (N, n_0) is standard normal and ``labels`` (N,) uniform over the
    n_L classes, N = steps·B, drawn on the host from ``default_rng(seed)``
    (``data="digits"``: the 1347 rows of the digits training set, repeated to N
    rows; n_0 = 64 and n_L = 10);
    the initial weights are those of ``mlp_xp.MLP(sizes, "relu", "softmax",
    seed=seed)`` (He normal, zero biases).  ``device`` is where every contender
    keeps its arrays: ``"cpu"`` or ``"cuda:<n>"``.
    """

    sizes: tuple[int, ...]
    batch: int
    steps: int
    dtype: str
    lr: float
    seed: int
    backend: str
    device: str
    data: str = "random"
    x: np.ndarray = field(init=False, repr=False)
    labels: np.ndarray = field(init=False, repr=False)
    weights: list[np.ndarray] = field(init=False, repr=False)
    biases: list[np.ndarray] = field(init=False, repr=False)
    _resident: dict[str, tuple[Any, Any]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        if self.data == "digits":
            x, _, labels, _ = mlp_xp.datasets.digits()
            self.x = np.resize(x.astype(self.dtype), (self.n, x.shape[1]))
            self.labels = np.resize(labels, self.n)
        else:
            self.x = rng.standard_normal((self.n, self.sizes[0]), dtype=np.dtype(self.dtype))
            self.labels = rng.integers(0, self.sizes[-1], size=self.n)
        model = mlp_xp.MLP(list(self.sizes), "relu", "softmax", dtype=self.dtype, seed=self.seed)
        self.weights = [np.array(mlp_xp.to_numpy(w)) for w in model.weights]
        self.biases = [np.array(mlp_xp.to_numpy(b)) for b in model.biases]

    @property
    def n(self) -> int:
        return self.steps * self.batch

    def order(self, r: int) -> np.ndarray:
        """The host batch order of repeat ``r``: the permutation ``fit(seed=seed + r)`` draws."""
        return np.random.default_rng(self.seed + r).permutation(self.n)

    def on(self, library: str) -> tuple[Any, Any]:
        """``(x, labels)`` resident on the device as arrays of ``library``, made once and shared."""
        if library not in self._resident:
            o = ops(library, self.device)
            self._resident[library] = (o.asarray(self.x), o.asarray(self.labels))
        return self._resident[library]
