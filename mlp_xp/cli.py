"""The ``mlp-xp`` command line (also ``python -m mlp_xp``): train, predict, evaluate.

    mlp-xp train --data digits --save digits.npz --plot figures/
    mlp-xp evaluate digits.npz --data test.csv
    mlp-xp predict digits.npz --data new.csv --output labels.csv

Bad usage (an unknown data set, a missing optional package, an unreadable
file, an invalid option) ends with exit status 2 and a one-line message; a
diverging training with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import datasets, plots
from ._backend import BACKENDS, to_numpy
from .costs import COSTS, get_cost
from .io import load
from .metrics import score
from .model import MLP
from .optimizers import OPTIMIZERS
from .persistence import save
from .progress import Progress

TASKS = ("auto", "classification", "regression")
# Learning rates for the optimizers other than SGD, whose rate comes from the data set's preset.
DEFAULT_LR = {"adam": 0.01, "line_search": 1.0}


@dataclass(frozen=True)
class Preset:
    """Defaults of ``train`` for one data set; options given on the command line win.

    ``loss=None``: cross-entropy for class labels, mse for real targets;
    ``output_activation=None``: the one the loss needs, else identity;
    ``lr`` is SGD's (see ``DEFAULT_LR``); ``batch_size=None``: gradient descent.
    """

    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    loss: str | None = None
    output_activation: str | None = None
    lr: float = 0.1
    batch_size: int | None = 32
    epochs: int = 50
    test_fraction: float = 0.25


PRESETS = {
    "xor": Preset(hidden=(8,), activation="tanh", lr=0.5, batch_size=None, epochs=500, test_fraction=0.0),
    # Seed 004's worked example: one sigmoid neuron, squared error, gradient descent.
    "seed004": Preset(
        hidden=(),
        loss="mse",
        output_activation="sigmoid",
        lr=2.0,
        batch_size=None,
        epochs=100,
        test_fraction=0.0,
    ),
    "moons": Preset(hidden=(32, 32), epochs=200),
    "digits": Preset(epochs=40),
}
LOADERS = {
    "xor": lambda seed: datasets.xor(),
    "seed004": lambda seed: datasets.seed004_points(),
    "moons": lambda seed: datasets.two_moons(seed=seed),
}


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Errors print one line to stderr and raise ``SystemExit``, as argparse does:
    status 2 for bad usage (options, data, files, missing packages), 1 when
    training diverged.
    """
    args = _parser(prog).parse_args(argv)
    try:
        return args.run(args)
    except FloatingPointError as exc:
        args.parser.exit(1, f"{args.parser.prog}: error: {exc}\n")
    except (ImportError, RuntimeError, ValueError, TypeError, OSError) as exc:
        args.parser.exit(2, f"{args.parser.prog}: error: {exc}\n")


def train(args: argparse.Namespace) -> int:
    """``mlp-xp train``: fit a network, print its losses and test score, save and plot it."""
    preset = PRESETS.get(args.data, Preset())
    _check_outputs(args)
    x_train, x_test, y_train, y_test = _load_split(args, preset)
    task = _task(args.task, y_train)
    cost = get_cost(args.loss or preset.loss or ("cross_entropy" if task == "classification" else "mse"))
    output = args.output_activation or preset.output_activation or cost.output_activation or "identity"
    n_outputs, t_train, t_test = _targets(task, cost, output, y_train, y_test)
    hidden = preset.hidden if args.hidden is None else args.hidden
    model = MLP(
        [x_train.shape[1], *hidden, n_outputs],
        args.activation or preset.activation,
        output,
        backend=args.backend,
        device=args.device,
        seed=args.seed,
    )
    options, recorder = _fit_options(args, preset, model)
    name, say = Path(args.data).name, ((lambda *a: None) if args.quiet else print)
    say(model)
    say(
        f"{name}: {len(x_train)} training and {len(x_test)} test samples, {x_train.shape[1]} features, "
        f"{_describe_targets(task, n_outputs)}; loss {cost.name}, {args.optimizer} lr "
        f"{options['lr']:g}, batch size {options['batch_size'] or 'all (gradient descent)'}, "
        f"{options['epochs']} epochs"
    )
    validation = (x_test, t_test) if len(x_test) else None
    with Progress(options["epochs"]) if not args.quiet else nullcontext() as progress:
        callbacks = [c for c in (recorder, progress) if c is not None]
        history = model.fit(
            x_train, t_train, cost.name, validation_data=validation, callbacks=callbacks, **options
        )
    where, x_eval, y_eval = ("test", x_test, y_test) if len(x_test) else ("training", x_train, y_train)
    print(f"final training loss {history.loss[-1]:.4g}; {where} {_score(model, x_eval, y_eval, task)}")
    if args.save:
        # _WeightsOnly has no config to store: the model is then saved without its optimizer.
        keep_optimizer = not isinstance(options["optimizer"], _WeightsOnly)
        say(f"saved the model to {save(model, args.save, include_optimizer=keep_optimizer)}")
    if args.plot:
        path = None if recorder is None else recorder.path
        for written in _plots(args.plot, name, cost.name, model, history, task, x_train, y_train, path):
            say(f"wrote {written}")
    return 0


