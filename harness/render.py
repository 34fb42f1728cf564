"""Rendering :class:`harness.tables.Table` for a terminal (rich) or a paper (tabulate)."""

from __future__ import annotations

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


def to_rich(table: Table):
    from rich.table import Table as RichTable

    rich_table = RichTable(title=table.title, caption=table.caption or None, title_justify="left")
    for index, header in enumerate(table.headers):
        column = [row[index] for row in table.rows]
        rich_table.add_column(header, justify=_justify(column), overflow="fold")
    for row in table.rows:
        rich_table.add_row(*(_style(cell) for cell in row))
    return rich_table


def _justify(cells: Sequence[str]) -> str:
    """Marks centred, numbers (incl. '3/5', '1.2 min', '22.7M') right, words left."""
    if cells and all(cell in {PASS, FAIL, "–"} for cell in cells):
        return "center"
    if cells and all(cell[:1].isdigit() or cell == "–" for cell in cells):
        return "right"
    return "left"


def _style(cell: str) -> str:
    from rich.markup import escape

    if cell == PASS:
        return f"[green]{PASS}[/green]"
    if cell == FAIL:
        return f"[red]{FAIL}[/red]"
    return escape(cell)


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
