"""PNG figures of a training run, drawn on the host with matplotlib's Agg canvas (no window).

matplotlib is an optional extra: ``pip install "mlp_xp[plot]"``.  Each
function writes one file and returns its path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._backend import get_namespace, quiet_overflow
from .activations import get_activation
from .costs import get_cost
from .datasets import seed004_points

INSTALL_HINT = 'plotting needs matplotlib: pip install "mlp_xp[plot]"'


def require_matplotlib() -> None:
    """Raise ``ImportError`` with the install command when matplotlib is missing."""
    _figure()


def _figure(**kwargs: Any) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return Figure(figsize=(6.4, 4.8), layout="constrained", **kwargs)


def loss_curves(
    history: Any, path: str | Path, title: str = "Loss per epoch", val_label: str = "validation loss"
) -> Path:
    """``History.loss`` (and ``val_loss``, labelled ``val_label``, when recorded)
    per epoch; log-scale y when the values span more than two decades."""
    fig = _figure()
    ax = fig.subplots()
    epochs = np.arange(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, label="training loss")
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label=val_label)
    values = np.asarray([*history.loss, *history.val_loss])
    positive = values[values > 0]
    if positive.size and positive.max() > 100.0 * positive.min():
        ax.set_yscale("log")
    ax.set(title=title, xlabel="epoch", ylabel="mean cost per sample")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def decision_boundary(
    classify: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    title: str = "Decision regions",
    names: Sequence[Any] | None = None,
) -> Path:
    """The classes ``classify`` predicts over the plane, with the points ``x`` (N, 2)
    coloured by their class indices ``labels`` (N,) on top; ``names[k]`` labels class k.

    Class k has the same colour (``class_colours``) in the shading and on its
    points, whatever the number of classes.
    """
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-3) + 0.25
    g1, g2 = np.meshgrid(*(np.linspace(lo, hi, 300) for lo, hi in zip(low - margin, high + margin)))
    regions = classify(np.stack([g1.ravel(), g2.ravel()], axis=1)).reshape(g1.shape)
    n_classes = max(int(max(labels.max(), regions.max())) + 1, len(names or ()))
    colours = class_colours(n_classes)
    fig = _figure()
    ax = fig.subplots()
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(g1, g2, regions, levels=levels, colors=colours, alpha=0.25)
    for label in np.unique(labels):
        points = x[labels == label]
        name = names[label] if names is not None else label
        ax.scatter(*points.T, color=colours[label], edgecolors="black", linewidths=0.5, label=f"class {name}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(title="training data (shaded: predicted class)", fontsize="small")
    return _save(fig, path)


def class_colours(n_classes: int) -> np.ndarray:
    """``n_classes`` distinct RGBA colours, shape (n_classes, 4): matplotlib's tab10 up
    to 10 classes, tab20 up to 20, else hues spread evenly over the "turbo" map."""
    try:
        from matplotlib import colormaps
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    for name, size in (("tab10", 10), ("tab20", 20)):
        if n_classes <= size:
            return colormaps[name](np.arange(n_classes))
    return colormaps["turbo"](np.linspace(0.0, 1.0, n_classes))


def seed004_surface(
    weights: Sequence[np.ndarray] | np.ndarray,
    path: str | Path,
    loss: str = "mse",
    activation: str = "sigmoid",
) -> Path:
    """The cost surface E(w₁₁, w₁₂) of seed 004's neuron (``seed004_cost``) as contours,
    with the path of ``weights`` (K, 2): the neuron's weights before training and
    after each epoch.  ``loss`` and ``activation``: those the neuron was trained with."""
    path_w = np.asarray(weights, dtype=float).reshape(-1, 2)
    low = np.minimum(path_w.min(axis=0), -1.0) - 1.0
    high = np.maximum(path_w.max(axis=0), 1.0) + 1.0
    w1, w2 = np.meshgrid(np.linspace(low[0], high[0], 241), np.linspace(low[1], high[1], 241))
    surface = seed004_cost(np.stack([w1, w2], axis=-1), loss, activation)
    start, end = (float(seed004_cost(w, loss, activation)) for w in (path_w[0], path_w[-1]))
    fig = _figure()
    ax = fig.subplots()
    contours = ax.contourf(w1, w2, surface, levels=20, cmap="viridis")
    fig.colorbar(contours, ax=ax, label="$E(w_{11}, w_{12})$")
    ax.plot(*path_w.T, color="white", marker=".", markersize=3, linewidth=1, label="weights after each epoch")
    ax.plot(*path_w[0], "o", color="red", markersize=7, label=f"start E = {start:.3g}")
    ax.plot(*path_w[-1], "*", color="orange", markersize=12, label=f"end E = {end:.3g}")
    if (loss, activation) == ("mse", "sigmoid"):
        formula = r"$E = \sum_i\,(y^i - \sigma(w_{11}x_1^i + w_{12}x_2^i))^2$"
    else:
        formula = rf"$E = \sum_i\,C(y^i, \Phi(w_{{11}}x_1^i + w_{{12}}x_2^i))$, C {loss}, Φ {activation}"
    ax.set(
        title=f"Seed 004: {formula}, no bias",
        xlabel=r"$w_{11}$ (weight of $x_1$)",
        ylabel=r"$w_{12}$ (weight of $x_2$)",
    )
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def seed004_cost(w: np.ndarray, loss: str = "mse", activation: str = "sigmoid") -> np.ndarray:
    """E(w) = Σᵢ C(yⁱ, Φ(w · xⁱ)) on seed 004's four points, for ``w`` of shape (..., 2).

    C is the cost ``loss`` (its fused form from the logits where ``activation``
    is the one it pairs with), the labels as that cost reads them (±1 for
    logistic and hinge).  For mse, C = (y − ŷ)² without mse's ½: seed 004's
    E = Σᵢ (yⁱ − σ(w · xⁱ))², eight times the mean mse cost of ``fit``.
    """
    x, y = seed004_points()
    cost, phi, xp = get_cost(loss), get_activation(activation), get_namespace("numpy")
    z = np.asarray(w, dtype=float) @ x.T
    targets = np.broadcast_to(2.0 * y - 1.0 if cost.targets == "sign" else y, z.shape).reshape(-1, 1)
    logits = z.reshape(-1, 1)
    with quiet_overflow():
        if cost.fused is not None and cost.output_activation == phi.name:
            costs = cost.fused(xp, targets, logits)[0]
        else:
            costs = cost.value(xp, targets, phi.value(xp, logits))
    return (2.0 if loss == "mse" else 1.0) * np.sum(np.reshape(costs, z.shape), axis=-1)


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
