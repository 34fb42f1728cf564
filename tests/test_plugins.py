"""Plugin discovery and validation: built-ins, entry points, blocking, invalid plugins."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest

from harness import ModelSpec, hookimpl


def _module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


def test_misspelled_hook_is_named(run_harness):
    @hookimpl
    def harness_add_model(register):  # missing 's'
        pass

    code, _, stderr = run_harness(
        "list", "models", plugins={"typo_plugin": _module("t", harness_add_model=harness_add_model)}
    )
    assert code == 2
    assert "typo_plugin" in stderr and "harness_add_model" in stderr


def test_wrong_hook_signature_is_named(run_harness):
    @hookimpl
    def harness_add_models(registry):  # the argument is called 'register'
        pass

    code, _, stderr = run_harness(
        "list", "models", plugins={"sig_plugin": _module("s", harness_add_models=harness_add_models)}
    )
    assert code == 2
    assert "sig_plugin" in stderr and "harness_add_models" in stderr and "registry" in stderr


def test_duplicate_model_name_names_both_plugins(run_harness):
    @hookimpl
    def harness_add_models(register):
        register.add(ModelSpec("lookup", "fake", "memorise", fit=lambda request: None))

    code, _, stderr = run_harness(
        "list", "models", plugins={"dup_plugin": _module("d", harness_add_models=harness_add_models)}
    )
    assert code == 2
    assert "dup_plugin" in stderr and "'fakes'" in stderr and "'lookup'" in stderr


def test_disabled_plugin_is_blocked(run_harness, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "probe, fakes")
    code, stdout, _ = run_harness("list", "plugins")
    assert code == 0
    assert "blocked" in stdout.split("probe")[1].splitlines()[0]
    code, _, stderr = run_harness("run", "--tasks", "probe", "--collect-only")
    assert code == 2 and "unknown task(s) probe" in stderr


def test_entry_point_plugin_is_discovered(tmp_path, monkeypatch, run_harness):
    """A third-party package adds a model through the 'harness' entry-point group."""
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent(
            """
            from harness import ModelSpec, hookimpl

            @hookimpl
            def harness_add_models(register):
                register.add(ModelSpec("third-party-model", "fake", "none", fit=lambda request: None))
            """
        )
    )
    dist = tmp_path / "my_models-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[harness]\nmy_models = my_models\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, stdout, _ = run_harness("list", "models")
    assert code == 0 and "third-party-model" in stdout
    code, stdout, _ = run_harness("list", "plugins")
    assert "my-models 1.0" in stdout
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "my_models")
    code, stdout, _ = run_harness("list", "models")
    assert "third-party-model" not in stdout


def test_broken_entry_point_names_the_plugin(tmp_path, monkeypatch, run_harness):
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs a library that is not installed')\n")
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harness]\nbroken = broken_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, stderr = run_harness("list", "models")
    assert code == 2 and "'broken'" in stderr and "not installed" in stderr


@pytest.mark.parametrize("what", ["models", "tasks"])
def test_list_does_not_import_torch(what):
    script = (
        f"import sys; from harness.cli import main; code = main(['list', {what!r}]); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'transformers' not in sys.modules; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; sys.exit(code)"
    )
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert ("minilm-l6" if what == "models" else "indications") in result.stdout
