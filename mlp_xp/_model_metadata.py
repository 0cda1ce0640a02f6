"""The model file's metadata: what its JSON may say, checked before anything is allocated.

The metadata is a JSON object: ``format`` (``"mlp_xp.model"``), ``format_version``
(1 or 2), ``library_version``, ``layer_sizes`` ``[n_0, ..., n_L]``, ``activations``
(L registered names, fitting the layers), ``dtype`` (``"float32"`` or
``"float64"``), ``init`` (an init's name or null), ``n_updates``, ``rng_state``
(the host generator's ``bit_generator.state``), ``optimizer`` (null, or
``{"config": optimizer_config, "state": null | {"arrays": [keys], "scalars":
{key: number}}}``, the state laid out as the optimizer's ``init`` lays it out),
``schedule_state`` (the "adaptive" schedule's ``{"lr", "best", "bad_epochs"}``
or null; version 2, absent from version-1 files), optionally ``task`` (null,
``"classification"`` or ``"regression"``) and ``classes`` (the label of each
output, for classification), for a scikit-learn-style estimator,
``estimator`` (class, parameters, fitted attributes, checked by the
estimators) and, in a checkpoint of ``fit``, ``checkpoint``: ``{"finished":
bool, "start": the model's update count when the fit began, "data": {"x": [N,
n_0], "sample_weight": bool, "x_val": [M, n_0] or null}, "rng_state": the batch
order's generator, "history": the History's lists (numbers, or "nan", "inf",
"-inf"), flags and best epoch, "best": null or early stopping's {"value",
"bad_epochs", "params": bool}}``, its best parameters then being members.
Readers ignore other entries.

``decode`` parses it (UTF-8, finite numbers, nesting that Python can parse) and
``check_metadata`` checks it: format and version, ``layer_sizes`` describing at
most ``MAX_PARAMETERS`` parameters, registered activations, dtype, init,
counters, generator state, an optimizer that can be rebuilt and its state's
layout, the schedule's state, the task, the labels and a checkpoint's entry.  Every problem is a
``ValueError`` saying what is wrong; the file module names the file.  An edge
module: it builds NumPy generators.
"""

from __future__ import annotations

import json
import math
import reprlib
from itertools import pairwise
from typing import Any

import numpy as np

from ._backend import DTYPES
from ._validation import check_activations, check_layer_sizes
from ._version import __version__
from .activations import ACTIVATIONS, INITS
from .optimizers import optimizer_from_config

FORMAT = "mlp_xp.model"
FORMAT_VERSION = 2  # 2 adds the optional "schedule_state"; version-1 files load as before
MAX_PARAMETERS = 2**32  # weights and biases; far above any network trained in memory
MAX_COUNT = 2**63 - 1  # n_updates and the optimizers' integer state
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# A History in a checkpoint: its lists (the per-layer norms a list of lists) and flags.
HISTORY_LISTS = ("loss", "val_loss", "val_score", "layer_grad_norms", "grad_norm", "time")
HISTORY_FLAGS = ("converged", "stopped_early")
NON_FINITE = ("nan", "inf", "-inf")  # how JSON, which has no such numbers, holds them
_REPR = reprlib.Repr()  # file content in messages, shortened
_REPR.maxstring = _REPR.maxother = 60


def short(value: Any) -> str:
    """``repr(value)``, shortened: what a message may quote of a file."""
    return _REPR.repr(value)


def decode(raw: bytes) -> dict[str, Any]:
    """The metadata JSON object in ``raw``."""
    try:
        metadata = json.loads(raw.decode("utf-8"), parse_constant=_refuse, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"its metadata is not valid UTF-8 JSON ({short(exc)})") from exc
    if not isinstance(metadata, dict):
        raise ValueError("its metadata is not a JSON object")
    return metadata