def _fit_options(args: argparse.Namespace, preset: Preset, model: MLP) -> tuple[dict[str, Any], Any]:
    """``fit``'s optimizer, lr, batch_size and epochs, and for seed 004's neuron a weight recorder.

    Seed 004's neuron has no bias: there the optimizer keeps β at its initial
    0 (``_WeightsOnly``), so that the path of (w₁₁, w₁₂) lies on the seed's
    surface E(w₁₁, w₁₂), and a callback records that path.
    """
    optimizer, recorder = args.optimizer, None
    if args.data == "seed004" and model.layer_sizes == [2, 1]:
        optimizer, recorder = _WeightsOnly(OPTIMIZERS[optimizer](), n_weights=1), _WeightRecorder([])
        recorder(model, None)  # w⁰, before the first epoch
    default_lr = preset.lr if args.optimizer == "sgd" else DEFAULT_LR[args.optimizer]
    options = {
        "optimizer": optimizer,
        "lr": default_lr if args.lr is None else args.lr,
        "batch_size": preset.batch_size if args.batch_size is None else (args.batch_size or None),
        "epochs": preset.epochs if args.epochs is None else args.epochs,
    }
    return options, recorder


def predict(args: argparse.Namespace) -> int:
    """``mlp-xp predict``: one line per sample, the class or the outputs, to stdout or ``--output``."""
    model = load(args.model, backend=args.backend, device=args.device)
    x, _ = datasets.load_file(args.data, target_column=args.target_column)
    values = _predict(model, x, _model_task(args.task, model)).tolist()
    lines = [",".join(f"{v:.9g}" for v in row) if isinstance(row, list) else str(row) for row in values]
    text = "".join(line + "\n" for line in lines)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``mlp-xp evaluate``: the accuracy (classes) or R² (real targets) of a saved model on a file."""
    model = load(args.model, backend=args.backend, device=args.device)
    x, y = datasets.load_file(args.data, target_column=args.target_column)
    print(f"{_score(model, x, y, _model_task(args.task, model))} on {len(x)} samples of {args.data}")
    return 0


@dataclass(frozen=True)
class _WeightsOnly:
    """An optimizer that updates the weights Ω with ``inner`` and leaves the biases β as they are.

    ``params`` and ``grads`` are ``weights + biases``; the first ``n_weights``
    are the weights.  The biases' gradients are replaced by zeros, so SGD,
    Adam and the line search all keep β unchanged.
    """

    inner: Any
    n_weights: int

    @property
    def needs_objective(self) -> bool:
        return getattr(self.inner, "needs_objective", False)

    def init(self, params: Sequence[Any]) -> Any:
        return self.inner.init(params)

    def step(
        self, params: Sequence[Any], grads: Sequence[Any], state: Any, lr: float, **objective: Any
    ) -> Any:
        grads = [*grads[: self.n_weights], *(0.0 * g for g in grads[self.n_weights :])]
        return self.inner.step(params, grads, state, lr, **objective)


@dataclass(frozen=True)
class _WeightRecorder:
    """A ``fit`` callback appending the host copy of a one-neuron model's weights (n_0,) to ``path``."""

    path: list

    def __call__(self, model: MLP, history: Any) -> bool:
        self.path.append(to_numpy(model.weights[0])[:, 0].copy())
        return False


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable --save and --plot targets before training, not after."""
    if args.save and not Path(args.save).resolve().parent.is_dir():
        raise ValueError(f"--save {args.save}: the folder {Path(args.save).parent} does not exist")
    if args.plot:
        plots.require_matplotlib()
        Path(args.plot).mkdir(parents=True, exist_ok=True)


def _load_split(args: argparse.Namespace, preset: Preset) -> tuple[Any, Any, Any, Any]:
    test_fraction = preset.test_fraction if args.test_fraction is None else args.test_fraction
    if args.data == "digits":
        return datasets.digits(test_fraction, args.seed)
    if args.data in LOADERS:
        x, y = LOADERS[args.data](args.seed)
    elif Path(args.data).suffix.lower() in (".csv", ".npz"):
        x, y = datasets.load_file(args.data, target_column=args.target_column)
    else:
        names = ", ".join([*LOADERS, "digits"])
        raise ValueError(f"--data must be one of {names} or a .csv or .npz file, got {args.data!r}")
    return datasets.split(x, y, test_fraction, args.seed)


def _task(task: str, y: Any) -> str:
    """``task``, or for "auto": classification when ``y`` holds class labels 0, 1, ..."""
    labels = datasets.class_labels(y)
    if task == "classification" and labels is None:
        raise ValueError("--task classification needs targets that are class labels 0, 1, 2, ...")
    if task == "auto":
        return "regression" if labels is None else "classification"
    return task


def _targets(task: str, cost: Any, output: str, y_train: Any, y_test: Any) -> tuple[int, Any, Any]:
    """The number of output units and the training and test targets that ``cost`` reads.

    Classes: K = largest label + 1 outputs, or a single sigmoid unit for two
    classes with a sigmoid output; labels for cross-entropy, one-hot (or ±1)
    rows otherwise.  Real targets: one output per target column.
    """
    if task == "regression":
        return (1 if y_train.ndim == 1 else y_train.shape[1]), y_train, y_test
    train, test = datasets.class_labels(y_train), datasets.class_labels(y_test)
    n_classes = max(2, int(train.max()) + 1, int(test.max()) + 1 if len(test) else 0)
    n_outputs = 1 if n_classes == 2 and output == "sigmoid" else n_classes
    if cost.targets == "distribution":
        return n_outputs, train, test
    signs = cost.targets == "sign"
    return n_outputs, *(datasets.encode_labels(t, n_outputs, signs) for t in (train, test))


def _describe_targets(task: str, n_outputs: int) -> str:
    if task == "regression":
        return f"{n_outputs} real target{'s' * (n_outputs > 1)}"
    return "2 classes (one sigmoid output)" if n_outputs == 1 else f"{n_outputs} classes"


def _model_task(task: str, model: MLP) -> str:
    """``task``, or for "auto": classification for softmax and sigmoid outputs."""
    if task != "auto":
        return task
    return "classification" if model.phis[-1].name in ("softmax", "sigmoid") else "regression"


def _predict(model: MLP, x: Any, task: str) -> Any:
    """Host predictions: class labels (arg-max, or σ ≥ ½ for one output), or the outputs αᴸ."""
    xp, output = model.xp, model.forward(x)
    if task == "regression":
        return to_numpy(output)
    if output.shape[1] == 1:
        return to_numpy(xp.astype(output[:, 0] >= 0.5, xp.int64))
    return to_numpy(xp.argmax(output, axis=1))


def _score(model: MLP, x: Any, y: Any, task: str) -> str:
    """ "accuracy 97.1%" or "R² 0.953" of the model on (x, y)."""
    if task == "classification":
        labels = datasets.class_labels(y)
        n_classes = max(2, model.layer_sizes[-1])
        if labels is None or (len(labels) and labels.max() >= n_classes):
            raise ValueError(f"the targets must be class labels 0..{n_classes - 1} for this model")
        return f"accuracy {(_predict(model, x, task) == labels).mean():.1%}"
    xp, output = model.xp, model.forward(x)
    y = xp.reshape(xp.asarray(y, dtype=model.dtype, device=model.device), (output.shape[0], -1))
    return f"R² {float(score(xp, COSTS['mse'], y, output)):.4g}"


def _plots(
    folder: str,
    name: str,
    loss: str,
    model: MLP,
    history: Any,
    task: str,
    x: Any,
    y: Any,
    weights_path: list | None,
) -> list[Path]:
    """loss.png; decision_boundary.png for two input features; loss_surface.png for seed 004."""
    folder = Path(folder)
    title = f"{name}: {history.n_epochs} epochs"
    written = [plots.loss_curves(history, folder / "loss.png", f"{title}, loss {loss}", "test loss")]
    if task == "classification" and x.shape[1] == 2:
        classify = lambda points: _predict(model, points, task)  # noqa: E731
        labels = datasets.class_labels(y)
        path = folder / "decision_boundary.png"
        written.append(plots.decision_boundary(classify, x, labels, path, f"{title}, predicted classes"))
    if weights_path is not None:
        written.append(plots.seed004_surface(weights_path, folder / "loss_surface.png"))
    return written


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


def _column(text: str) -> int | str:
    """``--target-column``: an index (negative from the end) or a header name."""
    try:
        return int(text)
    except ValueError:
        return text


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "mlp-xp",
        description="Train multi-layer perceptrons on NumPy, CuPy, PyTorch or array-api-strict.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    fit = _command(commands, "train", train, "train a network on a data set; print its losses and test score")
    fit.add_argument("--data", required=True, help="xor, seed004, moons, digits, or a .csv / .npz file")
    fit.add_argument("--target-column", type=_column, default=-1, help="CSV target column: index or name")
    fit.add_argument("--task", choices=TASKS, default="auto", help="default: classes for labels 0, 1, ...")
    fit.add_argument("--hidden", type=_hidden, help="hidden layer widths, e.g. 64,64 (none: no hidden layer)")
    fit.add_argument("--activation", help="hidden activation (relu, tanh, sigmoid, ...)")
    fit.add_argument("--output-activation", help="default: softmax for cross-entropy, sigmoid for BCE")
    fit.add_argument("--loss", choices=sorted(COSTS), help="default: cross_entropy for classes, else mse")
    fit.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    fit.add_argument("--lr", type=float, help="learning rate (line_search: the first step tried)")
    fit.add_argument("--batch-size", type=_batch_size, help="samples per update; 0 or full: gradient descent")
    fit.add_argument("--epochs", type=int)
    fit.add_argument("--seed", type=int, default=0, help="seeds the weights, batch order and split")
    fit.add_argument("--test-fraction", type=float, help="share held out for testing (default 0.25)")
    fit.add_argument("--save", metavar="MODEL.npz", help="write the trained model there")
    fit.add_argument("--plot", metavar="DIR", help='write PNG figures there (pip install "mlp_xp[plot]")')
    fit.add_argument("--quiet", action="store_true", help="print only the final result")
    for name, run, text in (
        ("predict", predict, "print the predictions of a saved model (one line per sample)"),
        ("evaluate", evaluate, "print the accuracy or R² of a saved model on a data file"),
    ):
        sub = _command(commands, name, run, text)
        sub.add_argument("model", metavar="MODEL.npz")
        sub.add_argument("--data", required=True, help="a .csv or .npz file")
        sub.add_argument("--task", choices=TASKS, default="auto", help="default: classes for softmax/sigmoid")
    commands.choices["predict"].add_argument(
        "--target-column", type=_column, help="a CSV column to leave out"
    )
    commands.choices["predict"].add_argument("--output", help="write the predictions there (CSV)")
    commands.choices["evaluate"].add_argument("--target-column", type=_column, default=-1)
    return parser


def _command(commands: Any, name: str, run: Any, text: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    sub.set_defaults(run=run, parser=sub)
    sub.add_argument("--backend", choices=BACKENDS, default="numpy")
    sub.add_argument("--device", help="a device of the backend, e.g. cuda:0 for torch")
    return sub
