"""The data-parallel cases: one data set, its shards for P processes, each case's fit and
its single-process reference.

Imported by the tests and by ``worker.py``, which runs the cases under mpiexec or
torchrun, so that both sides build the same data and the same fits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

import mlp_xp
from mlp_xp._backend import to_numpy
from mlp_xp.optimizers import SGD, Adam

N_ROWS = 22
# Rows of each process, for P = 1, 2, 3: uneven shards, in rank order.
SHARDS = {1: [22], 2: [12, 10], 3: [8, 8, 6]}
# Shards that run out before the others (batch size 4): steps with empty batches.
EXHAUSTED = {1: [16], 2: [12, 4], 3: [10, 4, 2]}
VALIDATION = {1: [9], 2: [5, 4], 3: [3, 3, 3]}


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (22, 3), y (22, 2), sample weights (22,) with zeros, and a validation set (9 rows)."""
    rng = np.random.default_rng(20261201)
    x = rng.normal(size=(N_ROWS + 9, 3))
    y = np.tanh(x @ rng.normal(size=(3, 2))) + 0.3 * rng.normal(size=(N_ROWS + 9, 2))
    weights = rng.uniform(0.5, 2.0, size=N_ROWS)
    weights[[3, 4, 17]] = 0.0
    return x[:N_ROWS], y[:N_ROWS], weights, x[N_ROWS:], y[N_ROWS:]


def split(a: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(a[: sum(sizes)], np.cumsum(sizes)[:-1])


def global_batches(shards: list[np.ndarray], batch_size: int) -> np.ndarray:
    """The rows of every global step in order: rows [kB, (k+1)B) of every shard, in rank order."""
    steps = max(-(-len(s) // batch_size) for s in shards)
    blocks = [s[k * batch_size : (k + 1) * batch_size] for k in range(steps) for s in shards]
    return np.concatenate(blocks)


class Recording:
    """SGD with momentum that notes a digest of the parameters after every step:
    the processes' digests must be equal, step by step."""

    def __init__(self) -> None:
        self.inner, self.digests = SGD(momentum=0.9), []

    def init(self, params: list[Any]) -> Any:
        return self.inner.init(params)

    def step(self, params: list[Any], grads: list[Any], state: Any, lr: float) -> tuple[list[Any], Any]:
        params, state = self.inner.step(params, grads, state, lr)
        self.digests.append(digest(params))
        return params, state


def digest(arrays: list[Any]) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(to_numpy(a)).tobytes() for a in arrays)).hexdigest()


@dataclass(frozen=True)
class Case:
    """A fit on each process's shard (``fit``) and the same training on one process (``reference``)."""

    name: str
    layers: tuple[int, ...] = (3, 6, 2)
    options: tuple[tuple[str, Any], ...] = ()

    def model(self, backend: str = "numpy", device: Any = None, seed: int = 0) -> mlp_xp.MLP:
        return mlp_xp.MLP(
            list(self.layers), "tanh", backend=backend, device=device, dtype="float64", seed=seed
        )

    def fit(self, model: mlp_xp.MLP, size: int, rank: int, comm: Any) -> list[mlp_xp.History]:
        """Train ``model`` on process ``rank``'s shard of ``size`` processes; the Histories."""
        x, y, w, x_val, y_val = data()
        options = dict(self.options)
        if self.name == "exhausted":
            sizes = EXHAUSTED[size]
        else:
            sizes = SHARDS[size]
        shard = [split(a, sizes)[rank] for a in (x, y, w)]
        if self.name == "early_stopping":
            val = [split(a, VALIDATION[size])[rank] for a in (x_val, y_val)]
            options["validation_data"] = tuple(val)
        if self.name == "weights":
            options["sample_weight"] = shard[2]
        if self.name == "adam":  # two fits: the second continues the Adam state
            first = model.fit(shard[0], shard[1], comm=comm, **{**options, "epochs": 2})
            return [first, model.fit(shard[0], shard[1], comm=comm, resume=True, **options)]
        return [model.fit(shard[0], shard[1], comm=comm, **options)]

    def reference(self, size: int, backend: str = "numpy", device: Any = None) -> tuple[Any, list[Any]]:
        """The single-process model and Histories that the fit on ``size`` processes equals."""
        x, y, w, x_val, y_val = data()
        options = dict(self.options)
        model = self.model(backend, device)
        batch = options.get("batch_size")
        if self.name == "exhausted":
            return model, self._step_by_step(model, [split(a, EXHAUSTED[size]) for a in (x, y)], options)
        shards = [split(a, SHARDS[size]) for a in (x, y, w)]
        if batch is not None:
            options["batch_size"] = batch * size
            x, y, w = (global_batches(s, batch) for s in shards)
        if self.name == "early_stopping":
            options["validation_data"] = (x_val, y_val)
        if self.name == "weights":
            options["sample_weight"] = w
        if self.name == "adam":
            first = model.fit(x, y, **{**options, "epochs": 2})
            return model, [first, model.fit(x, y, resume=True, **options)]
        return model, [model.fit(x, y, **options)]

    @staticmethod
    def _step_by_step(model: mlp_xp.MLP, shards: list[list[np.ndarray]], options: dict) -> list[Any]:
        """One update per global step, each a gradient-descent fit on that step's rows:
        a global batch of varying size once some shards are used up."""
        batch, history = options["batch_size"], mlp_xp.History()
        steps = max(-(-len(s) // batch) for s in shards[0])
        for _ in range(options["epochs"]):
            total = count = 0.0
            for k in range(steps):
                rows = [np.concatenate([s[k * batch : (k + 1) * batch] for s in a]) for a in shards]
                single = {**options, "batch_size": None, "epochs": 1}
                total += model.fit(*rows, resume=model.optimizer is not None, **single).loss[0] * len(rows[0])
                count += len(rows[0])
            history.loss.append(total / count)
        return [history]


SEQUENTIAL = (("batch_size", 4), ("sampling", "sequential"))
CASES = {
    case.name: case
    for case in [
        Case("gd", options=(("batch_size", None), ("epochs", 6), ("lr", 0.2), ("alpha", 0.01))),
        Case(
            "sequential", options=(*SEQUENTIAL, ("optimizer", SGD(momentum=0.9)), ("epochs", 3), ("lr", 0.05))
        ),
        Case("adam", options=(*SEQUENTIAL, ("optimizer", Adam()), ("epochs", 3), ("lr", 0.01))),
        Case("weights", options=(*SEQUENTIAL, ("epochs", 3), ("lr", 0.1), ("alpha", 0.05))),
        Case("exhausted", options=(*SEQUENTIAL, ("optimizer", Adam()), ("epochs", 2), ("lr", 0.01))),
        Case(
            "early_stopping",
            layers=(3, 16, 2),
            options=(
                ("batch_size", None),
                ("epochs", 300),
                ("lr", 0.5),
                ("early_stopping", mlp_xp.EarlyStopping("val_loss", patience=3, restore_best=True)),
            ),
        ),
        Case(
            "line_search",
            options=(
                ("optimizer", "line_search"),
                ("batch_size", None),
                ("epochs", 30),
                ("lr", 2.0),
                ("tol", 1e-3),
            ),
        ),
        Case(
            "lbfgs", options=(("optimizer", "lbfgs"), ("batch_size", None), ("epochs", 15), ("alpha", 1e-3))
        ),
    ]
}
