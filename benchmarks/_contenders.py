"""The contenders: one epoch of the same mini-batch SGD, written six ways.

Every contender trains ``Problem.sizes`` (ReLU hidden layers, softmax output,
cross-entropy, plain SGD with a constant learning rate) from the same initial
weights on the same resident data.  Each offers

- ``epoch(r)``: one epoch over the batch order of repeat ``r``, returning the
  epoch's mean loss (a float or a 0-d device array, read after the clock stops);
- ``train(batches)``: one step per host index array, returning the batch losses
  (the correctness check), and ``parameters()``: host float64 ``(weights, biases)``.

=================  ==========================================================================
``mlp_xp``         ``MLP.fit(epochs=1, batch_size=B, seed=seed + r)``, the public API
``mlp_xp_torch``   the same on ``backend="torch"`` on the run's device (CPU or CUDA), beside a
                   NumPy or CuPy run
``mlp_xp_kernels`` the same on CuPy with mlp_xp's fused CuPy kernels switched on (GPU)
``native``         the same step hand-written in the backend library (NumPy, CuPy or torch
                   tensors without autograd), in place where such code would be
``torch``          PyTorch eager: ``nn.Linear``/``ReLU``, ``F.cross_entropy``, ``optim.SGD``
``torch_graph``    the whole torch step captured once in a CUDA graph and replayed (GPU)
``sklearn``        ``MLPClassifier(solver="sgd", momentum=0, alpha=0)``, warm-started (CPU)
``floor_<lib>``    the step's matrix products alone, on random data, into preallocated outputs
=================  ==========================================================================

Batch order: repeat ``r`` visits ``numpy.random.default_rng(seed + r).permutation(N)``
in slices of B, which is the order ``fit(seed=seed + r)`` draws; the timing run
checks it by comparing the epoch losses.  scikit-learn shuffles with its own
generator inside ``fit``, so its timed epochs visit another order (same data,
same number and size of batches); its correctness check feeds the same batches
one ``partial_fit`` at a time with ``shuffle=False``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
from _problem import Problem, host, ops
from _references import Sklearn, Torch, TorchGraph

import mlp_xp
from mlp_xp import _kernels_cupy


class MlpXp:
    """mlp_xp through its public ``fit``: one call per epoch (validation and one-hot included).

    ``backend`` defaults to the problem's; ``"torch"`` runs on the problem's
    device (``"cpu"`` or ``"cuda:<n>"``), CuPy on its current device.  ``kernels``:
    the fused CuPy kernels on (``MLP_XP_CUPY_KERNELS``) for this contender's fits, off
    for the others', whatever the environment says.
    """

    def __init__(self, p: Problem, backend: str | None = None, kernels: bool = False) -> None:
        self.p, self.kernels = p, kernels
        self.library = backend = backend or p.backend
        device = p.device if backend == "torch" else None
        self.model = mlp_xp.MLP(
            list(p.sizes), "relu", "softmax", backend=backend, device=device, dtype=p.dtype, seed=p.seed
        )
        xp, dev = self.model.xp, self.model.device
        self.model.weights[:] = [xp.asarray(w.copy(), device=dev) for w in p.weights]
        self.model.biases[:] = [xp.asarray(b.copy(), device=dev) for b in p.biases]
        self.x, self.labels = p.on(backend)
        self.inside_fit: list[float] = []  # History.time: the epoch loop without fit's set-up

    def _fit(self, x: Any, labels: Any, seed: int) -> float:
        _kernels_cupy.ENABLED = self.kernels
        history = self.model.fit(
            x, labels, loss="cross_entropy", optimizer="sgd", lr=self.p.lr,
            batch_size=self.p.batch, epochs=1, seed=seed,
        )  # fmt: skip
        self.inside_fit.append(history.time[0])
        return history.loss[0]

    def epoch(self, r: int) -> float:
        return self._fit(self.x, self.labels, self.p.seed + r)

    def train(self, batches: list[np.ndarray]) -> list[float]:
        # fit on exactly B rows with batch_size=B is one full-batch step, whatever the order
        return [self._fit(self.p.x[rows], self.p.labels[rows], 0) for rows in batches]

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [host(w) for w in self.model.weights], [host(b) for b in self.model.biases]


class Native:
    """The same step hand-written in the backend's own library, no framework in between."""

    def __init__(self, p: Problem) -> None:
        self.p, self.library = p, p.backend
        self.o = o = ops(p.backend, p.device)
        self.W = [o.asarray(w) for w in p.weights]
        self.b = [o.asarray(b) for b in p.biases]
        self.x, labels = p.on(p.backend)
        classes = o.asarray(np.arange(p.sizes[-1]))
        self.Y = o.cast(labels[:, None] == classes, o.dtype(p.dtype))  # one-hot, once

    def step(self, xb: Any, yb: Any) -> Any:
        """One SGD step on a batch; returns the batch's summed loss (a 0-d device array)."""
        o, W, b, lr = self.o, self.W, self.b, self.p.lr
        acts = [xb]
        for Wj, bj in zip(W[:-1], b[:-1]):
            z = acts[-1] @ Wj
            z += bj
            acts.append(o.relu_(z))
        z = acts[-1] @ W[-1]
        z += b[-1]
        z -= o.rowmax(z)
        e = o.lib.exp(z)
        s = o.rowsum(e)
        loss = o.lib.log(s).sum() - (yb * z).sum()  # Σᵢ logsumexp(ζᵢ) − ζᵢ[yᵢ]
        e /= s
        e -= yb
        delta = e
        delta *= 1.0 / xb.shape[0]
        for j in reversed(range(len(W))):
            dW = acts[j].T @ delta
            db = o.colsum(delta)
            if j > 0:
                delta = delta @ W[j].T
                delta *= acts[j] > 0
            dW *= lr
            W[j] -= dW
            db *= lr
            b[j] -= db
        return loss

    def epoch(self, r: int) -> Any:
        p = self.p
        order = self.o.asarray(p.order(r))
        total = 0.0
        for start in range(0, p.n, p.batch):
            rows = order[start : start + p.batch]
            total = total + self.step(self.x[rows], self.Y[rows])
        return total / p.n

    def train(self, batches: list[np.ndarray]) -> list[float]:
        return [
            float(self.step(self.x[rows], self.Y[rows])) / len(rows) for rows in map(self.o.asarray, batches)
        ]

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [host(w) for w in self.W], [host(b) for b in self.b]


