"""Zero-shot answers on multi-class, binary and sentence-pair tasks (ClassificationSetup).

As in test_zeroshot.py, a TINY RANDOMLY INITIALISED Llama with a word-level tokenizer is checked
against a reference that tokenises the whole prompt and each answer at once and runs one
uncached forward per answer; the prompt's wording comes from the plugin, its assembly does not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from harness import PluginError
from harness.model import ClassificationSetup, FitRequest
from harness.plugins import zeroshot
from harness.progress import no_progress

from .test_baselines import LABELS, make_split
from .test_decoders import needs_smollm2, save_tiny_decoder
from .test_zeroshot import SPLIT_TEXTS, TINY_ANSWERS, spec, whole_prompt

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES = ("urinary", "respiratory", "abdominal", "skin_soft_tissue")
# Words of the tiny tokenizer's vocabulary, so that each answer is a real token.
DESCRIPTIONS = {"urinary": "uti", "respiratory": "chest infection", "abdominal": "cholangitis"}
MULTI_CLASS = ClassificationSetup(
    problem="multi-class", label_descriptions=DESCRIPTIONS, task_description="antibiotic indications by source"
)
BINARY = ClassificationSetup(problem="binary", label_descriptions={"urinary": "uti"})
TEXTS = ["uti", "cap d3/5 iv", "? sepsis - review 48h", "cellulitis l leg"]
PAIRS = [("uti", "cap"), ("cap d3/5 iv", "uti"), ("sepsis", "? sepsis - review 48h"), ("iv", "")]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama-problems"), "llama")


def request_for(weights: Path, labels, setup: ClassificationSetup, **recipe: object) -> FitRequest:
    model = spec()
    split = make_split("train", 8, 1)
    return FitRequest(
        spec=model,
        labels=tuple(labels),
        train=split,
        eval=split,
        seed=0,
        recipe={**model.recipe, "cpu_bf16_inference": False, "calibrate": False, **recipe},
        device="cpu",
        weights=str(weights),
        progress=no_progress,
        setup=setup,
    )


def task_prompt(tokenizer, setup: ClassificationSetup, answers: list[str], item) -> str:
    """The whole prompt for one input, from the plugin's wording, without its prefix/suffix split."""
    wording = zeroshot.task_wording(setup)
    text, text_pair = (item, "") if isinstance(item, str) else item
    user = wording.instruction.format(categories=", ".join(answers), text=text, text_pair=text_pair)
    assert not tokenizer.chat_template  # the tiny tokenizer has none: the plain layout
    return f"{wording.system}\n\n{user}\n{wording.cue}"


def reference_distribution(classifier, prompt: str, answers: list[str]) -> np.ndarray:
    """Each answer's probability after ``prompt``, normalised over the answers: one uncached
    forward over prompt + answer, tokenised at once."""
    tokenizer, model = classifier.tokenizer, classifier.model
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    totals = []
    for answer in answers:
        ids = tokenizer.encode(prompt + answer, add_special_tokens=False)
        assert ids[: len(prompt_ids)] == prompt_ids
        with torch.inference_mode():
            log_probs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
        totals.append(sum(float(log_probs[i - 1, ids[i]]) for i in range(len(prompt_ids), len(ids))))
    totals = np.array(totals)
    return np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()


def test_the_indications_prompt_is_unchanged(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    # The wording as it was before issue 14, copied here so that a change to it fails.
    assert zeroshot.SYSTEM == (
        "You sort the free-text indications of hospital antibiotic prescriptions by infection source."
    )
    assert zeroshot.INSTRUCTION == (
        "Answer with one category: {categories}.\n"
        "'no specific source' means infection or sepsis without a site; 'uncertain' means the prescriber "
        "was unsure; 'not informative' means the text gives no indication.\n"
        "Indication: {text}"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    prompt = zeroshot.render_prompt(tokenizer, zeroshot.ANSWERS)
    assert prompt.prefix + prompt.lead + "uti" + prompt.suffix == whole_prompt(tokenizer, zeroshot.ANSWERS, "uti")
    setup = ClassificationSetup()
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, LABELS, setup, answers=TINY_ANSWERS))
    assert classifier.decision_rule == zeroshot.DecisionRule("label_distribution", threshold=0.0, top_k=1)
    assert classifier.details["answer_tokens"]["urinary"] == ["uti"]  # today's answers, from the recipe
    assert classifier.details["problem"] == "multi-label"


