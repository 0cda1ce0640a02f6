"""Resumable training: ``fit(..., checkpoint=...)`` keeps its progress in a file and resumes from it.

A checkpoint is a model file (see ``persistence``) whose metadata also holds a
``checkpoint`` entry.  The model part holds the parameters, the optimizer and
its state, the update count, the "adaptive" schedule's state and the model's
generator; the entry holds what the fit itself has done (its History, early
stopping's bookkeeping and best parameters, the batch order's generator),
what it started from (the model's update count then, the data's shapes) and
whether it has finished.  ``CheckpointRun`` writes it, crash-safely, every
``every`` epochs and when the fit returns; a ``fit`` of the same model on data
of the same shapes, finding the file, continues from it for the epochs left,
so that a job killed at any moment and restarted with the same command until
it completes ends with the parameters of an uninterrupted run, bit for bit.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import persistence
from ._backend import dtype_name
from ._model_metadata import HISTORY_FLAGS, HISTORY_LISTS
from ._validation import check_int
from .history import BestEpoch, History
from .optimizers import optimizer_config


@dataclass(frozen=True, init=False)
class Checkpoint:
    """Where ``fit`` keeps its progress, and how often it writes it.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file (``.npz`` appended when the name does not end with
        it, as ``MLP.save`` does).
    every : int
        Write it after every ``every`` epochs, and when ``fit`` returns.
    """

    path: Path
    every: int

    def __init__(self, path: str | os.PathLike[str], every: int = 1) -> None:
        object.__setattr__(self, "path", persistence.model_path(path))
        object.__setattr__(self, "every", check_int(every, "every"))


def as_checkpoint(value: Any) -> Checkpoint | None:
    """``fit``'s ``checkpoint=``: None, a path (written after every epoch) or a ``Checkpoint``."""
    if value is None or isinstance(value, Checkpoint):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Checkpoint(value)
    raise TypeError(f"checkpoint must be None, a path or an mlp_xp.Checkpoint, got {value!r}")


@dataclass(frozen=True)
class Saved:
    """A checkpoint file found by ``fit``: its path, content and checkpoint entry."""

    path: Path
    content: persistence.CheckpointFile
    entry: dict[str, Any]


def find_saved(checkpoint: Checkpoint | None, model: Any) -> Saved | None:
    """The file of ``checkpoint``, checked to hold a fit of ``model``; None where there is none."""
    if checkpoint is None or not checkpoint.path.exists():
        return None
    content = persistence.read_checkpoint(checkpoint.path)
    entry = content.entry
    if entry is None:
        raise _other(checkpoint.path, "it is a model file without a checkpoint entry (one that save wrote)")
    held = _architecture(content.snapshot.layer_sizes, content.snapshot.activations, content.snapshot.dtype)
    this = _architecture(
        model.layer_sizes, [phi.name for phi in model.phis], dtype_name(model.xp, model.dtype)
    )
    if held != this:
        raise _other(checkpoint.path, f"it holds a network {held}, and this model is {this}")
    if entry["start"] != model.n_updates:
        raise _other(
            checkpoint.path,
            f"its fit started from a model that had made {entry['start']} updates, "
            f"and this model has made {model.n_updates}",
        )
    return Saved(checkpoint.path, content, entry)


