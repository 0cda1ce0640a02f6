"""Saving, loading and moving models: one ``.npz`` file of plain arrays and JSON, no pickle.

``save`` takes a host snapshot of a model (parameters, optimizer and state,
update count, generator, and a scikit-learn estimator's entry) and writes it
through ``_model_file``; ``load`` reads and validates a file there before it
builds the model on a backend; ``to`` moves a model between backends in memory.
Parameters go device → host → file → host → device unchanged, bit for bit.
This module is an edge, like ``_backend``: it holds host NumPy copies.
"""

from __future__ import annotations

import json
import numbers
import operator
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _model_file as model_file
from ._backend import dtype_name, to_numpy
from .optimizers import optimizer_config, optimizer_from_config

SUFFIX = ".npz"


@dataclass(frozen=True)
class _Snapshot:
    """A model on the host: what a file holds, and what ``to`` carries across backends.

    ``activations`` are Activation objects (from a model) or registered names
    (from a file); ``params`` are host copies of ``weights + biases``; ``state``
    maps keys to lists of host arrays (one per parameter) or to numbers.
    """

    layer_sizes: list[int]
    activations: list[Any]
    dtype: str
    init: Any
    params: list[np.ndarray]
    optimizer: Any
    state: dict[str, Any] | None
    n_updates: int
    rng_state: dict[str, Any]
    schedule_state: dict[str, Any] | None = None
    task: str | None = None
    classes: list[Any] | None = None


def save(
    model: Any,
    path: str | os.PathLike[str],
    *,
    include_optimizer: bool = True,
    estimator: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to one ``.npz`` file, atomically; return the path written.

    Parameters
    ----------
    model : MLP
    path : str or path-like
        ``.npz`` is appended when the name does not end with it, as ``numpy.savez`` does.
    include_optimizer : bool
        Also store the optimizer (its config), its state and nothing else of
        the last ``fit``; ``n_updates``, the "adaptive" schedule's state and the
        host generator are always stored.
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
        When the model could not be loaded back from the file (non-finite
        parameters, an activation not registered under its name, ...): nothing
        is written then.
    """
    target = _model_path(path)
    if not isinstance(include_optimizer, bool):
        raise TypeError(f"include_optimizer must be True or False, got {include_optimizer!r}")
    prefix = f"cannot save the model to {str(target)!r}"
    metadata, arrays = _to_file(prefix, _snapshot(model, include_optimizer))
    if estimator is not None:
        metadata["estimator"] = estimator
    model_file.check_metadata(prefix, metadata)
    model_file.check_members(prefix, metadata, {name: (a.shape, a.dtype) for name, a in arrays.items()})
    model_file.check_finite(prefix, arrays)
    text = json.dumps(metadata, allow_nan=False, sort_keys=True)
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    model_file.write_atomically(target, arrays)
    return target


def load(path: str | os.PathLike[str], *, backend: Any = "numpy", device: Any = None) -> Any:
    """The model saved in ``path``, on ``backend`` and ``device``.

    Parameters
    ----------
    path : str or path-like
        A file written by ``save`` (taken as given: no suffix is added).
    backend, device
        As for ``MLP``: any backend, whichever one saved the file.

    Returns
    -------
    MLP, MLPClassifier or MLPRegressor
        The estimator for a file written by an estimator's ``save``, its
        ``backend`` and ``device`` parameters set to these, its network
        ``model_`` as follows; else the MLP: bit-identical parameters, the
        optimizer and its state, ``n_updates``, ``schedule_state`` and the host generator's
        state, so that ``fit(..., resume=True)`` continues exactly where the
        saved model stopped.

    Raises
    ------
    ValueError
        Naming the file and what is wrong: not an ``.npz`` archive, missing or
        unexpected members, an unknown format or a newer format version, shapes
        that do not match ``layer_sizes``, another dtype, an activation name
        not registered (register user activations with
        ``mlp_xp.register_activation`` before loading), non-finite values,
        an estimator entry that does not describe an mlp_xp estimator.
    """
    path = Path(_fspath(path))
    prefix = f"cannot load {str(path)!r}"
    with open(path, "rb") as file:
        if not zipfile.is_zipfile(file):
            raise model_file.fail(
                prefix, "it is not an .npz archive (a zip file of arrays): truncated, or another kind"
            )
        file.seek(0)
        metadata, arrays = model_file.read(prefix, file)
    if "estimator" not in metadata:
        return _build(_from_file(metadata, arrays), backend, device)
    from .estimators import estimator_from_entry  # lazily: it needs scikit-learn

    try:
        estimator = estimator_from_entry(metadata["estimator"], metadata["layer_sizes"])
    except (TypeError, ValueError, KeyError) as exc:
        raise model_file.fail(prefix, f"its estimator entry is invalid: {exc}") from exc
    estimator.set_params(backend=backend, device=device)
    estimator.model_ = _build(_from_file(metadata, arrays), backend, device)
    return estimator


def to(model: Any, backend: Any, device: Any = None) -> Any:
    """A copy of ``model`` on another backend or device; ``model`` is unchanged.

    Parameters are copied bit for bit, through the host; the optimizer, its
    state, ``n_updates``, ``schedule_state`` and the host generator's state are carried (the
    generator as an independent copy).
    """
    return _build(_snapshot(model, include_optimizer=True), backend, device)


def _fspath(path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or a path-like object, got {path!r}") from None


def _model_path(path: Any) -> Path:
    """``path`` with ``.npz`` appended when missing, as ``numpy.savez`` does."""
    path = Path(_fspath(path))
    return path if path.name.endswith(SUFFIX) else path.with_name(path.name + SUFFIX)


def _snapshot(model: Any, include_optimizer: bool) -> _Snapshot:
    optimizer = model.optimizer if include_optimizer else None
    state = model.optimizer_state if optimizer is not None else None
    return _Snapshot(
        layer_sizes=list(model.layer_sizes),
        activations=list(model.phis),
        dtype=dtype_name(model.xp, model.dtype),
        init=model.init,
        params=[_host(p) for p in (*model.weights, *model.biases)],
        optimizer=optimizer,
        state=None if state is None else _host_state(state),
        n_updates=model.n_updates,
        rng_state=json.loads(json.dumps(model.rng.bit_generator.state, default=_json_number)),
        schedule_state=None if model.schedule_state is None else dict(model.schedule_state),
        task=model.task,
        classes=None if model.classes is None else list(model.classes),
    )


def _host(a: Any) -> np.ndarray:
    """A host copy of an array of any backend (a copy: the result never aliases ``a``)."""
    return np.array(to_numpy(a), copy=True)


def _host_state(state: Any) -> dict[str, Any]:
    """An optimizer state with its arrays on the host and its numbers as int/float."""
    if not isinstance(state, dict):
        raise TypeError(f"the optimizer state must be None or a dict, got a {type(state).__name__}")
    host: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, (list, tuple)):
            host[key] = [_host(a) for a in value]
        elif isinstance(value, numbers.Integral):
            host[key] = operator.index(value)
        elif isinstance(value, numbers.Real):
            host[key] = float(value)
        else:
            raise TypeError(
                f"optimizer state entry {key!r} is a {type(value).__name__}: "
                "expected a list of arrays, an int or a float"
            )
    return host


def _json_number(value: Any) -> Any:
    """NumPy arrays and scalars (in generator states) as JSON lists and numbers."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _to_file(prefix: str, s: _Snapshot) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays of a file."""
    from . import __version__  # lazily: the package imports this module

    arrays = dict(zip(model_file.parameter_names(len(s.layer_sizes) - 1), s.params))
    optimizer = None
    if s.optimizer is not None:
        state = None
        if s.state is not None:
            lists = sorted(key for key, value in s.state.items() if isinstance(value, list))
            for key in lists:
                arrays.update({f"optimizer/{key}/{i}": a for i, a in enumerate(s.state[key])})
            scalars = {key: value for key, value in s.state.items() if key not in lists}
            state = {"arrays": lists, "scalars": scalars}
        try:
            config = optimizer_config(s.optimizer)
        except ValueError as exc:
            raise model_file.fail(prefix, f"{exc}; save(..., include_optimizer=False) leaves it out") from exc
        optimizer = {"config": config, "state": state}
    metadata = {
        "format": model_file.FORMAT,
        "format_version": model_file.FORMAT_VERSION,
        "library_version": __version__,
        "layer_sizes": s.layer_sizes,
        "activations": [phi.name for phi in s.activations],
        "dtype": s.dtype,
        "init": s.init if isinstance(s.init, str) else None,
        "optimizer": optimizer,
        "n_updates": s.n_updates,
        "rng_state": s.rng_state,
        "schedule_state": s.schedule_state,
    }
    labels = {"task": s.task, "classes": s.classes}  # optional: written when set
    metadata.update({key: value for key, value in labels.items() if value is not None})
    return metadata, arrays


