"""The README's example and its main job, ``python3 -m mlp_xp train --data digits``, run and
reach their promised accuracy."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp_xp
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.cli import main
from mlp_xp.costs import COSTS

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(backend, capsys):
    code = re.search(r"## Example\n\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    exec(code.replace('backend="numpy"', f"backend={backend!r}"), {})
    accuracy = float(re.search(r"accuracy ([\d.]+)%", capsys.readouterr().out).group(1))
    assert accuracy >= 95.0


def test_main_job_trains_on_digits(backend, capsys):
    command = re.search(r"python3 -m mlp_xp (train --data digits)\b", README.read_text(encoding="utf-8"))
    assert command, "the README's quick start names the main job: python3 -m mlp_xp train --data digits"
    assert main([*command.group(1).split(), "--backend", backend]) == 0
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", capsys.readouterr().out).group(1))
    assert accuracy >= 95.0


def test_main_job_reports_a_missing_backend_as_a_usage_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", "digits", "--backend", "cupy"])
    assert stop.value.code == 2
    assert "pip install 'mlp_xp[cuda12]'" in capsys.readouterr().err


def test_readme_extension_example_registers_and_checks(capsys):
    text = README.read_text(encoding="utf-8")
    code = re.search(r"### Your own activations.*?```python\n(.*?)```", text, re.S).group(1)
    try:
        exec(code, {})
    finally:
        ACTIVATIONS.pop("swish", None)
        COSTS.pop("quartic", None)
    assert float(capsys.readouterr().out) < 1e-6


def test_readme_estimator_example_runs(capsys):
    text = README.read_text(encoding="utf-8")
    code = re.search(r"## scikit-learn estimators.*?```python\n(.*?)```", text, re.S).group(1)
    exec(code, {})
    assert float(re.search(r"accuracy ([\d.]+)%", capsys.readouterr().out).group(1)) >= 95.0


def test_readme_line_search_example_prints_what_the_readme_shows(backend, capsys):
    """Seed 004's gradient descent with Armijo backtracking and the exact line search: the
    errors and steps printed are those the README shows, on every backend."""
    text = README.read_text(encoding="utf-8")
    code, shown = re.search(
        r"### Optimizers.*?Seed 004's gradient descent.*?```python\n(.*?)```\n\n```text\n(.*?)```", text, re.S
    ).groups()
    exec(code.replace('backend="numpy"', f"backend={backend!r}"), {})
    assert capsys.readouterr().out == shown


def test_readme_large_and_sparse_data_examples_run(tmp_path, monkeypatch, rng):
    """The section's examples, on files of 600 rows, 4 features and 3 classes."""
    text = README.read_text(encoding="utf-8")
    training, dask = re.findall(r"```python\n(.*?)```", text.split("## Large and sparse data")[1], re.S)[:2]
    labels = rng.integers(0, 3, size=600)
    counts = rng.poisson(0.3, size=(600, 4)) + 2.0 * np.eye(4)[labels]
    monkeypatch.chdir(tmp_path)
    for name, array in (("x", counts), ("y", labels), ("x_test", counts[:50])):
        np.save(f"{name}.npy", array)
    namespace = {
        "model": mlp_xp.MLP([4, 8, 3], "relu", "softmax", seed=0),
        "counts": counts,
        "labels": labels,
    }
    exec(training, namespace)
    assert namespace["probabilities"].shape == (50, 3) and namespace["model"].history.n_epochs == 10
    pytest.importorskip("dask_ml")
    exec(dask, {"np": np, "mlp_xp": mlp_xp})
