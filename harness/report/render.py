"""Rendering :class:`harness.tables.Table` for a terminal (rich) or a paper (tabulate)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.tables import FAIL, PASS, Table

FORMATS = {"table": None, "markdown": "github", "latex": "latex_booktabs"}
PIPE_WIDTH = 160  # rich falls back to 80 columns off a terminal: too narrow for result tables


def make_console():
    """A rich console for stdout; wide when writing to a file or CI log."""
    import os
    import sys

    from rich.console import Console

    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH
    return Console(highlight=False, width=width)


def to_rich(table: Table, widths: Sequence[int] | None = None):
    """A rich table; with ``widths``, each column that wide and its cells wrapped by :func:`wrap_cell`."""
    from rich.table import Table as RichTable

    rich_table = RichTable(title=table.title, caption=table.caption or None, title_justify="left")
    for index, header in enumerate(table.headers):
        column = [row[index] for row in table.rows]
        width = widths[index] if widths else None
        rich_table.add_column(_fold(header, width), justify=_justify(column), overflow="fold", width=width)
    for row in table.rows:
        rich_table.add_row(*(_style(cell, widths[i] if widths else None) for i, cell in enumerate(row)))
    return rich_table


def _fold(text: str, width: int | None) -> str:
    from rich.markup import escape

    return escape(text if width is None else "\n".join(wrap_cell(text, width)))


def fit_to_width(table: Table, width: int) -> list:
    """``table`` as rich tables at most ``width`` columns wide with no cell over two lines, where
    that is possible: as it is if it fits; else each column narrowed to where its cells take two
    lines (breaking at spaces, and after hyphens and underscores); else its columns split over
    several tables that each repeat the first column. A table that cannot fit even so is left
    to rich."""
    columns = [[header, *(row[i] for row in table.rows)] for i, header in enumerate(table.headers)]
    natural = [max(_cell_width(cell) for cell in column) for column in columns]
    if sum(natural) + _borders(len(columns)) <= width:
        return [to_rich(table)]
    two_lines = [max(_two_line_width(cell) for cell in column) for column in columns]
    chunks: list[list[int]] = [[0]]
    for index in range(1, len(columns)):
        if sum(two_lines[i] for i in chunks[-1]) + two_lines[index] + _borders(len(chunks[-1]) + 1) > width:
            chunks.append([0])
        chunks[-1].append(index)
    if (
        any(len(chunk) == 1 for chunk in chunks)
        or sum(two_lines[i] for i in chunks[0]) + _borders(len(chunks[0])) > width
    ):
        return [to_rich(table)]
    parts = []
    for number, chunk in enumerate(chunks):
        widths = _widen(chunk, two_lines, natural, width - _borders(len(chunk)))
        title = table.title if number == 0 else f"{table.title} (continued)"
        part = Table(
            title,
            tuple(table.headers[i] for i in chunk),
            tuple(tuple(row[i] for i in chunk) for row in table.rows),
            table.caption if number == len(chunks) - 1 else "",
        )
        parts.append(to_rich(part, widths))
    return parts


def _borders(columns: int) -> int:
    """Width a rich table with a box and edges adds to its cells: padding 1 each side, bars between."""
    return 3 * columns + 1


def _widen(chunk: list[int], least: list[int], natural: list[int], room: int) -> list[int]:
    """Column widths from each one's two-line width, spending what room is left on the columns
    nearest to fitting on one line first (so as many columns as possible do not wrap at all)."""
    widths = {i: least[i] for i in chunk}
    spare = room - sum(widths.values())
    for i in sorted(chunk, key=lambda i: natural[i] - least[i]):
        need = natural[i] - widths[i]
        if 0 < need <= spare:
            widths[i], spare = natural[i], spare - need
    return [widths[i] for i in chunk]


_BREAK_AFTER = re.compile(r"(?<=\w[-_/·,])")


def wrap_cell(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells: breaks at spaces, then after a hyphen,
    underscore, slash, piece mark or comma inside a word, and folds what is still too long."""
    from rich.cells import cell_len

    lines, line = [], ""
    for word in text.split():
        for position, piece in enumerate(p for p in _BREAK_AFTER.split(word) if p):
            joined = f"{line} {piece}" if position == 0 and line else line + piece
            if cell_len(joined) <= width:
                line = joined
                continue
            if line:
                lines.append(line)
            while cell_len(piece) > width:
                lines.append(piece[:width])
                piece = piece[width:]
            line = piece
    return [*lines, line] if line or not lines else lines


def _cell_width(cell: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in cell.splitlines()), default=0)


def _two_line_width(cell: str) -> int:
    """The narrowest width at which ``cell`` takes at most two lines without cutting a word
    (or a piece of one) in the middle; a number is never broken."""
    from rich.cells import cell_len

    if cell[:1].isdigit() or cell[:1] in "+−-":
        return _cell_width(cell)
    pieces = [p for word in cell.split() for p in _BREAK_AFTER.split(word) if p]
    width = max(1, (_cell_width(cell) + 1) // 2, *(cell_len(p) for p in pieces))
    while len(wrap_cell(cell, width)) > 2:
        width += 1
    return width


def _justify(cells: Sequence[str]) -> str:
    """Marks centred, numbers (incl. '3/5', '1.2 min', '22.7M') right, words left."""
    if cells and all(cell in {PASS, FAIL, "–"} for cell in cells):
        return "center"
    if cells and all(cell[:1].isdigit() or cell == "–" for cell in cells):
        return "right"
    return "left"


def _style(cell: str, width: int | None = None) -> str:
    if cell == PASS:
        return f"[green]{PASS}[/green]"
    if cell == FAIL:
        return f"[red]{FAIL}[/red]"
    return _fold(cell, width)


def to_text(tables: Sequence[Table], fmt: str) -> str:
    """Markdown or LaTeX for every table, with titles as headings / captions."""
    from tabulate import tabulate

    parts = []
    for table in tables:
        body = tabulate(table.rows, headers=table.headers, tablefmt=FORMATS[fmt], disable_numparse=True)
        if fmt == "markdown":
            caption = f"\n\n_{table.caption}_" if table.caption else ""
            parts.append(f"### {table.title}\n\n{body}{caption}")
        else:
            caption = f" ({table.caption})" if table.caption else ""
            parts.append(f"% {table.title}{caption}\n{body}")
    return "\n\n".join(parts) + "\n"
