"""The data of a command: a shipped data set or a CSV/NPZ file, split for training.

``--target-column`` and ``--header`` describe CSV files; given for a shipped
data set or an NPZ file (whose targets are its array ``y``) they are refused
rather than ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import datasets
from .presets import LOADERS, Preset


@dataclass(frozen=True)
class TrainingData:
    """The split data of ``train``; ``header``: what was decided about a CSV file's first row."""

    name: str
    x_train: Any
    x_test: Any
    y_train: Any
    y_test: Any
    header: str | None = None


def training_data(args: Any, preset: Preset) -> TrainingData:
    """``--data`` split by ``--test-fraction`` (or the preset's) and ``--seed``."""
    fraction = preset.test_fraction if args.test_fraction is None else args.test_fraction
    if args.data in LOADERS:
        _refuse_csv_options(args, f"the {args.data} data set")
        return TrainingData(args.data, *LOADERS[args.data](fraction, args.seed))
    if Path(args.data).suffix.lower() not in (".csv", ".npz"):
        names = ", ".join(LOADERS)
        raise ValueError(f"--data must be one of {names} or a .csv or .npz file, got {args.data!r}")
    found = read_data(args, targets=True)
    if found.y is None:  # read_file gives the targets of a target column
        raise ValueError(f"--data {args.data!r} holds no targets")
    split = datasets.split(found.x, found.y, fraction, args.seed)
    return TrainingData(Path(args.data).name, *split, header=describe_header(args, found))


def read_data(args: Any, targets: bool) -> datasets.DataFile:
    """The file ``--data``: with its targets (``--target-column``, default the last
    column) or, for ``targets=False``, every column but ``--target-column`` as features."""
    if Path(args.data).suffix.lower() == ".npz":
        _refuse_csv_options(args, f"{Path(args.data).name} (its targets are its array y)")
    column = -1 if targets and args.target_column is None else args.target_column
    return datasets.read_file(args.data, column, args.header)


def describe_header(args: Any, found: datasets.DataFile) -> str | None:
    """ "header row: a, b, label" or "no header row ...", for a CSV file; None otherwise."""
    if Path(args.data).suffix.lower() != ".csv":
        return None
    how = "" if args.header == "auto" else f" (--header {args.header})"
    if found.columns is None:
        hint = (
            ", the first row is data: --header yes if it names the columns" if args.header == "auto" else ""
        )
        return f"no header row{how}{hint}"
    return f"header row{how}: {', '.join(found.columns)}"


def _refuse_csv_options(args: Any, what: str) -> None:
    for option, value, default in (
        ("--target-column", args.target_column, None),
        ("--header", args.header, "auto"),
    ):
        if value != default:
            raise ValueError(f"{option} applies to .csv files, not to {what}")
