"""The task of ``train`` (classification or regression), its classes, and the targets its loss reads.

``--task auto`` decides from the targets of the whole data set (training and
test rows together):

- a column of text (class names): classification;
- one column of whole numbers (any sign: ±1 labels are two classes) with 2 to
  ``MAX_AUTO_CLASSES`` distinct values, and at least two rows per distinct
  value: classification;
- anything else (real numbers, several columns, whole numbers with many
  distinct values such as prices or ages): regression.

The classes are the distinct labels, sorted; output unit k stands for the
k-th one (a single sigmoid output for two classes: the second class where the
output is ½ or more).  They are saved with the model, so that ``predict``
prints the original labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import datasets
from ..costs import Cost

TASKS = ("auto", "classification", "regression")
MAX_AUTO_CLASSES = 20


@dataclass(frozen=True)
class Task:
    """``name`` "classification" or "regression", the sorted ``classes`` of a
    classification, and the ``reason`` the task was chosen."""

    name: str
    classes: list[Any] | None
    reason: str

    def describe(self) -> str:
        """ "task classification (auto: ...); classes 0, 1" """
        text = f"task {self.name} ({self.reason})"
        if self.classes is not None:
            more = ", ..." if len(self.classes) > 12 else ""
            text += f"; classes {', '.join(map(str, self.classes[:12]))}{more}"
        return text


def choose_task(option: str, y_train: Any, y_test: Any) -> Task:
    """The task ``--task option`` asks for, its classes, and why; ``ValueError`` when
    the targets cannot serve it (text for regression, real numbers for classes)."""
    classes: list[Any] | None = datasets.find_classes(y_train, y_test)
    first = classes[0] if classes else None
    text = isinstance(first, str)
    if option == "regression":
        if text:
            raise ValueError(f"--task regression needs numbers, but the targets are text such as {first!r}")
        return Task("regression", None, "--task regression")
    task = Task("classification", classes, "--task classification")
    if option == "auto":
        task = _auto(classes, text, len(y_train) + len(y_test))
    if task.name == "classification" and (classes is None or len(classes) < 2):
        raise ValueError(
            "--task classification needs one column of class labels, text or whole numbers "
            f"(such as 0, 1, 2 or -1, 1), of at least 2 classes; got {classes or 'other numbers'}"
        )
    return task


def _auto(classes: list[Any] | None, text: bool, n_rows: int) -> Task:
    """``--task auto``'s rule (see the module's docstring)."""
    if text:
        return Task("classification", classes, "auto: the targets are text")
    if classes is None:
        return Task("regression", None, "auto: the targets are not one column of whole numbers")
    counted = f"{len(classes)} distinct whole numbers in {n_rows} rows"
    if 2 <= len(classes) <= MAX_AUTO_CLASSES and 2 * len(classes) <= n_rows:
        return Task("classification", classes, f"auto: {counted}; --task regression to predict numbers")
    return Task(
        "regression",
        None,
        f"auto: {counted}, not classes (2 to {MAX_AUTO_CLASSES}, at least two rows each); "
        "--task classification to override",
    )


@dataclass(frozen=True)
class Targets:
    """The number of output units and the training and test targets that the loss reads."""

    n_outputs: int
    train: Any
    test: Any


def encode_targets(task: Task, cost: Cost, output: str, y_train: Any, y_test: Any) -> Targets:
    """Classes: one output per class, or a single sigmoid unit for two classes with a
    sigmoid output; class indices for cross-entropy, one-hot (or ±1) rows otherwise.
    Real targets: one output per target column, for a loss of real targets."""
    if task.classes is None:
        if cost.targets != "real":
            raise ValueError(
                f"--loss {cost.name} needs class labels (its targets are {cost.targets} values), "
                f"but the task is regression ({task.reason})"
            )
        return Targets(1 if y_train.ndim == 1 else y_train.shape[1], y_train, y_test)
    n_outputs = 1 if len(task.classes) == 2 and output == "sigmoid" else len(task.classes)
    train, test = (datasets.label_indices(y, task.classes) for y in (y_train, y_test))
    if cost.targets == "distribution":
        return Targets(n_outputs, train, test)
    signs = cost.targets == "sign"
    return Targets(n_outputs, *(datasets.encode_labels(t, n_outputs, signs) for t in (train, test)))


def describe_targets(task: Task, n_outputs: int) -> str:
    if task.classes is None:
        return f"{n_outputs} real target{'s' * (n_outputs > 1)}"
    n_classes = len(task.classes)
    return f"{n_classes} classes (one sigmoid output)" if n_outputs == 1 else f"{n_classes} classes"
