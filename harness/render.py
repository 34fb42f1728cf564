"""Rendering :class:`harness.tables.Table` for a terminal (rich) or a paper (tabulate)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.tables import FAIL, PASS, Table

FORMATS = {"table": None, "markdown": "github", "latex": "latex_booktabs"}


def to_rich(table: Table):
    from rich.table import Table as RichTable

    rich_table = RichTable(title=table.title, caption=table.caption or None, title_justify="left")
    for index, header in enumerate(table.headers):
        rich_table.add_column(header, justify="left" if index == 0 else "right", overflow="fold")
    for row in table.rows:
        rich_table.add_row(*(_style(cell) for cell in row))
    return rich_table


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