def _from_file(metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Snapshot:
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
    return _Snapshot(
        layer_sizes=metadata["layer_sizes"],
        activations=metadata["activations"],
        dtype=metadata["dtype"],
        init=metadata["init"],
        params=params,
        optimizer=optimizer,
        state=state,
        n_updates=metadata["n_updates"],
        rng_state=metadata["rng_state"],
        schedule_state=metadata.get("schedule_state"),
        task=metadata.get("task"),
        classes=metadata.get("classes"),
    )


def _build(s: _Snapshot, backend: Any, device: Any) -> Any:
    """An MLP on ``backend``/``device`` holding the snapshot; each array moved once."""
    from .model import MLP  # lazily: the model module calls this one

    model = MLP(
        s.layer_sizes,
        s.activations[:-1],
        s.activations[-1],
        backend=backend,
        device=device,
        dtype=s.dtype,
        init=s.init,
    )
    xp, n_layers = model.xp, len(s.layer_sizes) - 1
    params = [xp.asarray(p, device=model.device) for p in s.params]
    model.weights, model.biases = params[:n_layers], params[n_layers:]
    model.optimizer = s.optimizer
    model.optimizer_state = None
    if s.state is not None:
        model.optimizer_state = {
            key: [xp.asarray(a, device=model.device) for a in value] if isinstance(value, list) else value
            for key, value in s.state.items()
        }
    model.n_updates = s.n_updates
    model.schedule_state = None if s.schedule_state is None else dict(s.schedule_state)
    model.rng = model_file.generator(s.rng_state)
    model.task, model.classes = s.task, None if s.classes is None else list(s.classes)
    return model