def generator(state: Any) -> np.random.Generator:
    """A NumPy Generator in ``state`` (a ``bit_generator.state`` dict); ValueError if it is not one."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"its rng_state is not a NumPy generator state (bit generator {short(name)})")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise ValueError(f"its rng_state is not a NumPy generator state ({exc!r})") from exc
    return np.random.Generator(bit_generator)


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not a finite number")
    return number


def _field(metadata: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    """``metadata[key]``, checked to be of one of ``kinds`` (bool is not an int here)."""
    if key not in metadata:
        raise ValueError(f"its metadata has no {key!r}")
    value = metadata[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise ValueError(f"its metadata {key!r} must be {expected}, got {short(value)}")
    return value


def check_metadata(metadata: dict[str, Any]) -> None:
    """Format, version, architecture, dtype, init, counters, generator state and optimizer."""
    if metadata.get("format") != FORMAT:
        raise ValueError(f"it is not an mlp_xp model file (format {short(metadata.get('format'))})")
    version = _field(metadata, "format_version", (int,))
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"it has format version {short(version)} (written by mlp_xp "
            f"{short(metadata.get('library_version'))}); mlp_xp {__version__} reads versions 1 to "
            f"{FORMAT_VERSION}: upgrade mlp_xp to load it"
        )
    sizes = _layer_sizes(metadata)
    names = _field(metadata, "activations", (list,))
    if len(names) != len(sizes) - 1 or not all(isinstance(name, str) for name in names):
        raise ValueError(f"its metadata 'activations' must be {len(sizes) - 1} names, got {short(names)}")
    unknown = sorted({name for name in names if name not in ACTIVATIONS})
    if unknown:
        raise ValueError(
            f"activation {', '.join(map(short, unknown))} is not registered: register user "
            "activations with mlp_xp.register_activation(name, ...), in every session, "
            "before saving or loading a model that uses them"
        )
    try:
        check_activations(names[:-1], names[-1], sizes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"its activations do not fit its layers: {exc}") from exc
    if _field(metadata, "dtype", (str,)) not in DTYPES:
        raise ValueError(f"its dtype must be one of {DTYPES}, got {short(metadata['dtype'])}")
    if _field(metadata, "init", (str, type(None))) not in (None, *INITS):
        raise ValueError(f"its init must be null or one of {INITS}, got {short(metadata['init'])}")
    if not 0 <= _field(metadata, "n_updates", (int,)) <= MAX_COUNT:
        raise ValueError(f"its n_updates must be in [0, {MAX_COUNT}], got {short(metadata['n_updates'])}")
    generator(_field(metadata, "rng_state", (dict,)))
    _check_optimizer(_field(metadata, "optimizer", (dict, type(None))))
    _check_schedule_state(metadata.get("schedule_state"))
    _check_labels(metadata.get("task"), metadata.get("classes"), sizes[-1])
    _check_checkpoint(metadata.get("checkpoint"))


def _check_schedule_state(state: Any) -> None:
    """None (absent) or ``{"lr": number > 0, "best": number or None, "bad_epochs": int >= 0}``."""
    if state is None:
        return
    if not (
        isinstance(state, dict)
        and state.keys() == {"lr", "best", "bad_epochs"}
        and _is_scalar(state["lr"], "float")
        and state["lr"] > 0
        and (state["best"] is None or _is_number(state["best"]))
        and _is_scalar(state["bad_epochs"], "int")
    ):
        raise ValueError(
            "its schedule_state must be None or {'lr': number > 0, 'best': number or null, "
            f"'bad_epochs': int >= 0}}, got {short(state)}"
        )


def _check_checkpoint(entry: Any) -> None:
    """None (absent), or the ``checkpoint`` entry of a fit (see the module's docstring)."""
    if entry is None:
        return
    keys = {"finished", "start", "data", "rng_state", "history", "best"}
    if not (isinstance(entry, dict) and entry.keys() == keys):
        raise ValueError(
            f"its checkpoint must be a JSON object with the keys {sorted(keys)}, got {short(entry)}"
        )
    for key, valid, expected in (
        ("finished", lambda v: isinstance(v, bool), "true or false"),
        ("start", lambda v: _is_scalar(v, "int"), "an int >= 0"),
        ("data", _is_data, "{'x': [N, n_0], 'sample_weight': bool, 'x_val': [M, n_0] or null}"),
        ("history", _is_history, "a History's lists, flags and best epoch, one entry per epoch"),
        ("best", _is_best, "null or {'value': number, 'bad_epochs': int >= 0, 'params': bool}"),
    ):
        if not valid(entry[key]):
            raise ValueError(f"its checkpoint {key!r} must be {expected}, got {short(entry[key])}")
    generator(entry["rng_state"])


def _is_data(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.keys() == {"x", "sample_weight", "x_val"}
        and _is_shape(data["x"])
        and isinstance(data["sample_weight"], bool)
        and (data["x_val"] is None or _is_shape(data["x_val"]))
    )


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, list) and len(shape) == 2 and all(_is_scalar(n, "int") for n in shape)


def _is_history(history: Any) -> bool:
    """Lists of numbers (or "nan", "inf", "-inf"), each empty or as long as ``loss``, the
    per-layer norms as lists of them, two flags and a best epoch null or within."""
    if not (isinstance(history, dict) and history.keys() == {*HISTORY_LISTS, *HISTORY_FLAGS, "best_epoch"}):
        return False
    n, best = (len(history["loss"]) if isinstance(history["loss"], list) else -1), history["best_epoch"]
    rows = history["layer_grad_norms"]
    return (
        all(isinstance(history[key], list) and len(history[key]) in (0, n) for key in HISTORY_LISTS)
        and all(_is_float(v) for key in HISTORY_LISTS if key != "layer_grad_norms" for v in history[key])
        and all(isinstance(row, list) and all(map(_is_float, row)) for row in rows)
        and all(isinstance(history[key], bool) for key in HISTORY_FLAGS)
        and (best is None or (_is_scalar(best, "int") and best < n))
    )


