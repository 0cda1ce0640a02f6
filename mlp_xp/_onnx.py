"""The ONNX edge: a forward pass traced with ndonnx as ``xp``, written as an ONNX model.

ndonnx implements the Array API standard on symbolic ONNX arrays: the model's
own ``forward``, called with ``ndonnx`` as the namespace on a symbolic input of
shape (N, n_0), records the ONNX graph of the very code that trains, with no
converter.  The parameters enter the graph as constants (host copies).  The
file uses ONNX's default domain at the opset of the installed ndonnx (opset 21
with ndonnx 0.23), which onnxruntime ≥ 1.18 runs.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._atomic_write import write_atomically
from ._backend import to_numpy
from ._version import __version__

INPUT = "x"


def export(
    path: Any,
    params: Sequence[Any],
    n_inputs: int,
    dtype: str,
    graph: Callable[[Any, Any, list[Any]], dict[str, Any]],
) -> Path:
    """Trace ``graph(ndonnx, x, constants)`` and write its ONNX model to ``path``, crash-safely.

    Parameters
    ----------
    path : str or path-like
        The file written (taken as given: no suffix is added).
    params : sequence of arrays
        Arrays of any backend, copied to the host and into the graph as constants.
    n_inputs : int
        n_0: the input ``x`` has shape (N, n_0), N symbolic.
    dtype : {"float32", "float64"}
        The dtype of ``x``.
    graph : callable ``(xp, x, constants) -> {name: array}``
        The outputs, computed with ``xp`` = ndonnx from ``x`` and the ndonnx
        constants of ``params`` (in order).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ImportError
        Without ndonnx and onnx (``pip install "mlp_xp[onnx]"``).
    ValueError
        Where ndonnx cannot express an operation of ``graph`` (an Array API
        function it lacks, a value read back in Python): the operation and the
        function that called it are named.  Nothing is written then.
    """
    ndonnx = _ndonnx()
    try:
        target = Path(os.fspath(path))
    except TypeError:
        raise TypeError(f"path must be a str or a path-like object, got {path!r}") from None
    x = ndonnx.argument(shape=("N", n_inputs), dtype=getattr(ndonnx, dtype))
    try:
        outputs = graph(ndonnx, x, [ndonnx.asarray(to_numpy(p)) for p in params])
    except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ValueError(f"ndonnx {ndonnx.__version__} cannot express {_where(exc)}") from exc
    model = ndonnx.build({INPUT: x}, outputs)
    model.producer_name, model.producer_version = "mlp_xp", __version__
    write_atomically(target, lambda file: file.write(model.SerializeToString()))
    return target


def _ndonnx() -> Any:
    """The ndonnx module, imported on first use (half a second): ImportError with the extra to install."""
    try:
        import ndonnx
    except ImportError as exc:
        raise ImportError('ONNX export needs ndonnx and onnx: pip install "mlp_xp[onnx]"') from exc
    return ndonnx


def _where(exc: BaseException) -> str:
    """What failed, from the traceback of ``exc``: the caller's line of source (or the
    library function) and the caller, e.g. "xp.hypot(z, 1.0) in swish (acts.py:12): NotImplementedError"."""
    frames = traceback.extract_tb(exc.__traceback__)
    files = [getattr(sys.modules.get(name), "__file__", None) for name in ("ndonnx", "spox", "onnx", "numpy")]
    libraries = tuple(os.path.dirname(file) + os.sep for file in files if file is not None)
    first = next((i for i, frame in enumerate(frames) if frame.filename.startswith(libraries)), len(frames))
    caller = frames[max(first - 1, 0)]
    operation = f"`{caller.line}`" if caller.line else frames[-1].name
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"{operation} in {caller.name} ({Path(caller.filename).name}:{caller.lineno}): {reason}"
