"""What the plot writers share: a bare figure, users' names made safe for matplotlib and for file
names, titles that say when the data is synthetic, plain numbers on a log axis."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SYNTHETIC_MARK = " (SYNTHETIC data)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_name(name: str) -> str:
    """A file-name part from a user's split name: keep [A-Za-z0-9_-], anything else becomes '_'."""
    return _UNSAFE.sub("_", name) or "_"


def user_text(label: str) -> str:
    """Model and split names are users' text: a '$' must not start matplotlib's mathtext."""
    return label.replace("$", r"\$")


def title(document: Mapping[str, Any], words: str) -> str:
    return words + (SYNTHETIC_MARK if document["run"].get("synthetic_data") else "")


def new_figure(width: float, height: float) -> Figure:
    # A bare Figure on an Agg canvas, not pyplot: no display, no global figure registry, and
    # the user's chosen backend is left alone when `harness` is used as a library.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plain_log_formatter(**options: Any):
    """matplotlib's log-axis labelling (which ticks get a label), written as plain numbers."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLogFormatter(**options)
