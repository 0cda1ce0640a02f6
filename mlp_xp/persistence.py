"""A model on the host, and in its file: what ``save`` writes, ``load`` reads and ``to`` carries.

``snapshot`` takes a host copy of a model (parameters, optimizer and its state,
update count, generator, the "adaptive" schedule's state); ``save`` writes one
to a file through ``_model_file`` and ``read`` reads one back;
``save_checkpoint`` and ``read_checkpoint`` do the same with a fit's
``checkpoint`` entry, its batch generator and early stopping's best parameters;
``model.restore`` builds an MLP from one on any backend.  Parameters go device
→ host → file → host → device unchanged, bit for bit.  This module knows a
model by its attributes only: it sits below ``model``, and ``io.load`` above
both.  It is an edge, like ``_backend``: it holds host NumPy copies.
"""

from __future__ import annotations

import copy
import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from . import _model_file as model_file
from ._backend import dtype_name, to_numpy
from ._model_metadata import FORMAT, FORMAT_VERSION, generator
from ._version import __version__
from .optimizers import optimizer_config, optimizer_from_config

SUFFIX = ".npz"
_WAY_OUT = "save(..., include_optimizer=False) leaves it out"
_STATE_HELD = (
    "cannot be stored: a model file holds string keys to lists of arrays (one per parameter) and numbers"
)


@dataclass(frozen=True)
class Snapshot:
    """A model on the host: what a file holds, and what ``to`` carries across backends.

    ``activations`` are Activation objects (from a model) or registered names
    (from a file); ``params`` are host copies of ``weights + biases``; ``state``
    is the optimizer state with host copies of its arrays (any tree of dicts,
    lists and tuples in memory; in a file, a dict of lists of arrays and numbers);
    ``rng`` is an independent copy of the host generator; ``schedule_state`` the
    "adaptive" schedule's state (None for the other schedules); ``task`` and
    ``classes`` what the outputs mean (None: not said).
    """

    layer_sizes: list[int]
    activations: list[Any]
    dtype: str
    init: Any
    params: list[np.ndarray]
    optimizer: Any
    state: Any
    n_updates: int
    rng: np.random.Generator
    schedule_state: dict[str, Any] | None
    task: str | None
    classes: list[Any] | None


@dataclass(frozen=True)
class CheckpointFile:
    """What a model file written by ``save_checkpoint`` holds: the model, the JSON ``entry``
    (``_model_metadata`` describes it), the fit's batch generator and early stopping's best
    parameters (host arrays, None when the entry's ``best`` has no ``params``); ``entry`` is
    None for a file without a checkpoint."""

    snapshot: Snapshot
    entry: dict[str, Any] | None
    rng: np.random.Generator | None
    best_params: list[np.ndarray] | None


def snapshot(model: Any, include_optimizer: bool = True) -> Snapshot:
    """A host copy of ``model``; with its optimizer and state unless ``include_optimizer`` is False."""
    optimizer = model.optimizer if include_optimizer else None
    return Snapshot(
        layer_sizes=list(model.layer_sizes),
        activations=list(model.phis),
        dtype=dtype_name(model.xp, model.dtype),
        init=model.init,
        params=[_host(p) for p in (*model.weights, *model.biases)],
        optimizer=optimizer,
        state=None if optimizer is None else _host_tree(model.optimizer_state),
        n_updates=model.n_updates,
        rng=copy.deepcopy(model.rng),
        schedule_state=None if model.schedule_state is None else dict(model.schedule_state),
        task=model.task,
        classes=None if model.classes is None else list(model.classes),
    )


def on_device(s: Snapshot, xp: Any, device: Any) -> tuple[list[Any], Any]:
    """The snapshot's parameters and optimizer state with their arrays moved to ``xp``/``device``."""
    return [xp.asarray(p, device=device) for p in s.params], _tree_on_device(s.state, xp, device)