def test_a_task_prompt_names_the_task_and_its_label_descriptions(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    answers = zeroshot.task_answers(CLASSES, MULTI_CLASS)
    assert list(answers.values()) == ["uti", "chest infection", "cholangitis", "skin soft tissue"]
    prompt = zeroshot.render_prompt(tokenizer, answers, zeroshot.task_wording(MULTI_CLASS))
    assert "antibiotic indications by source" in prompt.prefix
    assert "uti, chest infection, cholangitis, skin soft tissue" in prompt.prefix
    assert zeroshot.SYSTEM not in prompt.prefix and "Indication:" not in prompt.prefix
    braces = dataclasses.replace(MULTI_CLASS, task_description="notes {json}")  # a user's words, not a template
    assert "Classify notes {json}." in zeroshot.render_prompt(tokenizer, answers, zeroshot.task_wording(braces)).prefix


def test_multi_class_answers_are_a_distribution_over_the_labels(tiny_llama: Path) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, CLASSES, MULTI_CLASS))
    scores = classifier.predict_scores(TEXTS)
    answers = list(zeroshot.task_answers(CLASSES, MULTI_CLASS).values())
    tokenizer = classifier.tokenizer
    expected = np.vstack(
        [reference_distribution(classifier, task_prompt(tokenizer, MULTI_CLASS, answers, t), answers) for t in TEXTS]
    )
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert classifier.decision_rule.argmax
    predicted = classifier.decision_rule.apply(scores)
    assert (predicted.sum(axis=1) == 1).all() and (predicted.argmax(axis=1) == scores.argmax(axis=1)).all()
    assert classifier.details["problem"] == "multi-class" and "pair_encoding" not in classifier.details


@pytest.mark.parametrize("calibrate", [False, True])
def test_binary_scores_the_positive_answer_against_its_negation(tiny_llama: Path, calibrate: bool) -> None:
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, ("urinary",), BINARY, calibrate=calibrate))
    assert classifier.details["answer_tokens"] == {"urinary": ["uti"], "not urinary": ["<unk>", "uti"]}
    scores = classifier.predict_scores(TEXTS)
    assert scores.shape == (len(TEXTS), 1)
    answers = ["uti", "not uti"]

    def distribution(text: str) -> np.ndarray:
        return reference_distribution(classifier, task_prompt(classifier.tokenizer, BINARY, answers, text), answers)

    expected = np.vstack([distribution(t) for t in TEXTS])
    if calibrate:
        expected /= np.mean([distribution(t) for t in zeroshot.CONTENT_FREE], axis=0)
        expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores, expected[:, :1], atol=1e-5)
    assert classifier.decision_rule.threshold == 0.5 and not classifier.decision_rule.argmax
    assert classifier.details["problem"] == "binary"


def test_sentence_pairs_are_read_as_premise_and_hypothesis(tiny_llama: Path) -> None:
    setup = dataclasses.replace(MULTI_CLASS, text_pairs=True)
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, CLASSES, setup))
    assert "Premise:" in classifier.prompt.prefix and "Hypothesis:" in classifier.prompt.between
    answers = list(zeroshot.task_answers(CLASSES, setup).values())
    expected = np.vstack(
        [
            reference_distribution(classifier, task_prompt(classifier.tokenizer, setup, answers, p), answers)
            for p in PAIRS
        ]
    )
    np.testing.assert_allclose(classifier.predict_scores(PAIRS), expected, atol=1e-5)
    assert classifier.details["pair_encoding"] == "joined"


def test_few_shot_demonstrations_of_sentence_pairs_show_both_texts(tiny_llama: Path) -> None:
    """A pair's demonstration is read as the input is (premise, then hypothesis) and answered;
    scored as one uncached forward over the whole few-shot prompt."""
    setup = dataclasses.replace(MULTI_CLASS, text_pairs=True)
    firsts, seconds = ("uti", "cap d3/5 iv", "sepsis", "cellulitis"), ("cap", "uti", "iv", "leg")
    y = np.eye(len(CLASSES), dtype=np.int8)[[0, 1, 2, 3]]
    train = dataclasses.replace(make_split("train", 4, 1), texts=firsts, pairs=seconds, y=y)
    request = dataclasses.replace(request_for(tiny_llama, CLASSES, setup, shots=2), train=train)
    classifier = zeroshot.fit_zero_shot(request)
    shown = classifier.demonstrations
    shown.context = 10_000  # RoPE reaches past the tiny model's 64 positions: room for every demonstration
    scores = classifier.predict_scores(PAIRS)
    answers = list(zeroshot.task_answers(CLASSES, setup).values())
    cue = zeroshot.task_wording(setup).cue
    assert classifier.details["demonstrations_dropped"] == 0
    expected = []
    for (premise, hypothesis), rows in zip(PAIRS, classifier.last_demonstrations):
        assert len(rows) == 2 and all((firsts[r], seconds[r]) != (premise, hypothesis) for r in rows)
        demos = "".join(f"{firsts[r]}\nHypothesis: {seconds[r]}\n{cue} {answers[r]}\nPremise: " for r in rows)
        prompt = task_prompt(classifier.tokenizer, setup, answers, (demos + premise.rstrip(), hypothesis))
        expected.append(reference_distribution(classifier, prompt, answers))
    np.testing.assert_allclose(scores, np.vstack(expected), atol=1e-5)


