"""What a model's outputs mean, kept in its file: ``task`` and ``classes`` are saved, loaded on
any backend, carried by ``to``, checked on save and on load, and optional."""

import json
import re

import numpy as np
import pytest

import mlp_xp


@pytest.mark.parametrize(
    ("task", "classes", "n_outputs"),
    [("classification", ["cat", "dog", "eel"], 3), ("classification", [-1, 1], 1), ("regression", None, 2)],
)
def test_task_and_classes_round_trip(backend, device, tmp_path, task, classes, n_outputs):
    model = mlp_xp.MLP([2, n_outputs], seed=0)
    model.task, model.classes = task, classes
    loaded = mlp_xp.load(model.save(tmp_path / "model"), backend=backend, device=device)
    assert (loaded.task, loaded.classes) == (task, classes)
    moved = model.to(backend, device)
    assert (moved.task, moved.classes) == (task, classes)


def test_a_model_that_says_nothing_writes_nothing(tmp_path):
    path = mlp_xp.MLP([2, 2], seed=0).save(tmp_path / "model")
    with np.load(path) as archive:
        metadata = json.loads(archive["metadata"].tobytes())
    assert "task" not in metadata and "classes" not in metadata
    loaded = mlp_xp.load(path)
    assert loaded.task is None and loaded.classes is None


@pytest.mark.parametrize(
    ("task", "classes", "message"),
    [
        ("sorting", None, "its task must be null, 'classification' or 'regression', got 'sorting'"),
        ("classification", ["a", "b"], "3 distinct labels .* for 3 output"),
        ("classification", ["a", "b", "a"], "3 distinct labels"),
        ("classification", [0, 1, "two"], "all numbers or all strings"),
        ("classification", [True, False, 2], "all numbers or all strings"),
        ("classification", [0.0, 1.0, float("nan")], "all numbers or all strings"),
        ("regression", [0, 1, 2], "with task 'classification'"),
        (None, [0, 1, 2], "with task 'classification'"),
    ],
)
def test_bad_labels_are_refused_on_save_and_on_load(tmp_path, task, classes, message):
    model = mlp_xp.MLP([2, 3], seed=0)
    model.task, model.classes = task, classes
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match=f"^cannot save the model to .*{message}"):
        model.save(path)
    assert not path.exists()
    model.task, model.classes = None, None
    model.save(path)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    metadata.update(task=task, classes=classes)
    text = json.dumps(metadata).replace("NaN", "1e999")  # JSON has no NaN; 1e999 reads as inf
    arrays["metadata"] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    if "1e999" in text:  # refused while the metadata is parsed, before the labels are looked at
        message = "1e999 is not a finite number"
    with pytest.raises(ValueError, match=f"^cannot load {re.escape(repr(str(path)))}: .*{message}"):
        mlp_xp.load(path)
