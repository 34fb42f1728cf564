"""Progress bars for long work (training epochs, prediction over thousands of strings)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Protocol


class Advance(Protocol):
    def __call__(self, steps: int = 1) -> None: ...


ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager[Advance]]


@contextlib.contextmanager
def no_progress(description: str, total: int) -> Iterator[Advance]:
    yield lambda steps=1: None


@contextlib.contextmanager
def rich_progress(description: str, total: int) -> Iterator[Advance]:
    """A transient bar on stderr; silent when stderr is not a terminal (CI, pipes)."""
    if not sys.stderr.isatty():
        yield lambda steps=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda steps=1: progress.advance(task, steps)
