"""The README's example and its main job, ``python3 -m mlp_xp train --data digits``, run and
reach their promised accuracy; the examples of the user guide print what the pages promise.

``tests/test_docs_code.py`` runs every block of the pages; the tests here check what a
block prints or holds, on every backend where the page names one."""

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
GUIDE = Path(__file__).parents[1] / "docs" / "user_guide"


def python_blocks(page: str) -> list[str]:
    """The ```` ```python ```` blocks of a user-guide page, in order."""
    return re.findall(r"^```python\n(.*?)^```$", (GUIDE / page).read_text(encoding="utf-8"), re.S | re.M)


def block_with(page: str, text: str) -> str:
    """The one ```` ```python ```` block of ``page`` that contains ``text``."""
    (code,) = [block for block in python_blocks(page) if text in block]
    return code


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


def test_the_extension_example_registers_and_checks(capsys):
    code = block_with("costs_and_activations.md", "register_activation(")
    try:
        exec(code, {})
    finally:
        ACTIVATIONS.pop("swish", None)
        COSTS.pop("quartic", None)
    assert float(capsys.readouterr().out) < 1e-6


def test_the_estimator_example_reaches_its_accuracy(capsys):
    exec(python_blocks("estimators.md")[0], {})
    assert float(re.search(r"accuracy ([\d.]+)%", capsys.readouterr().out).group(1)) >= 95.0


def test_the_line_search_example_prints_what_the_page_shows(backend, capsys):
    """Seed 004's gradient descent with Armijo backtracking and the exact line search: the
    errors and steps printed are those the optimizers page shows, on every backend."""
    text = (GUIDE / "optimizers.md").read_text(encoding="utf-8")
    code, shown = re.search(
        r"Seed 004's gradient descent on its four.*?```python\n(.*?)```\n\n```text\n(.*?)```", text, re.S
    ).groups()
    exec(code.replace('backend="numpy"', f"backend={backend!r}"), {"mlp_xp": mlp_xp})
    assert capsys.readouterr().out == shown


def test_the_large_and_sparse_data_examples_run(tmp_path, monkeypatch, rng):
    """The page's examples, on files of 600 rows, 4 features and 3 classes of this test's own."""
    training = block_with("large_data.md", "sparse.csr_matrix")
    dask = block_with("large_data.md", "Incremental")
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