def _is_best(best: Any) -> bool:
    return best is None or (
        isinstance(best, dict)
        and best.keys() == {"value", "bad_epochs", "params"}
        and _is_float(best["value"])
        and _is_scalar(best["bad_epochs"], "int")
        and isinstance(best["params"], bool)
    )


def _is_float(value: Any) -> bool:
    """A finite number, or a non-finite one spelled "nan", "inf" or "-inf"."""
    return _is_number(value) or value in NON_FINITE


def _check_labels(task: Any, classes: Any, n_outputs: int) -> None:
    """The optional ``task`` (null, "classification", "regression") and, for classification,
    ``classes``: distinct labels, all numbers or all strings, one per output (two for one output)."""
    if task not in (None, "classification", "regression"):
        raise ValueError(f"its task must be null, 'classification' or 'regression', got {short(task)}")
    if classes is None:
        return
    expected = 2 if n_outputs == 1 else n_outputs
    if not (
        task == "classification"
        and isinstance(classes, list)
        and len(classes) == expected
        and (all(isinstance(c, str) for c in classes) or all(_is_number(c) for c in classes))
        and len(set(classes)) == expected
    ):
        raise ValueError(
            f"its classes must be null or, with task 'classification', {expected} distinct labels "
            f"(all numbers or all strings) for {n_outputs} output(s); got {short(classes)} "
            f"with task {short(task)}"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _layer_sizes(metadata: dict[str, Any]) -> list[int]:
    """``layer_sizes``, checked to describe at most ``MAX_PARAMETERS`` parameters."""
    try:
        sizes = check_layer_sizes(_field(metadata, "layer_sizes", (list,)))
    except TypeError as exc:
        raise ValueError(f"its metadata: {exc}") from exc
    n_parameters = sum(n_in * n_out + n_out for n_in, n_out in pairwise(sizes))
    if n_parameters > MAX_PARAMETERS:
        raise ValueError(
            f"its layer_sizes {short(sizes)} describe {n_parameters} parameters, "
            f"more than the {MAX_PARAMETERS} a model file may hold"
        )
    return sizes


def _check_optimizer(entry: dict[str, Any] | None) -> None:
    """A built-in optimizer's config, and its state: null where its ``init`` gives None, else
    ``{"arrays": [keys of lists], "scalars": {key: number}}`` holding at least the keys its
    ``init`` gives, of their kinds (ints and floats there are counts and steps, >= 0)."""
    if entry is None:
        return
    if set(entry) != {"config", "state"}:
        raise ValueError(f"its optimizer must be {{'config': ..., 'state': ...}}, got {short(entry)}")
    try:
        optimizer = optimizer_from_config(entry["config"])
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"its optimizer {short(entry['config'])} cannot be rebuilt: {exc}") from exc
    example = optimizer.init([np.zeros(1), np.zeros(1)])
    state = entry["state"]
    if example is None and state is None:
        return
    required = {
        key: "list" if isinstance(value, list) else type(value).__name__
        for key, value in (example or {}).items()
    }
    if example is None or not (
        _is_state(state) and all(_holds(state, key, kind) for key, kind in required.items())
    ):
        expected = "null" if example is None else f"a state with {required}"
        raise ValueError(f"its optimizer state must be {expected} for {optimizer!r}, got {short(state)}")


def _is_state(state: Any) -> bool:
    """``{"arrays": [distinct keys], "scalars": {other key: finite number}}``."""
    if not (isinstance(state, dict) and state.keys() == {"arrays", "scalars"}):
        return False
    arrays, scalars = state["arrays"], state["scalars"]
    return (
        isinstance(arrays, list)
        and all(isinstance(key, str) for key in arrays)
        and len(set(arrays)) == len(arrays)
        and isinstance(scalars, dict)
        and not set(arrays) & set(scalars)
        and all(_is_number(value) and abs(value) <= MAX_COUNT for value in scalars.values())
    )


def _holds(state: dict[str, Any], key: str, kind: str) -> bool:
    """Whether ``state`` holds ``key``: among its lists ("list"), else a scalar of ``kind``."""
    return key in state["arrays"] if kind == "list" else _is_scalar(state["scalars"].get(key), kind)


def _is_scalar(value: Any, kind: str) -> bool:
    """An int in [0, MAX_COUNT]; or, where ``kind`` is "float", a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return False
    return value <= MAX_COUNT if isinstance(value, int) else kind == "float" and math.isfinite(value)
