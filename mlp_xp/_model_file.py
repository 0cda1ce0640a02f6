"""The model file: one ``.npz`` archive of plain arrays and JSON, written atomically, read validated.

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
                           the host generator's ``bit_generator.state``, the
                           "adaptive" schedule's state (version 2, optional); for a
                           scikit-learn-style estimator, an ``estimator`` entry
                           (class, parameters, fitted attributes); optionally
                           ``task`` and ``classes`` (the label of each output)
=========================  ==========================================================  ===============

Nothing is pickled: files are read with ``allow_pickle=False`` and validated
(members, format version, shapes, dtype, registered activations, finite
values) before anything is allocated on a device; every problem is a
``ValueError`` naming the file.  Writing goes to a temporary file in the same
folder, flushed and fsynced, then renamed over the target, so an error leaves
the old file intact.  This module is an edge, like ``_backend``: it reads and
writes NumPy's file format on the host.
"""

from __future__ import annotations

import json
import math
import os
import uuid
import zipfile
import zlib
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._backend import DTYPES
from ._validation import check_layer_sizes
from .activations import ACTIVATIONS
from .optimizers import optimizer_from_config

FORMAT = "mlp_xp.model"
FORMAT_VERSION = 2  # 2 adds the optional "schedule_state"; version-1 files load as before
# What a damaged archive or member raises while being read.
_DAMAGED = (zipfile.BadZipFile, zlib.error, ValueError, EOFError, NotImplementedError)


def fail(prefix: str, what: str) -> ValueError:
    """The error for a file ``prefix`` names: "<file>: <what is wrong>"."""
    return ValueError(f"{prefix}: {what}")


def parameter_names(n_layers: int) -> list[str]:
    """The members of ``weights + biases``, in that order."""
    return [f"weights/{j}" for j in range(n_layers)] + [f"biases/{j}" for j in range(n_layers)]


