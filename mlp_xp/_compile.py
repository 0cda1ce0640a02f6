"""The compiler edge: an epoch's updates as compiled programs (jax.jit, torch.compile).

``training`` hands over the step as data, not as code to rewrite: a hashable,
pure ``gradients(params, batch, diagnose)`` (backpropagation, penalty,
clipping) and the optimizer, whose ``advance`` keeps its numbers on the host
(Adam's t and η_t) and whose ``apply`` does the array work.  This module
traces ``gradients`` then ``apply`` once per fit configuration (the network,
cost, penalty, clipping, optimizer; the shapes are the compiler's own key) and
runs an epoch with it:

- ``"jax"``: ``jax.jit`` with the parameters and the optimizer's arrays
  donated; the epoch's batches but the last as one ``lax.scan`` over their row
  indices (one dispatch per epoch), the last batch (whose gradient norms go to
  the History, and which may be shorter) as one compiled step.
- ``"torch"``: ``torch.compile`` of the step, one call per batch.

The learning rates and the optimizer's numbers are computed on the host before
the epoch runs, exactly as the eager loop computes them, and the arrays are
gathered, updated and summed on the device: nothing is read back, and the
results equal the eager loop's to the rounding of fused operations.
Optimizers that read host values during a step (the line searches, L-BFGS) or
that have no ``apply`` run eagerly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

import array_api_compat
import numpy as np

from ._backend import backend_name
from .optimizers import InPlaceStep, updates_in_place

COMPILERS = {"jax": "jax.jit", "torch": "torch.compile"}  # backend name: its compiler


class Gradients(Hashable, Protocol):
    """What ``compiled_epoch`` traces (``training.BatchGradients``): a hashable, pure
    ``(params, batch, diagnose) -> (total, weight, grads, norms)`` of the namespace
    ``xp``, which sums in the dtype ``wide``."""

    @property
    def xp(self) -> Any: ...

    @property
    def wide(self) -> Any: ...

    def __call__(
        self, params: list[Any], batch: tuple[Any, Any, Any], diagnose: bool
    ) -> tuple[Any, Any, list[Any], list[Any]]: ...


def choose_compiler(choice: Any, xp: Any, optimizer: Any, eager: str | None = None) -> str | None:
    """The compiler of ``fit(compile=choice)`` for backend ``xp`` and ``optimizer``: a key of
    ``COMPILERS``, or None for the eager loop.

    ``None`` (the default) compiles where that is measured faster: JAX, whose eager
    calls each cost tens of microseconds, and an optimizer that ``can_compile``.
    ``True`` asks for the backend's compiler (``jax.jit``, ``torch.compile``),
    ``False`` for the eager loop.  ``eager`` names what makes the fit run eagerly
    whatever the choice (a communicator, host data read a batch at a time), or is
    None.  ``ValueError`` for ``True`` where there is no compiler, the optimizer
    reads host values during its step, or ``eager`` says why not.
    """
    if choice is not None and not isinstance(choice, bool):
        raise TypeError(f"compile must be None, True or False, got {choice!r}")
    if choice is True and eager is not None:
        raise ValueError(f"compile=True: a fit with {eager} runs eagerly; pass compile=None or False")
    if eager is not None:
        return None
    backend = backend_name(xp)
    if choice is True and backend not in COMPILERS:
        raise ValueError(f"compile=True needs a backend with a compiler (jax, torch), got {xp.__name__}")
    if choice is True and not can_compile(optimizer):
        raise ValueError(
            f"compile=True: {optimizer!r} runs eagerly (it reads host values during its step, or has no "
            "apply); pass compile=None or False"
        )
    if choice is False or not can_compile(optimizer) or (choice is None and backend != "jax"):
        return None
    return backend


def can_compile(optimizer: Any) -> bool:
    """Whether ``optimizer``'s step is ``advance`` on the host then ``apply`` on arrays."""
    return updates_in_place(optimizer) and getattr(type(optimizer), "update", None) is InPlaceStep.update


