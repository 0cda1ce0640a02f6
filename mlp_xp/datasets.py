"""Data sets on the host: small ones shipped in code, scikit-learn's digits, and CSV/NPZ files.

Everything here returns NumPy arrays (the models move them to their device):
features ``x`` of shape (N, n_0) and targets ``y`` of shape (N,) or (N, k).
"""

from __future__ import annotations

import math
import os
import tokenize
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._csv_table import read_table

# What numpy.load raises on a damaged .npz archive: a bad zip, a bad stream, a bad .npy header.
_DAMAGED_NPZ = (
    OSError,
    ValueError,
    TypeError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    SyntaxError,
    MemoryError,
    zipfile.BadZipFile,
    zlib.error,
    tokenize.TokenError,
)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points and their labels (0/1): not linearly separable."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return x, np.array([0, 1, 1, 0])


def seed004_points() -> tuple[np.ndarray, np.ndarray]:
    """Seed 004's worked example: four points for one sigmoid neuron, labels 0/1."""
    x = np.array([[-3.0, -3.0], [-2.0, -2.0], [4.0, 4.0], [2.0, -5.0]])
    return x, np.array([1.0, 1.0, 0.0, 0.0])


def two_moons(n: int = 400, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in the plane, labels 0/1 (as scikit-learn's ``make_moons``).

    Class 0 lies on (cos t, sin t), class 1 on (1 − cos t, ½ − sin t), t ∈ [0, π],
    ⌈n/2⌉ and ⌊n/2⌋ points, plus N(0, noise²) on each coordinate, drawn by a
    NumPy generator seeded by ``seed``.  Returns ``x`` (n, 2) and ``y`` (n,).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not (isinstance(noise, (int, float)) and 0.0 <= noise < math.inf):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    n_outer = (n + 1) // 2
    t_outer, t_inner = np.linspace(0.0, np.pi, n_outer), np.linspace(0.0, np.pi, n - n_outer)
    x = np.concatenate(
        [
            np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
            np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer, dtype=np.int64), np.ones(n - n_outer, dtype=np.int64)])
    rng = np.random.default_rng(seed)
    return x + rng.normal(scale=noise, size=x.shape), y


def split(
    x: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random split ``x_train, x_test, y_train, y_test``: round(test_fraction · N) test rows,
    at least one training row (``ValueError`` otherwise)."""
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction < 1.0):
        raise ValueError(f"test_fraction must be a number in [0, 1), got {test_fraction!r}")
    n_test = round(test_fraction * len(y))
    if n_test >= len(y):
        raise ValueError(
            f"test_fraction {test_fraction} holds out {n_test} of the {len(y)} samples: "
            "none is left for training"
        )
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled 8×8 digits, scaled to [0, 1] and split:
    ``x_train, x_test, y_train, y_test`` with integer labels 0..9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "the digits data set ships with scikit-learn: pip install 'mlp_xp[examples]'"
        ) from exc
    data = load_digits()
    return split(data.data / 16.0, data.target, test_fraction, seed)


@dataclass(frozen=True)
class DataFile:
    """What ``read_file`` found: features ``x`` (N, n_0), targets ``y`` or None, and
    the CSV header's column names (None without a header row, and for NPZ files).

    ``y`` is (N,) or (N, k) numbers, or (N,) strings when a CSV target column
    holds text (class names).
    """

    x: np.ndarray
    y: np.ndarray | None
    columns: list[str] | None


def read_file(
    path: str | os.PathLike, target_column: int | str | None = -1, header: str = "auto"
) -> DataFile:
    """Features, targets and column names from a CSV or NPZ file.

    Parameters
    ----------
    path : str or path
        ``.csv``: UTF-8 text (a byte-order mark is ignored), one sample per
        row, numbers in decimal notation separated by commas; the target
        column may hold text (class names).  ``.npz`` (``numpy.savez``):
        arrays ``x`` (N, n_0) and ``y`` (N,) or (N, k).
    target_column : int, str or None
        CSV only: the column holding the targets, by header name, else by
        index (negative counts from the end; an int, or its text when no
        column has that name); the other columns are the features.
        None: every column is a feature and ``y`` is None (for predictions);
        for an NPZ file, None ignores ``y``.
    header : {"auto", "yes", "no"}
        CSV only: whether the first row names the columns; "auto": when one
        of its cells is text above a column that holds no text (see
        ``mlp_xp._csv_table`` for what a number, a missing value and text are).

    Raises
    ------
    FileNotFoundError, ValueError
        With the file's name and what is wrong in it (for a cell: its line and column).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise ValueError(f"data file {str(path)!r} must end in .csv or .npz, got {suffix or 'no suffix'!r}")
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    if suffix == ".csv":
        return _load_csv(path, target_column, header)
    return DataFile(*_load_npz(path, target_column is not None), columns=None)


def load_file(
    path: str | os.PathLike, target_column: int | str | None = -1, header: str = "auto"
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, y)`` of ``read_file``: the features and the targets (or None) of a CSV or NPZ file."""
    found = read_file(path, target_column, header)
    return found.x, found.y


def _load_csv(path: Path, target_column: int | str | None, header: str) -> DataFile:
    table = read_table(path, header)
    width = len(table.columns)
    target = None if target_column is None else _column_index(target_column, table.header, width, path.name)
    features = [column for column in range(width) if column != target]
    x = np.column_stack([np.array(table.numbers(column), dtype=np.float64) for column in features])
    y = None if target is None else np.asarray(table.labels(target))
    return DataFile(x, y, table.header)


def _column_index(target_column: int | str, header: list[str] | None, width: int, name: str) -> int:
    """The target column's index: a header name, else an index (negative from the end) or its text."""
    if width < 2:
        raise ValueError(f"{name} has a single column: no features are left beside the targets")
    if isinstance(target_column, str) and header is not None and target_column.strip() in header:
        return header.index(target_column.strip())
    try:
        index = int(target_column)
    except ValueError:
        known = f"its columns are {header}" if header else "it has no header row"
        raise ValueError(f"target_column {target_column!r} is not a column of {name}: {known}") from None
    if not -width <= index < width:
        raise ValueError(f"target_column must be in [{-width}, {width - 1}] for {name}, got {index}")
    return index % width


def _load_npz(path: Path, with_targets: bool) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        # A damaged .npy header sends numpy to its Python 2 header parser, which warns
        # before it fails: the failure is reported, the warning would only be noise.
        with warnings.catch_warnings(), path.open("rb") as file:
            warnings.simplefilter("ignore", UserWarning)
            with np.load(file, allow_pickle=False) as arrays:
                found = dict(arrays)
    except _DAMAGED_NPZ as exc:
        raise ValueError(f"{path.name} is not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    needed = ("x", "y") if with_targets else ("x",)
    missing = [key for key in needed if key not in found]
    if missing:
        raise ValueError(
            f"{path.name} must hold arrays {' and '.join(needed)} (numpy.savez(path, x=..., y=...)); "
            f"missing {', '.join(missing)}, found {sorted(found) or 'none'}"
        )
    x, y = found["x"], found.get("y") if with_targets else None
    if x.ndim != 2:
        raise ValueError(f"{path.name}: x must have shape (N, n_features), got {x.shape}")
    if y is not None and (y.ndim not in (1, 2) or y.shape[0] != x.shape[0]):
        n = x.shape[0]
        raise ValueError(f"{path.name}: y must have shape ({n},) or ({n}, k) like x, got {y.shape}")
    _check_numbers(path, "x", x)
    if y is not None and not (y.dtype.kind in "US" and y.ndim == 1):
        _check_numbers(path, "y", y)
    return x, y


def _check_numbers(path: Path, name: str, a: np.ndarray) -> None:
    """Finite real numbers (``y`` may also be a column of strings: class names)."""
    if a.dtype.kind not in "biuf":
        labels = " (or, for y, one column of strings: class names)" if name == "y" else ""
        raise ValueError(f"{path.name}: {name} must hold numbers{labels}, got dtype {a.dtype}")
    bad = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{path.name}: {name} holds NaN or infinity, first in row {bad[0]} (of 0..{len(a) - 1})"
        )


def find_classes(*ys: np.ndarray) -> list[int] | list[str] | None:
    """The sorted distinct class labels of the target columns ``ys``, each of shape (N,).

    Strings for text columns, ints for columns of finite whole numbers (any
    sign: ±1 labels are two classes); None for other numbers or 2-D targets.
    """
    if any(y.ndim != 1 for y in ys):
        return None
    if all(y.dtype.kind in "US" for y in ys):
        return sorted(set().union(*(y.tolist() for y in ys)))
    if any(y.dtype.kind not in "biuf" for y in ys):
        return None
    values = np.unique(np.concatenate(ys))
    if values.dtype.kind == "f" and not (np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        return None
    return [int(value) for value in values]


def label_indices(y: np.ndarray, classes: list) -> np.ndarray:
    """The position in ``classes`` of each label of ``y`` (N,): int64 (N,).

    Labels compare by value (1.0 is the class 1); ``ValueError`` naming the
    labels of ``y`` that are not in ``classes``.
    """
    if y.ndim != 1:
        raise ValueError(f"class labels must be one column, shape (N,), got shape {y.shape}")
    position = {label: i for i, label in enumerate(classes)}
    labels = y.tolist()
    unknown = sorted({label for label in labels if label not in position}, key=str)
    if unknown:
        shown = ", ".join(map(repr, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(f"labels {shown} are not classes of the model, which knows {classes}")
    return np.array([position[label] for label in labels], dtype=np.int64)


def encode_labels(labels: np.ndarray, n_outputs: int, signs: bool = False) -> np.ndarray:
    """Class labels as targets of ``n_outputs`` units: one-hot rows (N, n_outputs),
    or the labels themselves as a (N, 1) column of 0/1 when ``n_outputs`` is 1;
    with ``signs``, 0 → −1 (targets of the logistic and hinge costs)."""
    columns = labels[:, None] if n_outputs == 1 else labels[:, None] == np.arange(n_outputs)
    targets = columns.astype(np.float64)
    return 2.0 * targets - 1.0 if signs else targets
