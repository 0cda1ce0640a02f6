"""The options of ``mlp-xp train``, ``predict``, ``evaluate`` and ``export``, each checked as it is parsed.

Every option that can be checked alone is checked here, so that a bad value
is refused before any data is read or any model is built.  Parser errors are
one line, ``mlp-xp train: error: ... (see mlp-xp train --help)``, exit status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from .._backend import BACKENDS
from .._csv_table import HEADERS
from ..costs import COSTS
from ..optimizers import OPTIMIZERS
from .commands import DISTRIBUTED, evaluate, export, predict, train
from .targets import TASKS


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The ``mlp-xp`` parser; each command stores its function as ``run`` and its parser as ``parser``."""
    parser = OneLineParser(
        prog=prog or "mlp-xp",
        description="Train multi-layer perceptrons on NumPy, CuPy, PyTorch, array-api-strict or JAX.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    fit = _command(commands, "train", train, "train a network on a data set; print its losses and test score")
    fit.add_argument("--data", required=True, help="xor, seed004, moons, digits, or a .csv / .npz file")
    _data_file_options(fit, target_help="CSV target column: index or name (default: the last)")
    fit.add_argument("--task", choices=TASKS, default="auto", help="default: decided from the targets")
    fit.add_argument("--hidden", type=_hidden, help="hidden layer widths, e.g. 64,64 (none: no hidden layer)")
    fit.add_argument("--activation", help="hidden activation (relu, tanh, sigmoid, ...)")
    fit.add_argument("--output-activation", help="default: softmax for cross-entropy, sigmoid for BCE")
    fit.add_argument("--loss", choices=sorted(COSTS), help="default: cross_entropy for classes, else mse")
    fit.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    fit.add_argument("--lr", type=_positive, help="learning rate (line_search: the first step tried)")
    fit.add_argument("--batch-size", type=_batch_size, help="samples per update; 0 or full: gradient descent")
    fit.add_argument("--epochs", type=_at_least(1))
    fit.add_argument("--seed", type=_at_least(0), default=0, help="seeds the weights, batch order and split")
    fit.add_argument("--test-fraction", type=_fraction, help="share held out for testing (default 0.25)")
    fit.add_argument("--save", metavar="MODEL.npz", help="write the trained model there")
    fit.add_argument(
        "--checkpoint", metavar="PATH", help="keep the training's progress there; run again to resume"
    )
    fit.add_argument("--checkpoint-every", type=_at_least(1), metavar="K", help="epochs between writes (1)")
    fit.add_argument("--plot", metavar="DIR", help='write PNG figures there (pip install "mlp_xp[plot]")')
    fit.add_argument("--quiet", action="store_true", help="print only the final result")
    fit.add_argument(
        "--distributed",
        choices=DISTRIBUTED,
        help="train data-parallel on the processes of mpiexec -n P (mpi) or torchrun --nproc-per-node P "
        "(torch), each on the training rows rank::P; rank 0 alone prints and writes",
    )
    for name, run, text, target_help in (
        (
            "predict",
            predict,
            "print the predictions of a saved model (one line per sample)",
            "a column to leave out",
        ),
        (
            "evaluate",
            evaluate,
            "print the accuracy or R² of a saved model on a data file",
            "default: the last",
        ),
    ):
        sub = _command(commands, name, run, text)
        sub.add_argument("model", metavar="MODEL.npz")
        sub.add_argument("--data", required=True, help="a .csv or .npz file")
        _data_file_options(sub, target_help=f"CSV target column: index or name ({target_help})")
        sub.add_argument("--task", choices=TASKS, default="auto", help="default: the model's own")
    commands.choices["predict"].add_argument("--output", help="write the predictions there (CSV)")
    onnx = _command(
        commands, "export", export, 'write a saved model as an ONNX model ("mlp_xp[onnx]")', False
    )
    onnx.add_argument("model", metavar="MODEL.npz")
    onnx.add_argument("output", metavar="MODEL.onnx", help="the ONNX file to write")
    return parser


def _command(
    commands: Any, name: str, run: Callable[..., int], text: str, devices: bool = True
) -> argparse.ArgumentParser:
    """A command's parser, with ``--backend`` and ``--device`` where ``devices``."""
    sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    sub.set_defaults(run=run, parser=sub)
    if devices:
        sub.add_argument("--backend", choices=BACKENDS, default="numpy")
        sub.add_argument(
            "--device", help="a device of the backend: cuda:0 (torch), device1 (array_api_strict), cpu (jax)"
        )
    return sub


def _data_file_options(parser: argparse.ArgumentParser, target_help: str) -> None:
    parser.add_argument("--target-column", metavar="NAME|INDEX", help=target_help)
    parser.add_argument(
        "--header",
        choices=HEADERS,
        default="auto",
        help="CSV: is the first row column names? (default: auto)",
    )


def _hidden(text: str) -> tuple[int, ...]:
    """``--hidden 64,32`` → (64, 32); "" or "none" → no hidden layer."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected widths like 64,32 (or none), got {text!r}")
    return sizes


def _batch_size(text: str) -> int:
    """``--batch-size``: an int ≥ 1, or 0 / "full" (returned as 0) for gradient descent."""
    if text.strip().lower() == "full":
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive int, or 0 or 'full' for all samples, got {text!r}"
        )
    return value


def _at_least(minimum: int) -> Callable[[str], int]:
    """The parser of an int option ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}")
        return value

    return parse


def _positive(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    """A number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 <= value < 1.0):
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value
