"""The estimators' "lbfgs" solver: scikit-learn's ``_fit_lbfgs`` on ``MLP.fit`` with ``LBFGS``.

scikit-learn hands the penalised loss of the whole training set to SciPy's
L-BFGS-B with ``maxiter=max_iter``, ``maxfun=max_fun`` and ``gtol=tol``: at
most ``max_iter`` iterations; after an iteration that brought the loss
evaluations beyond ``max_fun``, a stop; convergence once ‖∇‖∞ ≤ tol or the
loss decreases by less than ftol = 2.2e-9 relatively (SciPy's default).  Here
the same runs as ``MLP.fit`` with ``LBFGS(gtol=tol)`` and ``batch_size=None``,
one iteration per epoch; each fit starts a fresh L-BFGS memory, as each call of
SciPy does, from the network where it is (a warm start continues the network).
``early_stopping``, ``n_iter_no_change``, ``batch_size``, ``shuffle`` and the
learning-rate parameters play no part, as in scikit-learn.
"""

from __future__ import annotations

from typing import Any

from ..history import History
from ..lbfgs import LBFGS
from ..model import MLP
from ._training import fit_noting_divergence


def train_lbfgs(estimator: Any, model: MLP, loss: str, train: tuple, *, comm: Any) -> tuple[History, bool]:
    """``model.fit`` by L-BFGS on the training set ``(X, targets, weights)`` (this
    process's rows, with ``comm``): its History, and whether it diverged (a non-finite
    loss at the start: L-BFGS's line search accepts no step to a non-finite loss)."""
    verbose = estimator.verbose and comm.rank == 0
    progress = Progress(estimator.max_fun, estimator._loss_scale(model.layer_sizes[-1]), verbose)
    return fit_noting_divergence(
        model,
        *train[:2],
        loss=loss,
        optimizer=LBFGS(gtol=estimator.tol),
        batch_size=None,
        epochs=estimator.max_iter,
        alpha=estimator.alpha,
        sample_weight=train[2],
        callbacks=(progress,),
        comm=comm,
        checkpoint=estimator.checkpoint,
    )


class Progress:
    """After each iteration: with ``verbose``, scikit-learn's line "Iteration N, loss = …"
    (the loss at the new parameters, as ``loss_``); then stop once the loss has been
    evaluated more than ``max_fun`` times (SciPy's test, after the iteration)."""

    def __init__(self, max_fun: int, scale: float, verbose: Any) -> None:
        self.max_fun, self.scale, self.verbose, self.printed = max_fun, scale, verbose, 0

    def __call__(self, model: MLP, history: History) -> bool:
        state = model.optimizer_state
        if self.verbose and state["n_iterations"] > self.printed:
            self.printed = state["n_iterations"]
            print(f"Iteration {self.printed}, loss = {state['value'] / self.scale:.8f}")
        return state["n_evaluations"] > self.max_fun
