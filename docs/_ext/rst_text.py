"""Generated reStructuredText turned into nodes, on an rst page as on a MyST one."""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx.util.docutils import SphinxDirective


def parse_rst(directive: SphinxDirective, text: str) -> list[nodes.Node]:
    """``text`` parsed as reStructuredText into the page of ``directive``.

    A directive's own ``parse_text_to_nodes`` parses with the page's parser,
    MyST on a ``.md`` page; generated text is written once, in rst, and parsed
    here, as MyST's ``eval-rst`` does: in a fresh document that shares the
    page's settings (so Sphinx's roles and directives work) and its reporter
    (so a problem is a build warning).
    """
    page = directive.state.document
    document = new_document(page["source"], page.settings)
    document.reporter = page.reporter
    Parser().parse(text, document)
    for node in document.children:
        if node["names"]:
            page.note_explicit_target(node, node)
    return list(document.children)


def list_table(header: list[str], rows: list[list[str]]) -> str:
    """An rst ``list-table`` of ``rows`` (lists of cells in rst) under ``header``."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return "\n".join(lines)
