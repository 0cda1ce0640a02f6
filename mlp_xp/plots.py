"""PNG figures of a training run, drawn on the host with matplotlib's Agg canvas (no window).

matplotlib is an optional extra: ``pip install "mlp_xp[plot]"``.  Each
function writes one file and returns its path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
) -> Path:
    """The classes ``classify`` predicts over the plane, with the points ``x`` (N, 2)
    coloured by their ``labels`` (N,) on top."""
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-3) + 0.25
    g1, g2 = np.meshgrid(*(np.linspace(lo, hi, 300) for lo, hi in zip(low - margin, high + margin)))
    regions = classify(np.stack([g1.ravel(), g2.ravel()], axis=1)).reshape(g1.shape)
    n_classes = int(max(labels.max(), regions.max())) + 1
    fig = _figure()
    ax = fig.subplots()
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(g1, g2, regions, levels=levels, cmap="tab10", vmin=0, vmax=9, alpha=0.25)
    for label in np.unique(labels):
        points = x[labels == label]
        ax.scatter(*points.T, color=f"C{label}", edgecolors="black", linewidths=0.5, label=f"class {label}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(title="training data (shaded: predicted class)", fontsize="small")
    return _save(fig, path)


def seed004_surface(weights: Sequence[np.ndarray] | np.ndarray, path: str | Path) -> Path:
    """Seed 004's cost surface E(w₁₁, w₁₂) = Σᵢ (yⁱ − σ(w₁₁x₁ⁱ + w₁₂x₂ⁱ))² as contours,
    with the path of ``weights`` (K, 2): the neuron's weights before training and
    after each epoch."""
    path_w = np.asarray(weights, dtype=float).reshape(-1, 2)
    low = np.minimum(path_w.min(axis=0), -1.0) - 1.0
    high = np.maximum(path_w.max(axis=0), 1.0) + 1.0
    w1, w2 = np.meshgrid(np.linspace(low[0], high[0], 241), np.linspace(low[1], high[1], 241))
    fig = _figure()
    ax = fig.subplots()
    contours = ax.contourf(w1, w2, seed004_cost(np.stack([w1, w2], axis=-1)), levels=20, cmap="viridis")
    fig.colorbar(contours, ax=ax, label="$E(w_{11}, w_{12})$")
    ax.plot(*path_w.T, color="white", marker=".", markersize=3, linewidth=1, label="weights after each epoch")
    ax.plot(*path_w[0], "o", color="red", markersize=7, label=f"start E = {seed004_cost(path_w[0]):.3g}")
    ax.plot(*path_w[-1], "*", color="orange", markersize=12, label=f"end E = {seed004_cost(path_w[-1]):.3g}")
    ax.set(
        title=r"Seed 004: $E = \sum_i\,(y^i - \sigma(w_{11}x_1^i + w_{12}x_2^i))^2$, no bias",
        xlabel=r"$w_{11}$ (weight of $x_1$)",
        ylabel=r"$w_{12}$ (weight of $x_2$)",
    )
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def seed004_cost(w: np.ndarray) -> np.ndarray:
    """E(w) = Σᵢ (yⁱ − σ(w · xⁱ))² on seed 004's four points, for ``w`` of shape (..., 2)."""
    x, y = seed004_points()
    z = np.asarray(w, dtype=float) @ x.T
    return np.sum((y - 0.5 * (1.0 + np.tanh(0.5 * z))) ** 2, axis=-1)


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
