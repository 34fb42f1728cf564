"""Errors the command line turns into one clear line and exit status 2, and warnings that do not stop a run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C


class HarnessError(Exception):
    """Base class of every error the harness reports to the user itself."""


class UsageError(HarnessError):
    """The command line asked for something that does not exist (unknown model, bad -k...)."""


class InputError(HarnessError):
    """A file or config the user gave is unusable.

    The message names the file and, where it helps, the row or key, e.g.
    ``data/banbury.csv, row 17: column 'urinary' must be 0 or 1, got 'yes'``.
    """

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class PluginError(HarnessError):
    """A plugin is invalid: the message names the plugin and the hook or model at fault."""

    def __init__(self, plugin: str, problem: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {problem}")


# Warnings are held while a run checks its input (see ``warnings_held``): one list of pending
# lines per open block, innermost last.
_held: list[list[str]] = []


def _emit(line: str) -> None:
    if _held:
        _held[-1].append(line)
    else:
        print(line, file=sys.stderr)


def warn(where: str, message: str) -> None:
    """Tell the user about input that is usable but suspect: one ``harness: warning:`` line on
    stderr, e.g. ``harness: warning: tasks.indications: 805 of 2,000 rows ...``. The run goes on;
    a warning never changes the exit status. Inside :func:`warnings_held` the line waits."""
    _emit(f"harness: warning: {where}: {message}")


@contextmanager
def warnings_held() -> Iterator[None]:
    """Hold :func:`warn` lines until the block ends; print them if it succeeds, drop them if it raises.

    A run stopped by bad input then prints that one error line alone, not warnings about input
    it never used; once every input is checked, the warnings come out before anything runs.
    """
    _held.append([])
    try:
        yield
    except BaseException:
        _held.pop()
        raise
    for line in _held.pop():
        _emit(line)  # to stderr, or to an enclosing block
