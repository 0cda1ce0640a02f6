"""Saving, loading and moving models: one ``.npz`` file of plain arrays and JSON, no pickle.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) with these members:

=========================  ==========================================================  ===============
member                     content                                                     shape
=========================  ==========================================================  ===============
``weights/<j>``            Ωʲ⁺¹ (``model.weights[j]``), in the model's dtype            (n_j, n_{j+1})
``biases/<j>``             βʲ⁺¹ (``model.biases[j]``)                                   (n_{j+1},)
``optimizer/<key>/<i>``    list ``key`` of the optimizer state, array i: shaped like     like parameter i
                           parameter i of ``weights + biases``
``metadata``               UTF-8 JSON as a uint8 array: format name and version,        (bytes,)
                           library version, layer sizes, activation names, dtype,
                           init, optimizer config and scalar state, ``n_updates``,
                           the host generator's ``bit_generator.state``; for a
                           scikit-learn-style estimator, an ``estimator`` entry
                           (class, parameters, fitted attributes)
=========================  ==========================================================  ===============

Nothing is pickled: files are read with ``allow_pickle=False`` and validated
(members, format version, shapes, dtype, registered activations, finite
values) before anything is allocated on a device; every problem is a
``ValueError`` naming the file.  Writing goes to a temporary file in the same
folder, flushed and fsynced, then renamed over the target, so an error leaves
the old file intact.  This module is an edge, like ``_backend``: it reads and
writes NumPy's file format on the host, and parameters go device → host →
file → host → device unchanged, bit for bit.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._backend import DTYPES, dtype_name, to_numpy
from ._validation import check_layer_sizes
from .activations import ACTIVATIONS
from .optimizers import optimizer_config, optimizer_from_config

FORMAT = "mlp_xp.model"
FORMAT_VERSION = 1
SUFFIX = ".npz"
# What a damaged archive or member raises while being read.
_DAMAGED = (zipfile.BadZipFile, zlib.error, ValueError, EOFError, NotImplementedError)


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
        the last ``fit``; ``n_updates`` and the host generator are always stored.
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
    _check_metadata(prefix, metadata)
    _check_members(prefix, metadata, {name: (a.shape, a.dtype) for name, a in arrays.items()})
    _check_finite(prefix, arrays)
    text = json.dumps(metadata, allow_nan=False, sort_keys=True)
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _write_atomically(target, arrays)
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
        optimizer and its state, ``n_updates`` and the host generator's
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
            raise _fail(
                prefix, "it is not an .npz archive (a zip file of arrays): truncated, or another kind"
            )
        file.seek(0)
        metadata, arrays = _read(prefix, file)
    if "estimator" not in metadata:
        return _build(_from_file(metadata, arrays), backend, device)
    from .estimators import estimator_from_entry  # lazily: it needs scikit-learn

    try:
        estimator = estimator_from_entry(metadata["estimator"], metadata["layer_sizes"])
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(prefix, f"its estimator entry is invalid: {exc}") from exc
    estimator.set_params(backend=backend, device=device)
    estimator.model_ = _build(_from_file(metadata, arrays), backend, device)
    return estimator


def to(model: Any, backend: Any, device: Any = None) -> Any:
    """A copy of ``model`` on another backend or device; ``model`` is unchanged.

    Parameters are copied bit for bit, through the host; the optimizer, its
    state, ``n_updates`` and the host generator's state are carried (the
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


def _fail(prefix: str, what: str) -> ValueError:
    return ValueError(f"{prefix}: {what}")


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


def _parameter_names(n_layers: int) -> list[str]:
    return [f"weights/{j}" for j in range(n_layers)] + [f"biases/{j}" for j in range(n_layers)]


