"""The figures: one colour per class, the same in the shading and on the points, for any
number of classes; seed 004's surface is that of the loss the neuron was trained with."""

from pathlib import Path

import numpy as np
import pytest
from test_cli import run

import mlp_xp
from mlp_xp import datasets, plots

to_rgb = pytest.importorskip("matplotlib.colors").to_rgb


@pytest.fixture
def figures(monkeypatch):
    """The figures the plots draw, kept instead of written."""
    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or Path(path))
    return drawn


@pytest.mark.parametrize("n_classes", [3, 12, 25])
def test_every_class_has_its_own_colour_in_the_shading_and_on_its_points(figures, rng, n_classes):
    centres = np.stack([np.cos(np.arange(n_classes)), np.sin(np.arange(n_classes))], axis=1) * 5
    labels = np.arange(n_classes).repeat(3)
    x = centres[labels] + rng.normal(scale=0.1, size=(len(labels), 2))

    def nearest(points):
        return np.argmin(((points[:, None, :] - centres) ** 2).sum(axis=2), axis=1)

    plots.decision_boundary(nearest, x, labels, "regions.png", names=[f"c{k}" for k in range(n_classes)])
    ax = figures[0].axes[0]
    shading, *points = ax.collections
    band_colours = [to_rgb(c) for c in shading.get_facecolor()]
    point_colours = [to_rgb(p.get_facecolor()[0]) for p in points]
    assert len(set(point_colours)) == n_classes
    assert band_colours == point_colours
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"class c{k}" for k in range(n_classes)]


@pytest.mark.parametrize(("loss", "scale"), [("mse", 8.0), ("binary_cross_entropy", 4.0), ("l1", 4.0)])
def test_seed004_cost_is_that_of_the_loss_trained(loss, scale):
    # Σᵢ Cᵢ = 4 𝓔 on the four points; the seed's E for mse has no ½: 8 𝓔.
    x, y = datasets.seed004_points()
    model = mlp_xp.MLP([2, 1], output_activation="sigmoid", dtype="float64")
    model.weights[0] = np.array([[0.7], [-0.3]])
    np.testing.assert_allclose(
        plots.seed004_cost(np.array([0.7, -0.3]), loss), scale * model.gradients(x, y, loss)[0]
    )


def test_seed004_plot_draws_the_surface_of_the_loss_trained(capsys, monkeypatch, tmp_path):
    drawn = []
    monkeypatch.setattr(plots, "seed004_surface", lambda w, path, *args: drawn.append(args) or Path(path))
    argv = ["--loss", "binary_cross_entropy", "--epochs", "2", "--plot", str(tmp_path)]
    status, _, _ = run(capsys, "train", "--data", "seed004", *argv)
    assert status == 0 and drawn == [("binary_cross_entropy", "sigmoid")]
