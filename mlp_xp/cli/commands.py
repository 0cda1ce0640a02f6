"""The commands: ``train`` fits a network; ``predict``, ``evaluate`` and ``export`` read a saved model back.

Each takes the parsed options and returns the exit status; bad usage raises
``ValueError`` (or ``TypeError``, ``OSError``, ``ImportError``), which ``main``
turns into a one-line message and exit status 2.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._backend import device_from_name, dtype_name
from .._comm import LOCAL, Communicator
from .._engines import communicator, launched
from .._validation import check_loss_pair
from ..costs import Cost, get_cost
from ..history import History
from ..io import load
from ..model import MLP
from ..progress import Progress
from .data import TrainingData, read_data, training_data
from .outputs import check_outputs, write_figures
from .predictions import model_task, predicted_labels, predicted_values, score_text
from .presets import PRESETS, Preset, WeightRecorder, fit_options
from .targets import Targets, Task, choose_task, describe_targets, encode_targets

DISTRIBUTED = ("mpi", "torch")  # --distributed: the launcher's communicator, see _comm.launched


@dataclass(frozen=True)
class TrainingPlan:
    """Everything ``train`` decided before training: data, task, loss, targets, model, ``fit``'s options."""

    data: TrainingData
    task: Task
    cost: Cost
    targets: Targets
    model: MLP
    options: dict[str, Any]
    recorder: WeightRecorder | None


def train(args: Any) -> int:
    """``mlp-xp train``: fit a network, print its losses and test score, save and plot it.

    With ``--distributed``, every process reads the data and trains on its training
    rows rank::P (all of them validate on the test rows); rank 0 alone prints,
    writes the model and draws the figures.
    """
    if args.checkpoint_every is not None and not args.checkpoint:
        raise ValueError("--checkpoint-every needs --checkpoint PATH")
    check_outputs(args.save, args.plot, args.checkpoint)
    with launched(args.distributed, _device(args)) as comm:
        return _train(args, communicator(comm))


def _train(args: Any, comm: Communicator) -> int:
    plan = _plan(args, PRESETS.get(args.data, Preset()))
    first = comm.rank == 0
    say = print if first and not args.quiet else (lambda *a: None)
    _describe(plan, args.optimizer, say, comm.size)
    history = _fit(plan, args.quiet or not first, comm)
    data, model = plan.data, plan.model
    held_out = len(data.x_test) > 0
    where, x, y = ("test", data.x_test, data.y_test) if held_out else ("training", data.x_train, data.y_train)
    if first:
        print(
            f"final training loss {history.loss[-1]:.4g}; {where} {score_text(model, x, y, plan.task.name)}"
        )
    if args.save:
        say(f"saved the model to {model.save(args.save, comm=comm)}")
    if args.plot and first:
        title = f"{data.name}: {history.n_epochs} epochs"
        path = None if plan.recorder is None else plan.recorder.path
        loss = plan.cost.name
        for written in write_figures(
            args.plot, title, loss, model, history, data.x_train, data.y_train, path
        ):
            say(f"wrote {written}")
    return 0


def _fit(plan: TrainingPlan, quiet: bool, comm: Communicator = LOCAL) -> History:
    """Train the plan's model, with a progress bar (or lines) unless ``quiet``; return its History.
    With a communicator, on this process's training rows rank::P."""
    data, options, rank, size = plan.data, plan.options, comm.rank, comm.size
    validation = (data.x_test, plan.targets.test) if len(data.x_test) else None
    with Progress(options["epochs"]) if not quiet else nullcontext() as progress:
        callbacks = [c for c in (plan.recorder, progress) if c is not None]
        return plan.model.fit(
            data.x_train[rank::size],
            plan.targets.train[rank::size],
            plan.cost.name,
            validation_data=validation,
            callbacks=callbacks,
            comm=comm,
            **options,
        )


def _plan(args: Any, preset: Preset) -> TrainingPlan:
    """Read the data, choose the task and the loss, build the model: everything checked before training."""
    data = training_data(args, preset)
    task = choose_task(args.task, data.y_train, data.y_test)
    cost = get_cost(args.loss or preset.loss or ("cross_entropy" if task.classes else "mse"))
    output = args.output_activation or preset.output_activation or cost.output_activation or "identity"
    targets = encode_targets(task, cost, output, data.y_train, data.y_test)
    model = MLP(
        [data.x_train.shape[1], *(preset.hidden if args.hidden is None else args.hidden), targets.n_outputs],
        args.activation or preset.activation,
        output,
        backend=args.backend,
        device=_device(args),
        seed=args.seed,
    )
    check_loss_pair(cost, model.phis[-1])
    model.task, model.classes = task.name, task.classes
    options, recorder = fit_options(args, preset, model)
    return TrainingPlan(data, task, cost, targets, model, options, recorder)


def _describe(plan: TrainingPlan, optimizer: str, say: Any, processes: int = 1) -> None:
    """The model, the data, the training options, the task and the header row, before training."""
    data, options = plan.data, plan.options
    say(plan.model)
    if processes > 1:
        say(
            f"data-parallel on {processes} processes: each trains on the training rows rank::{processes}; "
            "a step combines one batch of every process"
        )
    say(
        f"{data.name}: {len(data.x_train)} training and {len(data.x_test)} test samples, "
        f"{data.x_train.shape[1]} features, {describe_targets(plan.task, plan.targets.n_outputs)}; "
        f"loss {plan.cost.name}, {optimizer} lr {options['lr']:g}, batch size "
        f"{options['batch_size'] or 'all (gradient descent)'}, {options['epochs']} epochs"
    )
    say(plan.task.describe() + (f"; {data.header}" if data.header else ""))
    checkpoint = options["checkpoint"]
    if checkpoint is not None:
        found = "; continuing from it" if checkpoint.path.exists() else ""
        say(f"checkpoint {checkpoint.path}, written every {checkpoint.every} epoch(s){found}")


def predict(args: Any) -> int:
    """``mlp-xp predict``: one line per sample, the class or the outputs, to stdout or ``--output``."""
    model = load(args.model, backend=args.backend, device=_device(args))
    x = read_data(args, targets=False).x
    if model_task(model, args.task) == "classification":
        lines = [
            ",".join(map(str, row)) if isinstance(row, list) else str(row)
            for row in predicted_labels(model, x)
        ]
    else:
        lines = [",".join(f"{v:.9g}" for v in row) for row in predicted_values(model, x).tolist()]
    text = "".join(line + "\n" for line in lines)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def evaluate(args: Any) -> int:
    """``mlp-xp evaluate``: the accuracy (classes) or R² (real targets) of a saved model on a file."""
    model = load(args.model, backend=args.backend, device=_device(args))
    found = read_data(args, targets=True)
    task = model_task(model, args.task)
    print(f"{score_text(model, found.x, found.y, task)} on {len(found.x)} samples of {args.data}")
    return 0


def export(args: Any) -> int:
    """``mlp-xp export``: a saved model (an MLP or an estimator) as an ONNX model (``to_onnx``)."""
    model = load(args.model)
    network = getattr(model, "model_", model)
    path, dtype = model.to_onnx(args.output), dtype_name(network.xp, network.dtype)
    print(f"wrote {path}: input x of shape (N, {network.layer_sizes[0]}), {dtype}")
    return 0


def _device(args: Any) -> Any:
    """``--device`` as a device object of ``--backend`` (None: the backend's default)."""
    return None if args.device is None else device_from_name(args.backend, args.device)
