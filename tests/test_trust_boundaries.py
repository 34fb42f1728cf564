"""Code that ships with weights runs only with the model's ``trust_remote_code`` opt-in, and a
blocked plugin is never imported. (Pickled weights: tests/test_weights.py, tests/test_charbyte.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

LABELS = ("urinary", "respiratory")


def folder_with_remote_code(tmp_path: Path) -> tuple[Path, Path]:
    """A weights folder whose config names modelling code shipped beside it; importing that code
    leaves a marker file, as any code could do anything. A real (tiny) tokenizer beside it, so that
    loading gets as far as the config: without one it fails on the tokenizer first, whatever the trust."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder, marker = tmp_path / "weights", tmp_path / "remote-code-ran"
    folder.mkdir()
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "pad_token": "[PAD]"}),
        encoding="utf-8",
    )
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "shipped-with-weights",
                "auto_map": {
                    "AutoConfig": "configuration_shipped.ShippedConfig",
                    "AutoModelForSequenceClassification": "configuration_shipped.ShippedModel",
                },
            }
        ),
        encoding="utf-8",
    )
    (folder / "configuration_shipped.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import PretrainedConfig, PreTrainedModel\n"
        "class ShippedConfig(PretrainedConfig):\n    model_type = 'shipped-with-weights'\n"
        "class ShippedModel(PreTrainedModel):\n    config_class = ShippedConfig\n",
        encoding="utf-8",
    )
    return folder, marker


def test_remote_code_runs_only_with_the_opt_in(tmp_path: Path, monkeypatch):
    from harness.plugins.encoders import load_classifier

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, marker = folder_with_remote_code(tmp_path)
    with pytest.raises(ValueError, match="contains custom code which must be executed"):  # not trusted: refused
        load_classifier(str(folder), LABELS)
    assert not marker.exists()
    with pytest.raises(OSError, match="no file named model.safetensors"):  # trusted, it runs; then no weights
        load_classifier(str(folder), LABELS, trust_remote_code=True)
    assert marker.read_text() == "ran"


def test_a_blocked_plugin_is_never_imported(tmp_path: Path, monkeypatch, run_harness):
    import sys

    module = tmp_path / "noisy_plugin.py"
    module.write_text("raise RuntimeError('imported although blocked')\n", encoding="utf-8")
    dist = tmp_path / "noisy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: noisy-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[harness]\nnoisy = noisy_plugin\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, stderr = run_harness("list", "plugins")
    assert code == 2 and "noisy" in stderr  # loading it runs its code
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "noisy")
    code, stdout, _ = run_harness("list", "plugins")
    assert code == 0 and "noisy_plugin" not in sys.modules
    assert "blocked (HARNESS_DISABLE_PLUGINS)" in stdout
