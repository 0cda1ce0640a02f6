"""The model file: one ``.npz`` archive of plain arrays and JSON, written crash-safely, read validated.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) with these members:

=========================  ==========================================================  ===============
member                     content                                                     shape
=========================  ==========================================================  ===============
``weights/<j>``            Ωʲ⁺¹ (``model.weights[j]``), in the model's dtype            (n_j, n_{j+1})
``biases/<j>``             βʲ⁺¹ (``model.biases[j]``)                                   (n_{j+1},)
``optimizer/<key>/<i>``    list ``key`` of the optimizer state, array i: shaped like     like parameter i
                           parameter i of ``weights + biases``
``checkpoint/best/<i>``    in a checkpoint of ``fit`` with early stopping, parameter    like parameter i
                           i of its best epoch
``metadata``               UTF-8 JSON as a uint8 array (at most ``MAX_METADATA_BYTES``)  (bytes,)
=========================  ==========================================================  ===============

The metadata, and what it may say, are ``_model_metadata``'s.

Reading is safe on any file (``_npz`` holds the zip-level rules: refuse early,
allocate late).  Nothing is unpickled.  The metadata member is bounded, then
checked, before the members are compared with the layout it announces: the
names, then each header's dtype and shape, and only then are arrays allocated
and read; finally every value must be finite.  Every problem is a
``ValueError`` naming the file.  Writing checks the same, so a file that could
not be read back is never written, and goes through ``_atomic_write``: readers
and crashes see the old file or the new one.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic_write import write_atomically
from ._model_metadata import check_metadata, decode, short
from ._npz import Archive

MAX_METADATA_BYTES = 16 * 2**20


def load_error(path: Path, what: object) -> ValueError:
    return ValueError(f"cannot load {str(path)!r}: {what}")


def save_error(path: Path, what: object) -> ValueError:
    return ValueError(f"cannot save the model to {str(path)!r}: {what}")


def parameter_names(n_layers: int) -> list[str]:
    """The members of ``weights + biases``, in that order."""
    return [f"weights/{j}" for j in range(n_layers)] + [f"biases/{j}" for j in range(n_layers)]


def best_names(n_params: int) -> list[str]:
    """The members of early stopping's best parameters in a checkpoint, as ``weights + biases``."""
    return [f"checkpoint/best/{i}" for i in range(n_params)]


def read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The validated metadata and arrays of the model file ``path`` (OSError if it cannot be opened)."""
    with open(path, "rb") as file:
        try:
            with Archive(file) as archive:
                if "metadata" not in archive.names:
                    raise ValueError("it has no 'metadata' member: it was not written by mlp_xp's save")
                metadata = _read_metadata(archive)
                check_metadata(metadata)
                layout = _layout(metadata)
                _check_names(layout, archive.names)
                headers = {name: archive.header(name) for name in layout}
                _check_arrays(metadata, layout, {name: (h.shape, h.dtype) for name, h in headers.items()})
                arrays = {name: archive.read(name, header) for name, header in headers.items()}
            _check_finite(arrays)
        except ValueError as exc:
            raise load_error(path, exc) from exc
    return metadata, arrays


def write(path: Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Check that ``read`` would accept the file, then write it crash-safely."""
    try:
        check_metadata(metadata)
        layout = _layout(metadata)
        _check_names(layout, arrays)
        _check_arrays(metadata, layout, {name: (a.shape, a.dtype) for name, a in arrays.items()})
        _check_finite(arrays)
        text = json.dumps(metadata, allow_nan=False, sort_keys=True).encode("utf-8")
        if len(text) > MAX_METADATA_BYTES:
            raise ValueError(f"its metadata takes {len(text)} bytes, more than {MAX_METADATA_BYTES}")
    except ValueError as exc:
        raise save_error(path, exc) from exc
    members: dict[str, Any] = {**arrays, "metadata": np.frombuffer(text, dtype=np.uint8)}
    write_atomically(path, lambda file: np.savez(file, **members))


def _read_metadata(archive: Archive) -> dict[str, Any]:
    """The metadata JSON object, its size bounded before it is read."""
    header = archive.header("metadata")
    if header.dtype != np.uint8 or len(header.shape) != 1:
        raise ValueError(f"its metadata is not UTF-8 bytes (dtype {header.dtype}, shape {header.shape})")
    if header.nbytes > MAX_METADATA_BYTES:
        raise ValueError(f"its metadata takes {header.nbytes} bytes, more than {MAX_METADATA_BYTES}")
    return decode(archive.read("metadata", header).tobytes())


def _layout(metadata: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Member name -> shape, for the arrays that a valid ``metadata`` announces."""
    sizes = metadata["layer_sizes"]
    shapes = [*pairwise(sizes), *((n,) for n in sizes[1:])]
    layout = dict(zip(parameter_names(len(sizes) - 1), shapes))
    state = (metadata["optimizer"] or {}).get("state") or {"arrays": []}
    for key in state["arrays"]:
        layout.update({f"optimizer/{key}/{i}": shape for i, shape in enumerate(shapes)})
    if ((metadata.get("checkpoint") or {}).get("best") or {}).get("params"):
        layout.update(zip(best_names(len(shapes)), shapes))
    return layout


def _listing(names: list[str]) -> str:
    """At most ten names, each shortened to 60 characters."""
    shown = ", ".join(name if len(name) <= 60 else f"{name[:57]}..." for name in names[:10])
    return shown if len(names) <= 10 else f"{shown} and {len(names) - 10} more"


def _check_names(layout: dict[str, Any], names: Any) -> None:
    """Every announced array present, nothing else (but the metadata)."""
    missing = sorted(set(layout) - set(names))
    if missing:
        raise ValueError(f"members missing: {_listing(missing)}")
    unexpected = sorted(set(names) - set(layout) - {"metadata"})
    if unexpected:
        raise ValueError(f"unexpected members: {_listing(unexpected)}")


def _check_arrays(
    metadata: dict[str, Any], layout: dict[str, tuple[int, ...]], found: dict[str, tuple[Any, np.dtype]]
) -> None:
    """Each announced array of the model's dtype and of the shape ``layer_sizes`` gives it."""
    dtype = np.dtype(metadata["dtype"])
    for name, shape in layout.items():
        found_shape, found_dtype = found[name]
        if found_dtype != dtype:
            raise ValueError(f"{name} has dtype {found_dtype}, but the model's dtype is {dtype}")
        if tuple(found_shape) != shape:
            raise ValueError(
                f"{name} has shape {tuple(found_shape)}, but layer_sizes {short(metadata['layer_sizes'])} "
                f"needs {shape}"
            )


def _check_finite(arrays: dict[str, np.ndarray]) -> None:
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinity")