def save(
    model: Any,
    path: str | os.PathLike[str],
    *,
    include_optimizer: bool = True,
    estimator: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to one ``.npz`` file, crash-safely; return the path written.

    Parameters
    ----------
    model : MLP
    path : str or path-like
        ``.npz`` (in any case) is appended when the name does not end with it,
        as ``numpy.savez`` does; a symbolic link is followed.
    include_optimizer : bool
        Also store the optimizer (its config) and its state; ``n_updates``, the
        "adaptive" schedule's state and the host generator are always stored.
    estimator : dict or None
        The JSON entry of a scikit-learn-style estimator whose network is
        ``model`` (written by ``MLPClassifier.save`` and ``MLPRegressor.save``):
        ``load`` then returns that estimator.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ``path`` is a folder, or the model could not be loaded back from
        the file (non-finite parameters, an activation not registered under its
        name, an optimizer or state a file cannot hold, ...): nothing is
        written then.
    """
    target = model_path(path)
    if not isinstance(include_optimizer, bool):
        raise TypeError(f"include_optimizer must be True or False, got {include_optimizer!r}")
    entries = {} if estimator is None else {"estimator": estimator}
    return _write(model, target, include_optimizer, entries, {})


def save_checkpoint(
    model: Any, path: Path, entry: dict[str, Any], rng: np.random.Generator, best_params: list[Any] | None
) -> Path:
    """Write ``model`` with its optimizer, a fit's checkpoint ``entry`` (completed by the
    state of ``rng``, the fit's batch generator) and early stopping's ``best_params``
    (device arrays, or None), crash-safely; return the path written."""
    entry = {**entry, "rng_state": _generator_state(rng)}
    arrays = {}
    if best_params is not None:
        arrays = dict(zip(model_file.best_names(len(best_params)), map(_host, best_params)))
    return _write(model, path, True, {"checkpoint": entry}, arrays)


def _write(
    model: Any, target: Path, include_optimizer: bool, entries: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Path:
    """Write ``model`` with more metadata ``entries`` and member ``arrays`` to ``target``."""
    try:
        metadata, model_arrays = _to_file(snapshot(model, include_optimizer))
    except ValueError as exc:
        raise model_file.save_error(target, exc) from exc
    model_file.write(target, {**metadata, **entries}, {**model_arrays, **arrays})
    return target


def read(path: str | os.PathLike[str]) -> tuple[Snapshot, dict[str, Any]]:
    """The snapshot in the model file ``path``, and the file's metadata (for its ``estimator``).

    Raises ``ValueError`` naming the file for any damaged or foreign file, and
    ``OSError`` when it cannot be opened.
    """
    path = Path(_fspath(path))
    metadata, arrays = model_file.read(path)
    return _from_file(metadata, arrays), metadata


def read_checkpoint(path: Path) -> CheckpointFile:
    """What the model file ``path`` holds, with its checkpoint if it has one (errors as ``read``)."""
    metadata, arrays = model_file.read(path)
    entry, rng, best = metadata.get("checkpoint"), None, None
    if entry is not None:
        rng = generator(entry["rng_state"])
        if entry["best"] is not None and entry["best"]["params"]:
            best = [arrays[name] for name in model_file.best_names(2 * (len(metadata["layer_sizes"]) - 1))]
    return CheckpointFile(_from_file(metadata, arrays), entry, rng, best)


def _fspath(path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or a path-like object, got {path!r}") from None


def model_path(path: Any) -> Path:
    """``path`` with ``.npz`` appended when missing, as ``numpy.savez`` does; not a folder."""
    path = Path(_fspath(path))
    if not path.is_dir() and not path.name.lower().endswith(SUFFIX):
        path = path.with_name(path.name + SUFFIX)
    if path.is_dir():
        raise ValueError(
            f"cannot save the model to {str(path)!r}: it is a folder; give a file name, "
            f"such as {str(path / 'model.npz')!r}"
        )
    return path


def _host(a: Any) -> np.ndarray:
    """A host copy of an array of any backend (a copy: the result never aliases ``a``)."""
    return np.array(to_numpy(a), copy=True)


def _host_tree(tree: Any) -> Any:
    """``tree`` (dicts, lists and tuples of arrays, numbers, anything) with its arrays as host copies."""
    if isinstance(tree, dict):
        return {key: _host_tree(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_host_tree(value) for value in tree)
    if array_api_compat.is_array_api_obj(tree) and not isinstance(tree, numbers.Number):
        return _host(tree)
    return tree


def _tree_on_device(tree: Any, xp: Any, device: Any) -> Any:
    """A host tree of ``_host_tree`` with its arrays moved to ``xp``/``device``."""
    if isinstance(tree, dict):
        return {key: _tree_on_device(value, xp, device) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_tree_on_device(value, xp, device) for value in tree)
    if isinstance(tree, np.ndarray):
        return xp.asarray(tree, device=device)
    return tree


def _to_file(s: Snapshot) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays of a file (ValueError for what a file cannot hold)."""
    arrays = dict(zip(model_file.parameter_names(len(s.layer_sizes) - 1), s.params))
    optimizer, state_arrays = _optimizer_to_file(s.optimizer, s.state, len(s.params))
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "layer_sizes": s.layer_sizes,
        "activations": [phi.name for phi in s.activations],
        "dtype": s.dtype,
        "init": s.init if isinstance(s.init, str) else None,
        "optimizer": optimizer,
        "n_updates": s.n_updates,
        "rng_state": _generator_state(s.rng),
        "schedule_state": s.schedule_state,
    }
    labels = {"task": s.task, "classes": s.classes}  # optional: written when set
    metadata.update({key: value for key, value in labels.items() if value is not None})
    return metadata, {**arrays, **state_arrays}