def compiled_epoch(
    compiler: str,
    gradients: Gradients,
    optimizer: Any,
    params: list[Any],
    state: Any,
    data: tuple[Any, Any, Any],
    batches: Sequence[Any],
    lrs: Sequence[float],
) -> tuple[list[Any], Any, tuple[Any, Any, list[Any]]]:
    """One epoch of updates on ``batches``: host row indices (NumPy), slices, or None for all rows.

    Returns the parameters, the optimizer state and the epoch's sums of costs and
    weights with the norms ‖∇Ωʲ‖ of its last batch, as the eager loop does;
    ``params`` and the arrays of ``state`` are the caller's to overwrite (donated).
    The row indices of all batches but the last go to the device in one transfer.
    """
    xp, arrays = gradients.xp, _arrays_of(state)
    lrs = [optimizer.advance(state, lr) for lr in lrs]  # Adam's t and η_t, on the host
    dtype, device = params[0].dtype, array_api_compat.device(params[0])
    step, loop = _programs(compiler, gradients, optimizer)
    loss_sum = weight_sum = xp.zeros((), dtype=gradients.wide, device=device)
    if len(batches) > 1:
        rows = xp.asarray(np.stack([_indices(r) for r in batches[:-1]]), device=device)
        steps = xp.asarray(lrs[:-1], dtype=dtype, device=device)
        if loop is None:
            for r, lr in zip(xp.unstack(rows), xp.unstack(steps)):
                params, arrays, total, weight, _ = step(params, arrays, data, r, lr, False)
                loss_sum, weight_sum = loss_sum + total, weight_sum + weight
        else:
            params, arrays, loss_sum, weight_sum = loop(params, arrays, data, rows, steps)
    last = None if batches[-1] is None else xp.asarray(_indices(batches[-1]), device=device)
    lr = xp.asarray(lrs[-1], dtype=dtype, device=device)
    params, arrays, total, weight, norms = step(params, arrays, data, last, lr, True)
    return list(params), _merged(state, arrays), (loss_sum + total, weight_sum + weight, norms)


def _arrays_of(state: Any) -> Any:
    """The arrays of an optimizer state (its lists), which ``apply`` updates; None for None."""
    return None if state is None else {key: value for key, value in state.items() if isinstance(value, list)}


def _merged(state: Any, arrays: Any) -> Any:
    """``state`` (its numbers as ``advance`` left them) with the lists of ``arrays``, in its order."""
    return None if state is None else {key: arrays.get(key, value) for key, value in state.items()}


def _indices(rows: Any) -> np.ndarray:
    """A batch's rows as a host index array: a slice becomes its range."""
    return np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows


def _step(
    gradients: Gradients,
    optimizer: Any,
    params: Any,
    arrays: Any,
    data: Any,
    rows: Any,
    lr: Any,
    diagnose: bool,
) -> Any:
    """The traced step: the batch gathered from ``data``, its gradients, the optimizer's ``apply``."""
    xp = gradients.xp
    x, y, w = data if rows is None else (None if a is None else xp.take(a, rows, axis=0) for a in data)
    total, weight, grads, norms = gradients(list(params), (x, y, w), diagnose)
    params, arrays = optimizer.apply(list(params), grads, arrays, lr)
    return params, arrays, total, weight, norms


@functools.lru_cache(maxsize=16)
def _programs(compiler: str, gradients: Gradients, optimizer: Hashable) -> tuple[Callable[..., Any], Any]:
    """The compiled step ``(params, arrays, data, rows, lr, diagnose) -> (params, arrays, total,
    weight, norms)`` and, where the compiler has one, the compiled loop over an epoch's
    batches ``(params, arrays, data, rows (n, B), lrs (n,)) -> (params, arrays, Σ total, Σ weight)``."""
    update = functools.partial(_step, gradients, optimizer)
    if compiler == "torch":
        import torch

        return torch.compile(update, dynamic=False), None
    import jax

    def loop(params: Any, arrays: Any, data: Any, rows: Any, lrs: Any) -> Any:
        def body(carry: Any, xs: Any) -> Any:
            params, arrays, loss_sum, weight_sum = carry
            rows, lr = xs
            params, arrays, total, weight, _ = update(params, arrays, data, rows, lr, False)
            return (params, arrays, loss_sum + total, weight_sum + weight), None

        zero = jax.numpy.zeros((), dtype=gradients.wide)
        return jax.lax.scan(body, (params, arrays, zero, zero), (rows, lrs))[0]

    return jax.jit(update, static_argnums=5, donate_argnums=(0, 1)), jax.jit(loop, donate_argnums=(0, 1))
