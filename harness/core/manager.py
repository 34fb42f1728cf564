"""Finding plugins: the built-ins first, then the ``harness`` entry-point group."""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

import pluggy

from harness import hookspecs
from harness.errors import PluginError

# Built-in plugins, registered under these short names (usable in HARNESS_DISABLE_PLUGINS).
BUILTIN_PLUGINS: dict[str, str] = {
    "baselines": "harness.plugins.baselines",
    "encoders": "harness.plugins.encoders",
    "charbyte": "harness.plugins.charbyte",
    "decoders": "harness.plugins.decoders",
    "zeroshot": "harness.plugins.zeroshot",
    "gazetteer": "harness.plugins.gazetteer",
    "served": "harness.plugins.served",
    "classification": "harness.tasks.classification",
    "indications": "harness.tasks.indications",
    "probe": "harness.tasks.probe",
    "ner": "harness.tasks.ner",
    "robustness": "harness.tasks.robustness",
    "examples": "harness.tasks.classification.examples",
    "console": "harness.report.console",
    "leaderboard": "harness.report.leaderboard",
    "plots": "harness.report.plots",
    "search": "harness.report.search",
}
ENTRY_POINT_GROUP = "harness"
DISABLE_ENV = "HARNESS_DISABLE_PLUGINS"


def disabled_plugins() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


class HarnessPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.origins: dict[str, str] = {}


def _register(pm: HarnessPluginManager, plugin: object, name: str, origin: str) -> None:
    pm.origins[name] = origin
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as err:
        raise PluginError(name, _one_line(str(err))) from None
    except ValueError as err:  # pluggy: name or object registered twice
        raise PluginError(name, str(err)) from None


def _one_line(message: str) -> str:
    """pluggy's message over one line (the command line prints one line per error), without its
    first line, "Plugin 'x' for hook 'y'": the hook is named again in the definition line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Plugin "):
        lines = lines[1:]
    return "; ".join(lines)


def make_plugin_manager(extra_plugins: dict[str, object] | None = None) -> HarnessPluginManager:
    """Create the manager and load every plugin not blocked by ``HARNESS_DISABLE_PLUGINS``.

    ``extra_plugins`` (name -> module or object) is for tests and embedding.
    """
    pm = HarnessPluginManager()
    pm.add_hookspecs(hookspecs)
    for name in disabled_plugins():
        pm.set_blocked(name)
    for name, module_name in BUILTIN_PLUGINS.items():
        if not pm.is_blocked(name):
            _register(pm, importlib.import_module(module_name), name, f"built-in ({module_name})")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as err:  # a broken third-party plugin must say who it is
            raise PluginError(ep.name, f"entry point {ep.value!r} failed to load: {err}") from err
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
        _register(pm, plugin, ep.name, f"entry point {ep.value} from {dist}")
    for name, plugin in (extra_plugins or {}).items():
        if not pm.is_blocked(name):
            _register(pm, plugin, name, "registered by the caller")
    _check_pending(pm)
    return pm


def _check_pending(pm: pluggy.PluginManager) -> None:
    """Like ``pm.check_pending()``, but the message names plugin and hook for a user."""
    for name in dir(pm.hook):
        if not name.startswith(hookspecs.PROJECT + "_"):
            continue
        caller = getattr(pm.hook, name)
        if caller.spec is None:
            plugins = ", ".join(impl.plugin_name for impl in caller.get_hookimpls())
            raise PluginError(plugins, f"implements unknown hook {name!r} (misspelled? see harness/hookspecs.py)")
