"""Data sets on the host: small ones shipped in code, scikit-learn's digits, and CSV/NPZ files.

Everything here returns NumPy arrays (the models move them to their device):
features ``x`` of shape (N, n_0) and targets ``y`` of shape (N,) or (N, k).
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path

import numpy as np


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
    """A random split ``x_train, x_test, y_train, y_test``; round(test_fraction · N) test rows."""
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction < 1.0):
        raise ValueError(f"test_fraction must be a number in [0, 1), got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
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


def load_file(path: str | os.PathLike, target_column: int | str | None = -1) -> tuple[np.ndarray, ...]:
    """Features and targets from a CSV or NPZ file: ``(x, y)``, or ``(x, None)``.

    Parameters
    ----------
    path : str or path
        ``.csv``: numbers separated by commas, one sample per row, with an
        optional header row of column names.  ``.npz`` (``numpy.savez``):
        arrays ``x`` (N, n_0) and ``y`` (N,) or (N, k).
    target_column : int, str or None
        CSV only: the column holding the targets, by index (negative counts
        from the end) or by header name; the other columns are the features.
        None: every column is a feature and ``y`` is None (for predictions);
        for an NPZ file, None ignores ``y``.

    Raises
    ------
    FileNotFoundError, ValueError
        With the file's name and what is wrong in it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise ValueError(f"data file {str(path)!r} must end in .csv or .npz, got {suffix or 'no suffix'!r}")
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    if suffix == ".csv":
        return _load_csv(path, target_column)
    return _load_npz(path, target_column is not None)


def _load_csv(path: Path, target_column: int | str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path.name} is not a readable CSV text file: {exc}") from exc
    header = rows.pop(0)[1] if rows and not _numeric(rows[0][1]) else None
    if not rows:
        raise ValueError(f"{path.name} holds no data rows")
    width = len(header) if header else len(rows[0][1])
    data = np.empty((len(rows), width))
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{path.name}, line {line}: {len(row)} columns, expected {width}")
        for column, cell in enumerate(row):
            try:
                data[i, column] = float(cell)
            except ValueError:
                where = f"{path.name}, line {line}, column {column + 1}"
                raise ValueError(f"{where}: {cell!r} is not a number") from None
    if target_column is None:
        return data, None
    target = _column_index(target_column, header, width, path.name)
    return np.delete(data, target, axis=1), data[:, target]


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def _column_index(target_column: int | str, header: list[str] | None, width: int, name: str) -> int:
    if isinstance(target_column, str):
        names = [cell.strip() for cell in header or []]
        if target_column not in names:
            known = f"its columns are {names}" if header else "it has no header row"
            raise ValueError(f"target_column {target_column!r} is not a column of {name}: {known}")
        return names.index(target_column)
    if not -width <= target_column < width:
        raise ValueError(f"target_column must be in [{-width}, {width - 1}] for {name}, got {target_column}")
    if width < 2:
        raise ValueError(f"{name} has a single column: no features are left beside the targets")
    return target_column % width


def _load_npz(path: Path, with_targets: bool) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = dict(arrays)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path.name} is not a readable .npz file: {exc}") from exc
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
    return x, y


def class_labels(y: np.ndarray) -> np.ndarray | None:
    """``y`` as integer class labels when it is a column of non-negative whole numbers, else None."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "biuf" or not np.all(np.isfinite(y)):
        return None
    if np.any(y < 0) or np.any(y != np.round(y)):
        return None
    return y.astype(np.int64)


def encode_labels(labels: np.ndarray, n_outputs: int, signs: bool = False) -> np.ndarray:
    """Class labels as targets of ``n_outputs`` units: one-hot rows (N, n_outputs),
    or the labels themselves as a (N, 1) column of 0/1 when ``n_outputs`` is 1;
    with ``signs``, 0 → −1 (targets of the logistic and hinge costs)."""
    columns = labels[:, None] if n_outputs == 1 else labels[:, None] == np.arange(n_outputs)
    targets = columns.astype(np.float64)
    return 2.0 * targets - 1.0 if signs else targets
