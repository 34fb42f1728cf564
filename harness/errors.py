"""Errors the command line turns into one clear line and exit status 2."""

from __future__ import annotations


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