def _to_file(prefix: str, s: _Snapshot) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays of a file."""
    from . import __version__  # lazily: the package imports this module

    arrays = dict(zip(_parameter_names(len(s.layer_sizes) - 1), s.params))
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
            raise _fail(prefix, f"{exc}; save(..., include_optimizer=False) leaves it out") from exc
        optimizer = {"config": config, "state": state}
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
        "rng_state": s.rng_state,
    }
    return metadata, arrays


def _from_file(metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Snapshot:
    """The snapshot of a validated file."""
    n_layers = len(metadata["layer_sizes"]) - 1
    params = [arrays[name] for name in _parameter_names(n_layers)]
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
    model.rng = _generator(s.rng_state)
    return model


def _generator(state: dict[str, Any]) -> np.random.Generator:
    """A NumPy Generator in ``state`` (a ``bit_generator.state`` dict)."""
    name = state.get("bit_generator")
    if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
        raise ValueError(f"unknown bit generator {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _read(prefix: str, file: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The validated metadata and arrays of an open ``.npz`` file."""
    try:
        archive = np.load(file, allow_pickle=False)
    except _DAMAGED as exc:
        raise _fail(prefix, f"it is a damaged .npz archive ({exc})") from exc
    with archive:
        for member in archive.zip.namelist():
            if not member.endswith(".npy"):
                raise _fail(prefix, f"its member {member!r} is not a .npy array")
        if "metadata" not in archive.files:
            raise _fail(prefix, "it has no 'metadata' member: it was not written by mlp_xp's save")
        metadata = _decode(prefix, _member(prefix, archive, "metadata"))
        _check_metadata(prefix, metadata)
        headers = {name: _header(prefix, archive, name) for name in archive.files}
        _check_members(prefix, metadata, headers)
        arrays = {name: _member(prefix, archive, name) for name in headers if name != "metadata"}
    _check_finite(prefix, arrays)
    return metadata, arrays


def _member(prefix: str, archive: Any, name: str) -> np.ndarray:
    try:
        return archive[name]
    except _DAMAGED as exc:
        raise _fail(prefix, f"its member {name!r} is damaged or not a plain array ({exc})") from exc