def generator(state: dict[str, Any]) -> np.random.Generator:
    """A NumPy Generator in ``state`` (a ``bit_generator.state`` dict)."""
    name = state.get("bit_generator")
    if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
        raise ValueError(f"unknown bit generator {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def read(prefix: str, file: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The validated metadata and arrays of an open ``.npz`` file."""
    try:
        archive = np.load(file, allow_pickle=False)
    except _DAMAGED as exc:
        raise fail(prefix, f"it is a damaged .npz archive ({exc})") from exc
    with archive:
        for member in archive.zip.namelist():
            if not member.endswith(".npy"):
                raise fail(prefix, f"its member {member!r} is not a .npy array")
        if "metadata" not in archive.files:
            raise fail(prefix, "it has no 'metadata' member: it was not written by mlp_xp's save")
        metadata = _decode(prefix, _member(prefix, archive, "metadata"))
        check_metadata(prefix, metadata)
        headers = {name: _header(prefix, archive, name) for name in archive.files}
        check_members(prefix, metadata, headers)
        arrays = {name: _member(prefix, archive, name) for name in headers if name != "metadata"}
    check_finite(prefix, arrays)
    return metadata, arrays


def _member(prefix: str, archive: Any, name: str) -> np.ndarray:
    try:
        return archive[name]
    except _DAMAGED as exc:
        raise fail(prefix, f"its member {name!r} is damaged or not a plain array ({exc})") from exc


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
        raise fail(prefix, f"its member {name!r} is damaged or not a .npy array ({exc})") from exc
    return shape, dtype


def _decode(prefix: str, raw: np.ndarray) -> dict[str, Any]:
    """The metadata JSON object of a uint8 array."""
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise fail(prefix, f"its metadata is not UTF-8 bytes (dtype {raw.dtype}, shape {raw.shape})")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError as exc:
        raise fail(prefix, f"its metadata is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise fail(prefix, "its metadata is not a JSON object")
    return metadata


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _field(prefix: str, metadata: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    """``metadata[key]``, checked to be of one of ``kinds`` (bool is not an int here)."""
    if key not in metadata:
        raise fail(prefix, f"its metadata has no {key!r}")
    value = metadata[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise fail(prefix, f"its metadata {key!r} must be {expected}, got {value!r}")
    return value


def check_metadata(prefix: str, metadata: dict[str, Any]) -> None:
    """Format, version, architecture, dtype, counters, generator state and optimizer."""
    from . import __version__  # lazily: the package imports this module

    if metadata.get("format") != FORMAT:
        raise fail(prefix, f"it is not an mlp_xp model file (format {metadata.get('format')!r})")
    version = _field(prefix, metadata, "format_version", (int,))
    if not 1 <= version <= FORMAT_VERSION:
        raise fail(
            prefix,
            f"it has format version {version} (written by mlp_xp {metadata.get('library_version')!r}); "
            f"mlp_xp {__version__} reads versions 1 to {FORMAT_VERSION}: upgrade mlp_xp to load it",
        )
    try:
        sizes = check_layer_sizes(_field(prefix, metadata, "layer_sizes", (list,)))
    except (TypeError, ValueError) as exc:
        raise fail(prefix, f"its metadata: {exc}") from exc
    names = _field(prefix, metadata, "activations", (list,))
    if len(names) != len(sizes) - 1 or not all(isinstance(name, str) for name in names):
        raise fail(prefix, f"its metadata 'activations' must be {len(sizes) - 1} names, got {names!r}")
    unknown = sorted({name for name in names if name not in ACTIVATIONS})
    if unknown:
        raise fail(
            prefix,
            f"activation {', '.join(map(repr, unknown))} is not registered: register user "
            "activations with mlp_xp.register_activation(name, ...), in every session, "
            "before saving or loading a model that uses them",
        )
    if _field(prefix, metadata, "dtype", (str,)) not in DTYPES:
        raise fail(prefix, f"its dtype must be one of {DTYPES}, got {metadata['dtype']!r}")
    _field(prefix, metadata, "init", (str, type(None)))
    if _field(prefix, metadata, "n_updates", (int,)) < 0:
        raise fail(prefix, f"its n_updates must be >= 0, got {metadata['n_updates']}")
    try:
        generator(_field(prefix, metadata, "rng_state", (dict,)))
    except (TypeError, ValueError, KeyError) as exc:
        raise fail(prefix, f"its rng_state is not a NumPy generator state ({exc!r})") from exc
    _check_optimizer(prefix, _field(prefix, metadata, "optimizer", (dict, type(None))))
    _check_schedule_state(prefix, metadata.get("schedule_state"))
    _check_labels(prefix, metadata.get("task"), metadata.get("classes"), sizes[-1])


def _check_schedule_state(prefix: str, state: Any) -> None:
    """None (absent) or ``{"lr": number > 0, "best": number or None, "bad_epochs": int >= 0}``."""
    if state is None:
        return

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if not (
        isinstance(state, dict)
        and set(state) == {"lr", "best", "bad_epochs"}
        and number(state["lr"])
        and state["lr"] > 0
        and (state["best"] is None or number(state["best"]))
        and isinstance(state["bad_epochs"], int)
        and not isinstance(state["bad_epochs"], bool)
        and state["bad_epochs"] >= 0
    ):
        raise fail(
            prefix,
            "its schedule_state must be None or {'lr': number > 0, 'best': number or null, "
            f"'bad_epochs': int >= 0}}, got {state!r}",
        )


def _check_labels(prefix: str, task: Any, classes: Any, n_outputs: int) -> None:
    """The optional ``task`` (null, "classification", "regression") and, for classification,
    ``classes``: distinct labels, all numbers or all strings, one per output (two for one output)."""
    if task not in (None, "classification", "regression"):
        raise fail(prefix, f"its task must be null, 'classification' or 'regression', got {task!r}")
    if classes is None:
        return
    expected = 2 if n_outputs == 1 else n_outputs
    if not (
        task == "classification"
        and isinstance(classes, list)
        and len(classes) == expected
        and (
            all(isinstance(c, str) for c in classes)
            or all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in classes
            )
        )
        and len(set(classes)) == expected
    ):
        raise fail(
            prefix,
            f"its classes must be null or, with task 'classification', {expected} distinct labels "
            f"(all numbers or all strings) for {n_outputs} output(s); got {classes!r} with task {task!r}",
        )


def _check_optimizer(prefix: str, entry: dict[str, Any] | None) -> None:
    """``{"config": ..., "state": None | {"arrays": [keys], "scalars": {key: number}}}``."""
    if entry is None:
        return
    try:
        optimizer_from_config(entry.get("config"))
    except (TypeError, ValueError, KeyError) as exc:
        raise fail(prefix, f"its optimizer {entry.get('config')!r} cannot be rebuilt: {exc}") from exc
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
        raise fail(
            prefix,
            "its optimizer state must be {'arrays': [keys], 'scalars': {key: finite number}}, "
            f"got {state!r}",
        )


def _layout(metadata: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Member name -> shape, for the arrays that a valid ``metadata`` announces."""
    sizes = metadata["layer_sizes"]
    shapes = [*pairwise(sizes), *((n,) for n in sizes[1:])]
    layout = dict(zip(parameter_names(len(sizes) - 1), shapes))
    state = (metadata["optimizer"] or {}).get("state") or {"arrays": []}
    for key in state["arrays"]:
        layout.update({f"optimizer/{key}/{i}": shape for i, shape in enumerate(shapes)})
    return layout


def check_members(
    prefix: str, metadata: dict[str, Any], headers: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> None:
    """Every announced array present, nothing else, each of the dtype and shape announced."""
    layout, dtype = _layout(metadata), np.dtype(metadata["dtype"])
    missing = sorted(set(layout) - set(headers))
    if missing:
        raise fail(prefix, f"members missing: {', '.join(missing)}")
    unexpected = sorted(set(headers) - set(layout) - {"metadata"})
    if unexpected:
        raise fail(prefix, f"unexpected members: {', '.join(unexpected)}")
    for name, shape in layout.items():
        found_shape, found_dtype = headers[name]
        if found_dtype.hasobject:
            raise fail(prefix, f"{name} holds Python objects (pickled data); mlp_xp files hold plain numbers")
        if found_dtype != dtype:
            raise fail(prefix, f"{name} has dtype {found_dtype}, but the model's dtype is {dtype}")
        if tuple(found_shape) != tuple(shape):
            raise fail(
                prefix,
                f"{name} has shape {tuple(found_shape)}, but layer_sizes {metadata['layer_sizes']} "
                f"needs {tuple(shape)}",
            )


def check_finite(prefix: str, arrays: dict[str, np.ndarray]) -> None:
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise fail(prefix, f"{name} contains NaN or infinity")


def write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
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