class CheckpointRun:
    """One ``fit`` with a checkpoint: the History and early-stopping bookkeeping it
    continues (from ``saved``, or new), and the end-of-epoch hook that writes the file.

    Made once everything else has been checked: the data's shapes must be those
    of ``saved``, and the optimizer one that a model file holds.  ``rng`` is the
    fit's batch generator, replaced by the file's when there is one.
    """

    def __init__(
        self, checkpoint: Checkpoint, saved: Saved | None, model: Any, data: Any, config: Any, rng: Any
    ) -> None:
        self.checkpoint, self.saved, self.epochs = checkpoint, saved, config.epochs
        self.start, self.data, self.rng = model.n_updates, _shapes(data), rng
        try:
            optimizer_config(config.optimizer)
        except ValueError as exc:
            raise ValueError(f"checkpoint {str(checkpoint.path)!r} cannot be written: {exc}") from exc
        self.history, self.best = History(), BestEpoch(config.early_stopping)
        if saved is not None:
            if saved.entry["data"] != self.data:
                held = _describe(saved.entry["data"])
                raise _other(saved.path, f"its fit trained on {held}, and this one on {_describe(self.data)}")
            self._continue(saved, model)

    @property
    def finished(self) -> bool:
        """Whether the file is that of a fit which returned: nothing is left to train."""
        return self.saved is not None and self.saved.entry["finished"]

    def replay(self, schedule: Any) -> None:
        """Let a schedule of the caller's, which hears each epoch's loss, hear the restored ones."""
        if hasattr(schedule, "end_epoch"):
            for loss in self.history.loss:
                schedule.end_epoch(loss)

    def end_epoch(self, model: Any, history: History, best: BestEpoch, stop: bool) -> None:
        """After each epoch: write the file every ``every`` epochs, unless the fit ends here."""
        n = history.n_epochs
        if n % self.checkpoint.every == 0 and n < self.epochs and not stop:
            self._write(model, best, finished=False)

    def finish(self, model: Any) -> None:
        """When ``fit`` returns: write the file of the finished fit."""
        self._write(model, None, finished=True)

    def _write(self, model: Any, best: BestEpoch | None, finished: bool) -> None:
        bookkeeping, best_params = None, None
        if best is not None and best.rule is not None:
            best_params = best.best_params
            params = best_params is not None
            bookkeeping = {"value": _to_json(best.best), "bad_epochs": best.bad_epochs, "params": params}
        entry = {
            "finished": finished,
            "start": self.start,
            "data": self.data,
            "history": _history_entry(self.history),
            "best": bookkeeping,
        }
        persistence.save_checkpoint(model, self.checkpoint.path, entry, self.rng, best_params)

    def _continue(self, saved: Saved, model: Any) -> None:
        """The History, batch generator and best-epoch bookkeeping of ``saved``, on ``model``'s device."""
        entry, content = saved.entry, saved.content
        self.rng = content.rng
        self.history = _history(entry["history"])
        if entry["best"] is not None:
            self.best.best = float(entry["best"]["value"])
            self.best.bad_epochs = entry["best"]["bad_epochs"]
        if content.best_params is not None and self.best.rule is not None:
            self.best.best_params = [model.xp.asarray(p, device=model.device) for p in content.best_params]


def _history_entry(history: History) -> dict[str, Any]:
    entry: dict[str, Any] = {key: getattr(history, key) for key in (*HISTORY_FLAGS, "best_epoch")}
    for key in HISTORY_LISTS:
        entry[key] = [_to_json(value) for value in getattr(history, key)]
    return entry


def _history(entry: dict[str, Any]) -> History:
    fields: dict[str, Any] = {key: entry[key] for key in (*HISTORY_FLAGS, "best_epoch")}
    for key in HISTORY_LISTS:
        fields[key] = [_from_json(value) for value in entry[key]]
    return History(**fields)


def _to_json(value: Any) -> Any:
    """A float (NaN and ±inf as "nan", "inf", "-inf"), or a list of them, as JSON holds it."""
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value if math.isfinite(value) else repr(float(value))


def _from_json(value: Any) -> Any:
    return [_from_json(v) for v in value] if isinstance(value, list) else float(value)


def _shapes(data: Any) -> dict[str, Any]:
    """The shapes of a fit's data, as a checkpoint holds them."""
    x_val = None if data.x_val is None else list(data.x_val.shape)
    batches = data.batches
    return {"x": list(batches.x.shape), "sample_weight": batches.sample_weight is not None, "x_val": x_val}


def _describe(shapes: dict[str, Any]) -> str:
    text = f"x of shape {tuple(shapes['x'])}"
    if shapes["sample_weight"]:
        text += " with sample weights"
    if shapes["x_val"] is not None:
        text += f" and validation x of shape {tuple(shapes['x_val'])}"
    return text


def _architecture(layer_sizes: list[int], activations: list[Any], dtype: str) -> str:
    names = [getattr(phi, "name", phi) for phi in activations]
    return f"{list(layer_sizes)} with activations {names} in {dtype}"


def _other(path: Path, why: str) -> ValueError:
    return ValueError(
        f"checkpoint {str(path)!r} belongs to another fit: {why}; remove it, or give this fit another path"
    )
