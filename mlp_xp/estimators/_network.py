"""The estimators' network: a new one, or the fitted one continued, and kept if a fit fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._backend import backend_name, dtype_name, get_device, get_namespace
from ..model import MLP
from ._arrays import seed_of


def new_model(estimator: Any, sizes: list[int], activation: str, output: str, float32: bool) -> MLP:
    """A fresh network, seeded by random_state, of dtype float32 for float32 data when dtype=None."""
    return MLP(
        sizes,
        activation,
        output,
        backend=estimator.backend,
        device=estimator.device,
        dtype=estimator.dtype or ("float32" if float32 else "float64"),
        seed=seed_of(estimator.random_state),
    )


def continued_model(estimator: Any, sizes: list[int], activation: str, output_activation: str) -> MLP:
    """The fitted network, which warm_start and partial_fit continue: moved (a copy,
    with its optimizer state) where ``backend`` or ``device`` have changed since."""
    model = estimator.model_
    fitted = [phi.name for phi in model.phis]
    if model.layer_sizes != sizes or fitted != [activation] * (len(sizes) - 2) + [output_activation]:
        raise ValueError(
            f"warm_start and partial_fit continue the fitted network {model.layer_sizes} "
            f"with activations {fitted}, but the data and parameters now ask for {sizes} with "
            f"{activation!r} and {output_activation!r} outputs; set warm_start=False to start anew"
        )
    dtype = dtype_name(model.xp, model.dtype)
    if estimator.dtype not in (None, dtype):
        raise ValueError(
            f"dtype={estimator.dtype!r}, but warm_start and partial_fit continue the fitted network, "
            f"whose parameters are {dtype}; set dtype={dtype!r} (or None), or warm_start=False to start anew"
        )
    xp = get_namespace(estimator.backend)
    if backend_name(xp) != backend_name(model.xp) or get_device(xp, estimator.device) != model.device:
        model = model.to(estimator.backend, estimator.device)
    return model


@contextmanager
def unchanged_on_failure(model: MLP | None) -> Iterator[None]:
    """The model as it was if the block raises. Training replaces the arrays of the
    parameters and optimizer state rather than writing into them, so holding the
    old ones is enough."""
    if model is None:
        yield
        return
    weights, biases, rng = list(model.weights), list(model.biases), model.rng.bit_generator.state
    kept = {name: getattr(model, name) for name in ("optimizer", "optimizer_state", "n_updates", "history")}
    try:
        yield
    except BaseException:
        model.weights[:], model.biases[:] = weights, biases
        model.rng.bit_generator.state = rng
        vars(model).update(kept)
        raise
