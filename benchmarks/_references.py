"""The reference implementations: PyTorch eager, PyTorch as one CUDA graph, scikit-learn."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from _problem import Problem, host


class Torch:
    """PyTorch eager with autograd, written as a PyTorch user would."""

    library = "torch"

    def __init__(self, p: Problem) -> None:
        import torch

        self.p, self.torch = p, torch
        layers: list[Any] = []
        for W, b in zip(p.weights, p.biases):
            linear = torch.nn.Linear(*W.shape, dtype=getattr(torch, p.dtype), device=p.device)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W.T.copy()))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, torch.nn.ReLU()]
        self.net = torch.nn.Sequential(*layers[:-1])
        self.sgd = torch.optim.SGD(self.net.parameters(), lr=p.lr)
        self.x, self.labels = p.on("torch")

    def step(self, rows: Any) -> Any:
        self.sgd.zero_grad(set_to_none=True)
        x, y = self.x.index_select(0, rows), self.labels.index_select(0, rows)
        loss = self.torch.nn.functional.cross_entropy(self.net(x), y)
        loss.backward()
        self.sgd.step()
        return loss.detach()

    def epoch(self, r: int) -> Any:
        p = self.p
        order = self.torch.as_tensor(p.order(r), device=p.device)
        total = self.torch.zeros((), dtype=self.x.dtype, device=p.device)
        for start in range(0, p.n, p.batch):
            total += self.step(order[start : start + p.batch])
        return total / p.steps

    def train(self, batches: list[np.ndarray]) -> list[float]:
        return [float(self.step(self.torch.as_tensor(rows, device=self.p.device))) for rows in batches]

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        linears = [m for m in self.net if isinstance(m, self.torch.nn.Linear)]
        return [host(m.weight.detach().T) for m in linears], [host(m.bias.detach()) for m in linears]


class TorchGraph(Torch):
    """The whole torch step (gather, forward, loss, backward, SGD update, loss sum) as one CUDA graph.

    PyTorch's whole-network capture recipe: three warm-up steps on a side
    stream, then one step captured (it sets the gradients to None first, so
    backward allocates them from the graph's pool).  The graph's buffers are static: the
    B row indices it gathers (``rows``), the parameters and their gradients,
    and the running loss sum (``total``).  The warm-up's updates are undone,
    so the graph starts from the shared initial weights.  Each step copies B
    indices into ``rows`` and replays the graph.  Not yet run on a GPU.
    """

    def __init__(self, p: Problem) -> None:
        super().__init__(p)
        torch = self.torch
        self.rows = torch.as_tensor(p.order(0)[: p.batch], device=p.device)
        self.total = torch.zeros((), dtype=self.x.dtype, device=p.device)
        initial = [q.detach().clone() for q in self.net.parameters()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.captured_step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.captured_step()
        with torch.no_grad():
            for q, q0 in zip(self.net.parameters(), initial):
                q.copy_(q0)

    def captured_step(self) -> None:
        """One step on the batch that ``rows`` names, its loss added to ``total``: what the graph holds."""
        self.total += self.step(self.rows)

    def _replay(self, rows: Any) -> None:
        self.rows.copy_(rows)
        self.graph.replay()

    def epoch(self, r: int) -> Any:
        p = self.p
        order = self.torch.as_tensor(p.order(r), device=p.device)
        self.total.zero_()
        for start in range(0, p.n, p.batch):
            self._replay(order[start : start + p.batch])
        return self.total / p.steps

    def train(self, batches: list[np.ndarray]) -> list[float]:
        losses = []
        for rows in batches:
            self.total.zero_()
            self._replay(self.torch.as_tensor(rows, device=self.p.device))
            losses.append(float(self.total))
        return losses


class Sklearn:
    """scikit-learn's MLPClassifier, SGD without momentum or penalty, from the same weights (CPU).

    One warm-started ``fit`` with ``max_iter=1`` per epoch: it validates and
    label-binarises the data at every call, as mlp_xp's ``fit`` does, and
    shuffles with its own generator (the same order as the others is impossible).
    """

    library = "numpy"

    def __init__(self, p: Problem) -> None:
        from sklearn.neural_network import MLPClassifier

        self.p = p
        self.clf = MLPClassifier(
            hidden_layer_sizes=p.sizes[1:-1], activation="relu", solver="sgd", alpha=0.0,
            batch_size=p.batch, learning_rate="constant", learning_rate_init=p.lr, momentum=0.0,
            nesterovs_momentum=False, max_iter=1, shuffle=True, random_state=p.seed, tol=0.0,
            n_iter_no_change=2**31 - 1,
        )  # fmt: skip
        # one partial_fit creates the network; its weights are then replaced by the shared ones
        self.clf.partial_fit(p.x[: p.batch], p.labels[: p.batch], classes=np.arange(p.sizes[-1]))
        self.clf.coefs_ = [w.copy() for w in p.weights]
        self.clf.intercepts_ = [b.copy() for b in p.biases]
        self.clf.set_params(warm_start=True)  # fit continues from them

    def epoch(self, r: int) -> float:
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(self.p.x, self.p.labels)
        return self.clf.loss_curve_[-1]

    def train(self, batches: list[np.ndarray]) -> list[float]:
        # warm_start would demand every class in every batch; partial_fit keeps the weights anyway
        self.clf.set_params(shuffle=False, warm_start=False)
        losses = []
        for rows in batches:
            self.clf.partial_fit(self.p.x[rows], self.p.labels[rows])
            losses.append(self.clf.loss_curve_[-1])
        self.clf.set_params(shuffle=True, warm_start=True)
        return losses

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [host(w) for w in self.clf.coefs_], [host(b) for b in self.clf.intercepts_]