class GemmFloor:
    """The step's matrix products alone: per layer αʲ⁻¹Ωʲ, αʲ⁻¹ᵀ𝓑ʲ and (j > 1) 𝓑ʲΩʲᵀ."""

    def __init__(self, p: Problem, library: str) -> None:
        self.p, self.library = p, library
        o = ops(library, p.device)
        dtype, B = o.dtype(p.dtype), p.batch
        self.matmul = o.lib.matmul
        self.W = [o.asarray(w) for w in p.weights]
        self.a = [o.normal((B, n), dtype) for n in p.sizes]
        self.z = [o.empty((B, n), dtype) for n in p.sizes[1:]]
        self.dW = [o.empty(w.shape, dtype) for w in p.weights]
        self.back = [o.empty((B, n), dtype) for n in p.sizes[:-1]]

    def epoch(self, r: int) -> None:
        mm, a = self.matmul, self.a
        for _ in range(self.p.steps):
            for j, W in enumerate(self.W):
                mm(a[j], W, out=self.z[j])
                mm(a[j].T, a[j + 1], out=self.dW[j])
                if j > 0:
                    mm(a[j + 1], W.T, out=self.back[j])


def contender_names(p: Problem, gpu: str | None) -> list[str]:
    """The contenders that can run for this problem on this machine.

    The torch contenders need torch on the problem's device (a CUDA build on a
    GPU); the whole-step CUDA graph runs on a GPU only, scikit-learn on the CPU only,
    mlp_xp with its CuPy kernels on CuPy only.
    """
    names = ["mlp_xp", "native"] + (["mlp_xp_kernels"] if p.backend == "cupy" else [])
    if _torch_reaches(p.device):
        names += [] if p.backend == "torch" else ["mlp_xp_torch"]
        names += ["torch", "torch_graph"] if gpu is not None else ["torch"]
    if gpu is None and importlib.util.find_spec("sklearn") is not None:
        names.append("sklearn")
    floors = dict.fromkeys(make_library(name, p) for name in names)  # one floor per library timed
    return names + [f"floor_{lib}" for lib in floors]


def _torch_reaches(device: str) -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return device == "cpu" or torch.cuda.is_available()


def make_library(name: str, p: Problem) -> str:
    """The array library whose matrix products a contender's step runs on."""
    torch_steps = ("mlp_xp_torch", "torch", "torch_graph")
    return "torch" if name in torch_steps else "numpy" if name == "sklearn" else p.backend


CONTENDERS = {
    "mlp_xp": MlpXp,
    "mlp_xp_torch": lambda p: MlpXp(p, "torch"),
    "mlp_xp_kernels": lambda p: MlpXp(p, kernels=True),
    "native": Native,
    "torch": Torch,
    "torch_graph": TorchGraph,
    "sklearn": Sklearn,
}


def make(name: str, p: Problem) -> Any:
    """A fresh contender called ``name`` (see ``contender_names``)."""
    if name.startswith("floor_"):
        return GemmFloor(p, name.removeprefix("floor_"))
    return CONTENDERS[name](p)