def _header(prefix: str, archive: Any, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of a member, read from its .npy header without reading its data."""
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with archive.zip.open(name + ".npy") as fp:
            version = np.lib.format.read_magic(fp)
            if version not in read:
                raise ValueError(f".npy format version {version} is not supported")
            shape, _, dtype = read[version](fp)
    except _DAMAGED as exc:
        raise _fail(prefix, f"its member {name!r} is damaged or not a .npy array ({exc})") from exc
    return shape, dtype


def _decode(prefix: str, raw: np.ndarray) -> dict[str, Any]:
    """The metadata JSON object of a uint8 array."""
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(prefix, f"its metadata is not UTF-8 bytes (dtype {raw.dtype}, shape {raw.shape})")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError as exc:
        raise _fail(prefix, f"its metadata is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise _fail(prefix, "its metadata is not a JSON object")
    return metadata


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _field(prefix: str, metadata: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    """``metadata[key]``, checked to be of one of ``kinds`` (bool is not an int here)."""
    if key not in metadata:
        raise _fail(prefix, f"its metadata has no {key!r}")
    value = metadata[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise _fail(prefix, f"its metadata {key!r} must be {expected}, got {value!r}")
    return value


def _check_metadata(prefix: str, metadata: dict[str, Any]) -> None:
    """Format, version, architecture, dtype, counters, generator state and optimizer."""
    from . import __version__  # lazily: the package imports this module

    if metadata.get("format") != FORMAT:
        raise _fail(prefix, f"it is not an mlp_xp model file (format {metadata.get('format')!r})")
    version = _field(prefix, metadata, "format_version", (int,))
    if not 1 <= version <= FORMAT_VERSION:
        raise _fail(
            prefix,
            f"it has format version {version} (written by mlp_xp {metadata.get('library_version')!r}); "
            f"mlp_xp {__version__} reads versions 1 to {FORMAT_VERSION}: upgrade mlp_xp to load it",
        )
    try:
        sizes = check_layer_sizes(_field(prefix, metadata, "layer_sizes", (list,)))
    except (TypeError, ValueError) as exc:
        raise _fail(prefix, f"its metadata: {exc}") from exc
    names = _field(prefix, metadata, "activations", (list,))
    if len(names) != len(sizes) - 1 or not all(isinstance(name, str) for name in names):
        raise _fail(prefix, f"its metadata 'activations' must be {len(sizes) - 1} names, got {names!r}")
    unknown = sorted({name for name in names if name not in ACTIVATIONS})
    if unknown:
        raise _fail(
            prefix,
            f"activation {', '.join(map(repr, unknown))} is not registered: register user "
            "activations with mlp_xp.register_activation(name, ...), in every session, "
            "before saving or loading a model that uses them",
        )
    if _field(prefix, metadata, "dtype", (str,)) not in DTYPES:
        raise _fail(prefix, f"its dtype must be one of {DTYPES}, got {metadata['dtype']!r}")
    _field(prefix, metadata, "init", (str, type(None)))
    if _field(prefix, metadata, "n_updates", (int,)) < 0:
        raise _fail(prefix, f"its n_updates must be >= 0, got {metadata['n_updates']}")
    try:
        _generator(_field(prefix, metadata, "rng_state", (dict,)))
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(prefix, f"its rng_state is not a NumPy generator state ({exc!r})") from exc
    _check_optimizer(prefix, _field(prefix, metadata, "optimizer", (dict, type(None))))


def _check_optimizer(prefix: str, entry: dict[str, Any] | None) -> None:
    """``{"config": ..., "state": None | {"arrays": [keys], "scalars": {key: number}}}``."""
    if entry is None:
        return
    try:
        optimizer_from_config(entry.get("config"))
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(prefix, f"its optimizer {entry.get('config')!r} cannot be rebuilt: {exc}") from exc
    state = entry.get("state")
    if state is None:
        return
    arrays, scalars = state.get("arrays"), state.get("scalars")
    if not (
        isinstance(arrays, list)
        and all(isinstance(key, str) for key in arrays)
        and isinstance(scalars, dict)
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in scalars.values()
        )
        and not set(arrays) & set(scalars)
    ):
        raise _fail(
            prefix,
            "its optimizer state must be {'arrays': [keys], 'scalars': {key: finite number}}, "
            f"got {state!r}",
        )


def _layout(metadata: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Member name -> shape, for the arrays that a valid ``metadata`` announces."""
    sizes = metadata["layer_sizes"]
    shapes = [*pairwise(sizes), *((n,) for n in sizes[1:])]
    layout = dict(zip(_parameter_names(len(sizes) - 1), shapes))
    state = (metadata["optimizer"] or {}).get("state") or {"arrays": []}
    for key in state["arrays"]:
        layout.update({f"optimizer/{key}/{i}": shape for i, shape in enumerate(shapes)})
    return layout


def _check_members(
    prefix: str, metadata: dict[str, Any], headers: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> None:
    """Every announced array present, nothing else, each of the dtype and shape announced."""
    layout, dtype = _layout(metadata), np.dtype(metadata["dtype"])
    missing = sorted(set(layout) - set(headers))
    if missing:
        raise _fail(prefix, f"members missing: {', '.join(missing)}")
    unexpected = sorted(set(headers) - set(layout) - {"metadata"})
    if unexpected:
        raise _fail(prefix, f"unexpected members: {', '.join(unexpected)}")
    for name, shape in layout.items():
        found_shape, found_dtype = headers[name]
        if found_dtype.hasobject:
            raise _fail(
                prefix, f"{name} holds Python objects (pickled data); mlp_xp files hold plain numbers"
            )
        if found_dtype != dtype:
            raise _fail(prefix, f"{name} has dtype {found_dtype}, but the model's dtype is {dtype}")
        if tuple(found_shape) != tuple(shape):
            raise _fail(
                prefix,
                f"{name} has shape {tuple(found_shape)}, but layer_sizes {metadata['layer_sizes']} "
                f"needs {tuple(shape)}",
            )


def _check_finite(prefix: str, arrays: dict[str, np.ndarray]) -> None:
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise _fail(prefix, f"{name} contains NaN or infinity")


def _write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a temporary file beside ``target``, flush and fsync it, then rename it
    over ``target``: readers see the old file or the new one, never a partial one."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as file:  # created with the umask's permissions
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # make the rename durable too
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
