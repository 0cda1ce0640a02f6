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
_DECIMAL_CHARACTERS = frozenset("0123456789.eE+-")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Table:
    """The data rows of a CSV file, held by column: ``columns[j][i]`` is the stripped cell
    of column j in data row i, which is on line ``lines[i]``; ``header``: the column names, or None."""

    name: str
    header: list[str] | None
    lines: list[int]
    columns: list[tuple[str, ...]]

    def where(self, row: int, column: int) -> str:
        """ "data.csv, line 3, column 2 ('age')": where a cell is, for messages."""
        named = f" ({self.header[column]!r})" if self.header is not None else ""
        return f"{self.name}, line {self.lines[row]}, column {column + 1}{named}"

    def numbers(self, column: int) -> list[float]:
        """The cells of ``column`` as floats; ``ValueError`` at the first cell that is not a number."""
        cells = self.columns[column]
        # Fast path: float() reads these characters only in decimal notation (not 1_000, inf, nan).
        if set("".join(cells)) <= _DECIMAL_CHARACTERS:
            try:
                return list(map(float, cells))
            except ValueError:
                pass  # an empty cell or a stray sign: found and named below
        return [self._number(row, column, cell) for row, cell in enumerate(cells)]

    def labels(self, column: int) -> list[float] | list[str]:
        """``column`` as numbers when one of its cells is a number, else as text (class names);
        ``ValueError`` for a missing cell, and for a number column's first other cell."""
        cells = self.columns[column]
        if any(_NUMBER.fullmatch(cell) for cell in cells):
            return self.numbers(column)
        for row, cell in enumerate(cells):
            if cell.lower() in MISSING:
                raise ValueError(f"{self.where(row, column)}: missing value {cell!r}")
        return list(cells)

    def _number(self, row: int, column: int, cell: str) -> float:
        if _NUMBER.fullmatch(cell):
            return float(cell)
        if cell.lower() in MISSING:
            raise ValueError(f"{self.where(row, column)}: missing value {cell!r}")
        try:
            float(cell)
        except ValueError:
            raise ValueError(f"{self.where(row, column)}: {cell!r} is not a number") from None
        raise ValueError(
            f"{self.where(row, column)}: {cell!r} is not a finite number in decimal notation "
            "(digits, '.', an exponent: 1000, -1.5e3)"
        )


def read_table(path: Path, header: str = "auto") -> Table:
    """The rows of the CSV file ``path``, blank lines skipped, the header decided by ``header``.

    Raises ``ValueError`` naming the file: not UTF-8 text, no data rows, rows
    of unequal length, an unknown ``header``.
    """
    if header not in HEADERS:
        raise ValueError(f"header must be one of {', '.join(map(repr, HEADERS))}, got {header!r}")
    lines, rows = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            for row in reader:
                cells = [cell.strip() for cell in row]
                if any(cells):
                    lines.append(reader.line_num)
                    rows.append(cells)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path.name} is not a readable CSV text file: {exc}") from exc
    for line, cells in zip(lines, rows):
        if len(cells) != len(rows[0]):
            raise ValueError(f"{path.name}, line {line}: {len(cells)} columns, expected {len(rows[0])}")
    columns = list(zip(*rows))
    names = None
    if rows and (header == "yes" or (header == "auto" and _is_header(columns))):
        names, lines, columns = rows[0], lines[1:], [column[1:] for column in columns]
    if not lines:
        raise ValueError(f"{path.name} holds no data rows")
    return Table(path.name, names, lines, columns)


def _is_header(columns: list[tuple[str, ...]]) -> bool:
    """The header rule: a text cell in the first row above a column with no text below it."""
    return any(_is_text(column[0]) and not any(map(_is_text, column[1:])) for column in columns)


def _is_text(cell: str) -> bool:
    if _NUMBER.fullmatch(cell) or cell.lower() in MISSING:
        return False
    try:
        float(cell)  # inf, 1_000: numbers in a spelling refused later, not names
    except ValueError:
        return True
    return False