def _optimizer_to_file(
    optimizer: Any, state: Any, n_params: int
) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """The optimizer's metadata entry, and its state's arrays as members."""
    if optimizer is None:
        return None, {}
    try:
        config = optimizer_config(optimizer)
    except ValueError as exc:
        raise ValueError(f"{exc}; {_WAY_OUT}") from exc
    if state is None:
        return {"config": config, "state": None}, {}
    if type(state) is not dict:
        raise _unstorable(f"a {type(state).__name__}")
    lists, arrays, scalars = [], {}, {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise _unstorable(f"a dict with the key {key!r}")
        if isinstance(value, list) and len(value) == n_params and all(type(a) is np.ndarray for a in value):
            lists.append(key)
            arrays.update({f"optimizer/{key}/{i}": a for i, a in enumerate(value)})
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            scalars[key] = int(value) if isinstance(value, numbers.Integral) else float(value)
        else:
            raise _unstorable(f"a dict whose {key!r} is a {type(value).__name__}")
    return {"config": config, "state": {"arrays": sorted(lists), "scalars": scalars}}, arrays


def _unstorable(what: str) -> ValueError:
    return ValueError(
        f"its optimizer state, {what}, cannot be stored: a model file holds a dict of lists of arrays "
        f"(one per parameter) and of numbers; {_WAY_OUT}"
    )


def _generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """The state of ``rng``, as JSON."""
    return json.loads(json.dumps(rng.bit_generator.state, default=_json_number))


def _json_number(value: Any) -> Any:
    """NumPy arrays and scalars (in generator states) as JSON lists and numbers."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _from_file(metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> Snapshot:
    """The snapshot of a validated file."""
    n_layers = len(metadata["layer_sizes"]) - 1
    params = [arrays[name] for name in model_file.parameter_names(n_layers)]
    entry, optimizer, state = metadata["optimizer"], None, None
    if entry is not None:
        optimizer = optimizer_from_config(entry["config"])
        if entry["state"] is not None:
            state = dict(entry["state"]["scalars"])
            for key in entry["state"]["arrays"]:
                state[key] = [arrays[f"optimizer/{key}/{i}"] for i in range(len(params))]
    return Snapshot(
        layer_sizes=metadata["layer_sizes"],
        activations=metadata["activations"],
        dtype=metadata["dtype"],
        init=metadata["init"],
        params=params,
        optimizer=optimizer,
        state=state,
        n_updates=metadata["n_updates"],
        rng=generator(metadata["rng_state"]),
        schedule_state=metadata.get("schedule_state"),
        task=metadata.get("task"),
        classes=metadata.get("classes"),
    )
