"""CSV data files as Python values: what a number is, what a missing value is, and the header rule.

A cell (stripped of surrounding spaces) is

- a **number** when it is written in the usual decimal notation: an optional
  sign, digits with an optional decimal point, an optional exponent (``7``,
  ``-1.5``, ``.5``, ``2e-3``).  Python's other spellings (``1_000``, ``inf``,
  ``infinity``) are refused with a message, not read;
- **missing** when it is empty or one of ``NA``, ``N/A``, ``NaN``, ``null`` (any case);
- **text** otherwise.

The header rule (``header="auto"``): the first row is a header when one of its
cells is text in a column whose other rows hold no text (a name above
numbers); otherwise it is data.  So a first row with an empty or ``NA`` cell
above numbers is data (and its missing value an error, not a dropped row),
and a header made only of numbers (``2019,2020``) needs ``header="yes"``.
The file is read as UTF-8, a leading byte-order mark (BOM) removed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

HEADERS = ("auto", "yes", "no")
MISSING = frozenset({"", "na", "n/a", "nan", "null"})
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Table:
    """The rows of a CSV file: ``header`` (column names, or None) and ``rows``,
    each ``(line number, stripped cells)``; every row has ``width`` cells."""

    name: str
    header: list[str] | None
    rows: list[tuple[int, list[str]]]

    @property
    def width(self) -> int:
        return len(self.header if self.header is not None else self.rows[0][1])

    def where(self, line: int, column: int) -> str:
        """ "data.csv, line 3, column 2 ('age')": where a cell is, for messages."""
        named = f" ({self.header[column]!r})" if self.header is not None else ""
        return f"{self.name}, line {line}, column {column + 1}{named}"

    def numbers(self, column: int) -> list[float]:
        """The cells of ``column`` as floats; ``ValueError`` at the first cell that is not a number."""
        return [self._number(line, column, cells[column]) for line, cells in self.rows]

    def labels(self, column: int) -> list[float] | list[str]:
        """``column`` as numbers when one of its cells is a number, else as text (class names);
        ``ValueError`` for a missing cell, and for a number column's first other cell."""
        if any(_NUMBER.fullmatch(cells[column]) for _, cells in self.rows):
            return self.numbers(column)
        for line, cells in self.rows:
            if cells[column].lower() in MISSING:
                raise ValueError(f"{self.where(line, column)}: missing value {cells[column]!r}")
        return [cells[column] for _, cells in self.rows]

    def _number(self, line: int, column: int, cell: str) -> float:
        if _NUMBER.fullmatch(cell):
            return float(cell)
        if cell.lower() in MISSING:
            raise ValueError(f"{self.where(line, column)}: missing value {cell!r}")
        try:
            float(cell)
        except ValueError:
            raise ValueError(f"{self.where(line, column)}: {cell!r} is not a number") from None
        raise ValueError(
            f"{self.where(line, column)}: {cell!r} is not a finite number in decimal notation "
            "(digits, '.', an exponent: 1000, -1.5e3)"
        )


def read_table(path: Path, header: str = "auto") -> Table:
    """The rows of the CSV file ``path``, blank lines skipped, the header decided by ``header``.

    Raises ``ValueError`` naming the file: not UTF-8 text, no data rows, rows
    of unequal length, an unknown ``header``.
    """
    if header not in HEADERS:
        raise ValueError(f"header must be one of {', '.join(map(repr, HEADERS))}, got {header!r}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            rows = [
                (reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path.name} is not a readable CSV text file: {exc}") from exc
    names = rows.pop(0)[1] if rows and (header == "yes" or (header == "auto" and _is_header(rows))) else None
    if not rows:
        raise ValueError(f"{path.name} holds no data rows")
    width = len(names if names is not None else rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise ValueError(f"{path.name}, line {line}: {len(cells)} columns, expected {width}")
    return Table(path.name, names, rows)


def _is_header(rows: list[tuple[int, list[str]]]) -> bool:
    """The header rule: a text cell in the first row above a column with no text below it."""
    first, body = rows[0][1], rows[1:]
    return any(
        _is_text(cell) and not any(column < len(cells) and _is_text(cells[column]) for _, cells in body)
        for column, cell in enumerate(first)
    )


def _is_text(cell: str) -> bool:
    if _NUMBER.fullmatch(cell) or cell.lower() in MISSING:
        return False
    try:
        float(cell)  # inf, 1_000: numbers in a spelling refused later, not names
    except ValueError:
        return True
    return False