def test_each_text_of_a_pair_is_cut_to_max_length(tiny_llama: Path) -> None:
    setup = dataclasses.replace(MULTI_CLASS, text_pairs=True)
    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, CLASSES, setup, max_length=3))
    long = "uti cap iv sepsis review"  # five tokens of the tiny vocabulary
    cut = classifier.predict_scores([(long, long)])
    np.testing.assert_allclose(cut, classifier.predict_scores([("uti cap iv", "uti cap iv")]), atol=1e-6)
    report = classifier.length_report([(long, long), ("uti", "cap")])
    assert report == {
        "max_tokens": 3,
        "inputs": 2,
        "truncated": 1,
        "tokens_cut": 4,
        "long_text": "truncate",
        "windows": 2,
    }


def test_a_multi_label_task_needs_a_question_per_label() -> None:
    refuses = spec().refuses
    assert refuses is not None
    own = ClassificationSetup(single_answer_multi_label=False)  # a config-defined multi-label task
    reason = refuses(("fever", "cough"), own)
    assert reason is not None and "one label" in reason and "yes/no question per label" in reason
    assert refuses(LABELS, ClassificationSetup()) is None  # indications: one answer, the seed study's way
    assert refuses(("fever", "cough"), ClassificationSetup(single_answer_multi_label=True)) is None
    assert refuses(CLASSES, MULTI_CLASS) is None and refuses(("urinary",), BINARY) is None
    described = ClassificationSetup(label_descriptions={"urinary": "uti"}, single_answer_multi_label=False)
    assert refuses(LABELS, described) == reason  # another wording makes it another task


def test_a_refused_task_is_not_fitted(tiny_llama: Path) -> None:
    with pytest.raises(PluginError, match="yes/no question per label"):
        zeroshot.fit_zero_shot(
            request_for(tiny_llama, ("fever", "cough"), ClassificationSetup(single_answer_multi_label=False))
        )


def test_a_description_that_starts_another_names_both(tiny_llama: Path) -> None:
    clash = dataclasses.replace(MULTI_CLASS, label_descriptions={**DESCRIPTIONS, "abdominal": "uti review"})
    with pytest.raises(PluginError, match=r"'uti' and 'uti review'.*label_descriptions"):
        zeroshot.fit_zero_shot(request_for(tiny_llama, CLASSES, clash))


@needs_smollm2
@pytest.mark.slow
def test_smollm2_pair_prompt_pieces_tokenise_as_the_whole_prompt(harness_cache: Path) -> None:
    from transformers import AutoTokenizer

    from harness.core.weights import find_weights
    from harness.plugins.decoders import gguf_as_safetensors

    model = spec()
    weights, _ = find_weights(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf_as_safetensors(weights, model.weights_file))
    setup = dataclasses.replace(MULTI_CLASS, text_pairs=True)
    answers = zeroshot.task_answers(CLASSES, setup)
    wording = zeroshot.task_wording(setup)
    prompt = zeroshot.render_prompt(tokenizer, answers, wording)
    prefix_ids = tokenizer.encode(prompt.prefix, add_special_tokens=False)
    tail = tokenizer.encode(prompt.suffix, add_special_tokens=False)
    pairs = list(zip(SPLIT_TEXTS, reversed(SPLIT_TEXTS)))
    for (text, text_pair), ids in zip(pairs, prompt.text_ids(tokenizer, pairs, 10_000)):
        user = wording.instruction.format(
            categories=", ".join(answers.values()), text=text.rstrip(), text_pair=text_pair
        )
        messages = [{"role": "system", "content": wording.system}, {"role": "user", "content": user}]
        whole = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert prefix_ids + ids + tail == tokenizer.encode(whole, add_special_tokens=False), (text, text_pair)
