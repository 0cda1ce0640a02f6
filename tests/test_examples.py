"""The README's example and ``python -m mlp_xp`` run and reach their promised accuracy."""

import re
from pathlib import Path

from mlp_xp.__main__ import main

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(backend, capsys):
    code = re.search(r"## Example\n\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    exec(code.replace('backend="numpy"', f"backend={backend!r}"), {})
    accuracy = float(re.search(r"accuracy ([\d.]+)%", capsys.readouterr().out).group(1))
    assert accuracy >= 95.0


def test_main_job_trains_on_digits(backend, capsys):
    assert main(["--backend", backend]) >= 0.95
    assert "test accuracy" in capsys.readouterr().out
