"""What ``train`` writes: the model file (``--save``), the checkpoint (``--checkpoint``) and
the figures (``--plot``).

All are checked before training, by creating (and removing) an unnamed file
where they will go, so that a training run never ends on a file it cannot
write.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .. import datasets, plots
from ..model import MLP
from .predictions import class_indices


def check_outputs(save: str | None, plot: str | None, checkpoint: str | None = None) -> None:
    """Refuse an unusable ``--save`` or ``--checkpoint`` file or ``--plot`` folder, before training."""
    for option, name in (("--save", save), ("--checkpoint", checkpoint)):
        if name:
            _check_file(option, name)
    if plot:
        plots.require_matplotlib()
        try:
            Path(plot).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"--plot {plot}: cannot create the folder ({exc.strerror or exc})") from exc
        _check_writable(Path(plot), f"--plot {plot}")


def _check_file(option: str, name: str) -> None:
    """A file that can be written: not a folder, in a folder that exists and can be written."""
    path = Path(name)
    if path.is_dir():
        raise ValueError(f"{option} {name} is a folder: name the model file, e.g. {path / 'model.npz'}")
    if not path.resolve().parent.is_dir():
        raise ValueError(f"{option} {name}: the folder {path.parent} does not exist")
    _check_writable(path.resolve().parent, f"{option} {name}")


def _check_writable(folder: Path, option: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(f"{option}: cannot write in the folder {folder} ({exc.strerror or exc})") from exc


def write_figures(
    folder: str, title: str, loss: str, model: MLP, history: Any, x: Any, y: Any, weights_path: list | None
) -> list[Path]:
    """loss.png; decision_boundary.png for classes of two input features;
    loss_surface.png for seed 004's neuron (``weights_path``: its weights after each epoch)."""
    folder_path = Path(folder)
    written = [plots.loss_curves(history, folder_path / "loss.png", f"{title}, loss {loss}", "test loss")]
    if model.classes is not None and x.shape[1] == 2:
        labels = datasets.label_indices(y, model.classes)
        path = folder_path / "decision_boundary.png"
        classify = lambda points: class_indices(model, points)  # noqa: E731
        names = model.classes
        written.append(
            plots.decision_boundary(classify, x, labels, path, f"{title}, predicted classes", names)
        )
    if weights_path is not None:
        path = folder_path / "loss_surface.png"
        written.append(plots.seed004_surface(weights_path, path, loss, model.phis[-1].name))
    return written
