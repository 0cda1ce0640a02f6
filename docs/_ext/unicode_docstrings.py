"""Docstrings whose formulas are Unicode text, as a terminal shows them: |z|, ‖g‖, σ(ζ).

reStructuredText reads ``|text|`` as a substitution reference, so an absolute
value |r| would be an error. Before a docstring is parsed, every ``|`` outside an
inline literal is escaped; the page shows the docstring as ``help()`` does.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

LITERAL = re.compile(r"(``.+?``)")


def setup(app: Sphinx) -> dict[str, object]:
    # After numpydoc (priority 500), which validates the docstring as written.
    app.connect("autodoc-process-docstring", _escape_bars, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def escape_bars(line: str) -> str:
    """``line`` with each ``|`` outside inline literals escaped."""
    parts = LITERAL.split(line)
    return "".join(part if i % 2 else part.replace("|", r"\|") for i, part in enumerate(parts))


def _escape_bars(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = [escape_bars(line) for line in lines]
