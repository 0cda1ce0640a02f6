"""The ``mlp-xp`` command line (also ``python -m mlp_xp``): train, predict, evaluate, export.

    mlp-xp train --data digits --save digits.npz --plot figures/
    mlp-xp evaluate digits.npz --data test.csv
    mlp-xp predict digits.npz --data new.csv --output labels.csv
    mlp-xp export digits.npz digits.onnx

One module per job: ``parser`` (the options), ``commands`` (the four
commands), ``presets`` (the shipped data sets and their defaults), ``data``
(reading and splitting data), ``targets`` (the task and the class labels),
``predictions`` (what a model, trained or saved, predicts and scores) and
``outputs`` (the model file and the figures).

Bad usage (an unknown data set, a missing optional package, an unreadable
file, an invalid option) ends with exit status 2 and a one-line message; a
diverging training with status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .parser import build_parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Errors print one line to stderr and raise ``SystemExit``, as argparse does:
    status 2 for bad usage (options, data, files, missing packages), 1 when
    training diverged.
    """
    args = build_parser(prog).parse_args(argv)
    command: argparse.ArgumentParser = args.parser
    try:
        return args.run(args)
    except FloatingPointError as exc:
        command.exit(1, _one_line(command.prog, exc))
    except (ImportError, RuntimeError, ValueError, TypeError, OSError) as exc:
        command.exit(2, _one_line(command.prog, exc))


def _one_line(prog: str, error: Exception) -> str:
    return f"{prog}: error: {' '.join(str(error).split())}\n"


__all__ = ["main"]
