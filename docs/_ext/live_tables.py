"""Reference material read from the package at build time, so that it cannot fall behind:

- ``mlp-xp-registry`` (``activations``, ``costs`` or ``optimizers``): the built-in
  entries of ``ACTIVATIONS``, ``COSTS`` or ``OPTIMIZERS`` as a table;
- ``mlp-xp-data`` (a public data name): its entry in the API reference, and its
  summary in the API tables;
- ``mlp-xp-help`` (``train``, ``predict``, ``evaluate``, ``export`` or nothing): the
  ``--help`` text of ``mlp-xp``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager

from docutils import nodes
from rst_text import list_table, parse_rst
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from mlp_xp import ACTIVATIONS, COSTS, OPTIMIZERS
from mlp_xp.cli.parser import build_parser

HELP_WIDTH = 88
TARGETS = {
    "real": "real numbers",
    "sign": "±1",
    "probability": "in [0, 1]",
    "distribution": "class labels or one-hot rows",
    "non_negative": "≥ 0",
}
DATA = {
    "mlp_xp.ACTIVATIONS": (
        "dict[str, Activation]: the activations by name, as ``MLP(activation=...)`` and "
        "``output_activation=`` take them; :func:`~mlp_xp.register_activation` adds to it. The built-ins:",
        "activations",
    ),
    "mlp_xp.COSTS": (
        "dict[str, Cost]: the costs by name, as ``fit(loss=...)`` takes them; "
        ":func:`~mlp_xp.register_cost` adds to it. The built-ins:",
        "costs",
    ),
    "mlp_xp.OPTIMIZERS": (
        "dict[str, type]: the built-in optimizer classes by name, as ``fit(optimizer=...)`` takes "
        "them (the name gives the class with its defaults):",
        "optimizers",
    ),
    "mlp_xp.__version__": ("str: the version of mlp_xp.", None),
}


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("mlp-xp-registry", RegistryTable)
    app.add_directive("mlp-xp-data", DataEntry)
    app.add_directive("mlp-xp-help", CommandHelp)
    app.connect("autodoc-process-docstring", _data_summary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _function(f: object) -> str:
    return f":func:`~{f.__module__}.{f.__name__}`"


def _activations() -> str:
    rows = [
        [
            f"``{name}``",
            "output layer only" if a.output_only else "any layer",
            a.init,
            "elementwise" if a.elementwise else "full (a row's outputs depend on each other)",
            f"{_function(a.value)}, {_function(a.vjp)}",
        ]
        for name, a in ACTIVATIONS.items()
        if a.value.__module__ == "mlp_xp.activations"
    ]
    return list_table(["name", "where", "initialisation before it", "Jacobian", "Φ and its vjp"], rows)


def _costs() -> str:
    rows = [
        [
            f"``{name}``",
            TARGETS[c.targets],
            f"``{c.output_activation}``" if c.output_activation else "any",
            _function(c.fused) if c.fused else "—",
            f"{_function(c.value)}, {_function(c.grad)}",
        ]
        for name, c in COSTS.items()
        if c.value.__module__ == "mlp_xp.costs"
    ]
    return list_table(["name", "targets", "output activation", "fused form from ζᴸ", "C and ∂C/∂ŷ"], rows)


def _optimizers() -> str:
    rows = [
        [
            f"``{name}``",
            f":class:`~mlp_xp.{cls.__name__}`",
            ", ".join(f"``{f.name}={f.default!r}``" for f in dataclasses.fields(cls)) or "—",
            "yes" if getattr(cls, "full_batch", False) else "no",
        ]
        for name, cls in OPTIMIZERS.items()
    ]
    return list_table(["name", "class", "hyper-parameters (defaults)", "full batch only"], rows)


REGISTRIES = {"activations": _activations, "costs": _costs, "optimizers": _optimizers}


def _data_summary(app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    """A data name's own words in the API tables, in place of its type's docstring."""
    if name in DATA:
        lines[:] = [DATA[name][0]]


class RegistryTable(SphinxDirective):
    """``.. mlp-xp-registry:: activations``: a table of the built-in entries."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        return parse_rst(self, REGISTRIES[self.arguments[0]]())


class DataEntry(SphinxDirective):
    """``.. mlp-xp-data:: mlp_xp.COSTS``: the API entry of a public data name."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        fullname = self.arguments[0]
        text, registry = DATA[fullname]
        body = [text, "", REGISTRIES[registry]()] if registry else [text]
        indented = "\n".join(f"   {line}" for line in "\n".join(body).splitlines())
        module, name = fullname.rsplit(".", 1)
        return parse_rst(self, f".. py:data:: {name}\n   :module: {module}\n\n{indented}")


@contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse wraps its help to the terminal's width: ``COLUMNS`` fixes it."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


class CommandHelp(SphinxDirective):
    """``.. mlp-xp-help:: train``: the output of ``mlp-xp train --help``."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        parser = build_parser("mlp-xp")
        if self.arguments:
            commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = commands.choices[self.arguments[0]]
        with _columns(HELP_WIDTH):
            text = parser.format_help()
        return [nodes.literal_block(text, text, language="text")]
