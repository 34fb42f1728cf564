"""The torch families take the classification set-up (issue 14): multi-class (softmax, argmax,
cross-entropy), binary (one sigmoid column), sentence pairs (the tokenizer's pair encoding, or
the joined text for a decoder) and long notes (truncation counted, or overlapping windows).

Tiny random models of the real classes (a BERT body with MiniLM's WordPiece tokenizer, a Llama
with a word tokenizer), fitted through the plugins' real fits; the figures are checked against
scikit-learn and against the tokenizers called directly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from harness.data import LabelledSplit
from harness.model import ClassificationSetup, FitRequest, joined
from harness.plugins import charbyte, decoders, encoders
from harness.progress import no_progress

from .test_baselines import PHRASES, make_split
from .test_decoders import TINY as TINY_LORA, save_tiny_decoder
from .test_encoder_families import minilm_tokenizer_dir, needs_minilm, tiny_body

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from harness.training import encoding, loop as training  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), needs_minilm]

CLASSES = ("urinary", "respiratory", "abdominal")
RECIPE = {"lr": 3e-3, "head_lr": None, "epochs": 2, "batch_size": 8, "warmup_ratio": 0.0, "max_length": 32}
PREMISE, HYPOTHESIS = "uti with pyelonephritis", "cystitis"


def multi_class_split(name: str, n: int, seed: int) -> LabelledSplit:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(CLASSES), size=n)
    texts = tuple(str(rng.choice(PHRASES[CLASSES[c]])) for c in classes)
    return LabelledSplit(name, texts, np.eye(len(CLASSES), dtype=np.int8)[classes], "test", "x", True, True)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab_size = len(AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True))
    body, names = tiny_body("bert", vocab_size)
    AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), model_input_names=names).save_pretrained(folder)
    body.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def bert_tokenizer(tiny_bert: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert, local_files_only=True)


def request(spec_name: str, weights: Path, train: LabelledSplit, eval_: LabelledSplit, labels, setup, **recipe):
    registry = (encoders if spec_name.startswith("bert") else decoders).harness_add_models
    from harness.registry import ModelRegistry

    models = ModelRegistry()
    registry(models)
    spec = models[spec_name]
    return FitRequest(
        spec=spec,
        labels=tuple(labels),
        train=train,
        eval=eval_,
        seed=0,
        recipe={**spec.recipe, **recipe},
        device="cpu",
        weights=str(weights),
        progress=no_progress,
        setup=setup,
    )


# --- multi-class ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def multi_class_fit(tiny_bert: Path):
    train, eval_ = multi_class_split("train", 48, 1), multi_class_split("eval", 24, 2)
    setup = ClassificationSetup(problem="multi-class", selection_metric="f1_macro")
    fitted = encoders.fit_encoder(request("bert-base-uncased", tiny_bert, train, eval_, CLASSES, setup, **RECIPE))
    return fitted, train, eval_


def test_multi_class_scores_are_a_softmax_and_the_rule_an_argmax(multi_class_fit) -> None:
    from sklearn.metrics import f1_score, log_loss

    fitted, _, eval_ = multi_class_fit
    assert fitted.model.config.num_labels == 3
    assert fitted.model.config.problem_type == "single_label_classification"
    assert fitted.decision_rule.argmax and fitted.decision_rule.score == "softmax"
    fresh = fitted.predict_scores([*eval_.texts, "uti"])[:-1]  # not the remembered eval scores
    np.testing.assert_allclose(fresh.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fitted.predict_scores(eval_.texts), fresh, atol=1e-5)
    details = fitted.details
    assert details["problem"] == "multi-class" and details["eval_selection_metric"] == "f1_macro"
    best = details["best_epoch"] - 1
    truth = eval_.y.argmax(axis=1)
    macro = f1_score(truth, fresh.argmax(axis=1), average="macro", labels=range(3), zero_division=0)
    assert details["eval_f1_macro_by_epoch"][best] == pytest.approx(macro, abs=1e-6)
    # The eval loss is the cross-entropy of the softmax, as scikit-learn computes it.
    assert details["eval_loss_by_epoch"][best] == pytest.approx(log_loss(truth, fresh, labels=range(3)), abs=1e-4)


@pytest.mark.parametrize("weighting", [None, "balanced"])
def test_multi_class_trains_on_cross_entropy(tiny_bert: Path, weighting) -> None:
    """At learning rate 0 the epoch's loss is the (class-weighted) cross-entropy of the initial
    model on the training rows; balanced weights are scikit-learn's n / (k x count)."""
    from sklearn.metrics import log_loss
    from sklearn.utils.class_weight import compute_class_weight

    train = multi_class_split("train", 40, 5)
    setup = ClassificationSetup(problem="multi-class")
    recipe = {**RECIPE, "lr": 0.0, "epochs": 1, "pos_weight": weighting}
    fitted = encoders.fit_encoder(request("bert-base-uncased", tiny_bert, train, train, CLASSES, setup, **recipe))
    probabilities = fitted.predict_scores([*train.texts, "x"])[:-1]
    truth = train.y.argmax(axis=1)
    weights = np.ones(3) if weighting is None else compute_class_weight("balanced", classes=np.arange(3), y=truth)
    if weighting:
        np.testing.assert_allclose(fitted.details["class_weight"], weights, atol=1e-4)
    expected = log_loss(truth, probabilities, labels=range(3), sample_weight=weights[truth])
    assert fitted.details["train_loss_by_epoch"][0] == pytest.approx(expected, abs=1e-4)


def test_multi_class_refuses_a_numeric_pos_weight() -> None:
    config = training.TrainingConfig(pos_weight=2.0)
    with pytest.raises(ValueError, match="multi-class task must be 'balanced' or None"):
        training.class_weights(config, np.eye(3)[[0, 1, 2]])


# --- binary --------------------------------------------------------------------------------------


def test_binary_is_one_sigmoid_column_as_multi_label_with_one_label(tiny_bert: Path) -> None:
    train, eval_ = make_split("train", 40, 1), make_split("eval", 16, 3)
    one = [dataclasses.replace(split, y=split.y[:, :1]) for split in (train, eval_)]  # "urinary" or not
    fits = {
        problem: encoders.fit_encoder(
            request("bert-base-uncased", tiny_bert, *one, ("urinary",), ClassificationSetup(problem=problem), **RECIPE)
        )
        for problem in ("binary", "multi-label")
    }
    scores = fits["binary"].predict_scores(make_split("test", 12, 2).texts)
    assert scores.shape == (12, 1) and np.all((scores > 0) & (scores < 1))
    assert fits["binary"].decision_rule == training.DecisionRule(score="sigmoid")
    np.testing.assert_array_equal(scores, fits["multi-label"].predict_scores(make_split("test", 12, 2).texts))
    assert fits["binary"].details["problem"] == "binary"


# --- sentence pairs ------------------------------------------------------------------------------


def test_a_pair_is_bert_pair_encoded_through_the_harness(bert_tokenizer) -> None:
    windows = encoding.encode_inputs(bert_tokenizer, [(PREMISE, HYPOTHESIS)], encoding.InputEncoding(32))
    feature = windows.features[0]
    assert feature == dict(bert_tokenizer(PREMISE, HYPOTHESIS))
    ids, segments = feature["input_ids"], feature["token_type_ids"]
    first = len(bert_tokenizer(PREMISE, add_special_tokens=False)["input_ids"])
    assert ids[0] == bert_tokenizer.cls_token_id and ids[first + 1] == ids[-1] == bert_tokenizer.sep_token_id
    assert segments == [0] * (first + 2) + [1] * (len(ids) - first - 2) and segments[-1] == 1


def test_pairs_in_the_tokenizers_of_canine_and_byt5() -> None:
    from transformers import ByT5Tokenizer

    for tokenizer in (charbyte._canine_tokenizer(), ByT5Tokenizer()):
        feature = encoding.encode_inputs(tokenizer, [(PREMISE, HYPOTHESIS)], encoding.InputEncoding(64)).features[0]
        assert feature == {key: list(value) for key, value in tokenizer(PREMISE, HYPOTHESIS).items()}
    byt5 = ByT5Tokenizer()
    ids = encoding.encode_inputs(byt5, [("ab", "c")], encoding.InputEncoding(16)).features[0]["input_ids"]
    assert ids == [ord("a") + 3, ord("b") + 3, byt5.eos_token_id, ord("c") + 3, byt5.eos_token_id]


def test_a_bert_fit_on_pairs_reads_them_pair_encoded(tiny_bert: Path) -> None:
    train, eval_ = multi_class_split("train", 24, 1), multi_class_split("eval", 8, 2)
    paired = [dataclasses.replace(s, pairs=tuple(reversed(s.texts))) for s in (train, eval_)]
    setup = ClassificationSetup(problem="multi-class", text_pairs=True)
    fitted = encoders.fit_encoder(request("bert-base-uncased", tiny_bert, *paired, CLASSES, setup, **RECIPE))
    assert fitted.details["pair_encoding"] == "tokenizer"
    pairs = list(paired[1].inputs)
    direct = fitted.model(
        **fitted.tokenizer([p[0] for p in pairs], [p[1] for p in pairs], padding=True, return_tensors="pt")
    )
    expected = training.softmax(direct.logits.detach().numpy())
    np.testing.assert_allclose(fitted.predict_scores([*pairs, ("x", "y")])[:-1], expected, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama"), "llama")


def test_a_decoder_reads_a_pair_as_the_joined_text(tiny_llama: Path) -> None:
    train, eval_ = (make_split(name, n, seed) for name, n, seed in (("train", 16, 1), ("eval", 8, 3)))
    paired = [dataclasses.replace(s, pairs=tuple(reversed(s.texts))) for s in (train, eval_)]
    from .test_baselines import LABELS

    setup = ClassificationSetup(text_pairs=True)
    fitted = decoders.fit_lora(request("smollm2-135m-lora", tiny_llama, *paired, LABELS, setup, **TINY_LORA))
    assert fitted.details["pair_encoding"] == "joined"
    pair = paired[1].inputs[0]
    feature = encoding.encode_inputs(fitted.tokenizer, [pair], fitted.encoding).features[0]
    assert feature["input_ids"] == fitted.tokenizer(joined(pair), truncation=True, max_length=16)["input_ids"]
    assert "\n" in joined(pair)


def test_a_joined_pair_too_long_loses_the_end_of_its_premise_not_its_hypothesis(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)  # a word tokenizer: a word is a token
    premise, hypothesis = " ".join(PHRASES["urinary"] * 3), PHRASES["respiratory"][3]
    joined_encoding = encoding.InputEncoding(max_length=16, pair_encoding="joined")
    (feature,) = encoding.encode_inputs(tokenizer, [(premise, hypothesis)], joined_encoding).features

    def bare(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    first, separator, second = bare(premise), bare("\n"), bare(hypothesis)
    assert len(first) == len(premise.split()) and len(second) == len(hypothesis.split())
    room = 16 - tokenizer.num_special_tokens_to_add(pair=False) - len(separator)
    assert len(first) > room > 2 * len(second)  # only the premise is cut
    kept = " ".join(premise.split()[: room - len(second)])
    assert feature["input_ids"] == tokenizer(joined((kept, hypothesis)))["input_ids"]
    assert len(feature["input_ids"]) == 16 and feature["attention_mask"] == [1] * 16
    # the joined text cut from its end reads none of the hypothesis
    cut_at_end = tokenizer(joined((premise, hypothesis)), truncation=True, max_length=16)["input_ids"]
    assert not set(second) & set(cut_at_end) and set(second) <= set(feature["input_ids"])
    # a pair that fits reads exactly its joined text
    short = (PHRASES["urinary"][0], hypothesis)
    (fits,) = encoding.encode_inputs(tokenizer, [short], joined_encoding).features
    assert fits["input_ids"] == tokenizer(joined(short))["input_ids"]


@pytest.mark.parametrize(
    ("first", "second", "room"), [(10, 3, 8), (3, 10, 8), (6, 6, 7), (7, 6, 9), (20, 19, 5), (5, 2, 7)]
)
def test_longest_first_keeps_what_the_tokenizer_keeps_of_a_pair(bert_tokenizer, first: int, second: int, room: int):
    word = WORDS[0]  # one WordPiece
    a, b = " ".join([word] * first), " ".join([word] * second)
    types = bert_tokenizer(a, b, truncation="longest_first", max_length=room + 3)[
        "token_type_ids"
    ]  # [CLS] a [SEP] b [SEP]
    assert encoding.longest_first(first, second, room) == (types.count(0) - 2, types.count(1) - 1)


# --- long notes ----------------------------------------------------------------------------------

WORDS = "cap pneumonia fever chest leg pain infection urine blood".split()  # one WordPiece each


def long_note(tokenizer, content_tokens: int) -> tuple[str, list[int]]:
    """A note of exactly ``content_tokens`` tokens (each word one token) and its ids."""
    text = " ".join(WORDS[i % len(WORDS)] for i in range(content_tokens))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == content_tokens
    return text, ids


@pytest.mark.parametrize("overlap", [0, 4])
def test_a_note_three_times_max_length_becomes_the_expected_windows(bert_tokenizer, overlap: int) -> None:
    length = 16
    text, ids = long_note(bert_tokenizer, 3 * length)
    room, step = length - 2, length - 2 - overlap  # [CLS] ... [SEP] in every window
    expected = [ids[start : start + room] for start in range(0, len(ids), step)]
    expected = expected[: next(i for i, part in enumerate(expected) if (i * step) + room >= len(ids)) + 1]
    setup = encoding.InputEncoding(length, long_text="chunk", chunk_overlap=overlap)
    windows = encoding.encode_inputs(bert_tokenizer, [text, "uti"], setup)
    cls, sep = bert_tokenizer.cls_token_id, bert_tokenizer.sep_token_id
    assert [w["input_ids"] for w in windows.features[:-1]] == [[cls, *part, sep] for part in expected]
    assert windows.owner.tolist() == [0] * len(expected) + [1]
    assert len(expected) == (4 if overlap == 0 else 5)  # 48 tokens, 14 a window, steps of 14 or 10


def test_chunked_pairs_keep_the_second_text_in_every_window(bert_tokenizer) -> None:
    from transformers import ByT5Tokenizer

    for tokenizer in (bert_tokenizer, ByT5Tokenizer()):  # the fast tokenizer's overflow, and slicing
        text, ids = long_note(bert_tokenizer, 40)
        second = tokenizer("cystitis", add_special_tokens=False)["input_ids"]
        setup = encoding.InputEncoding(24 if tokenizer is bert_tokenizer else 96, long_text="chunk", chunk_overlap=3)
        windows = encoding.encode_inputs(tokenizer, [(text, "cystitis")], setup).features
        assert len(windows) > 1
        for window in windows:
            ids_ = window["input_ids"]
            assert len(ids_) <= setup.max_length and ids_[-len(second) - 1 : -1] == second


@pytest.mark.parametrize("problem", ["multi-label", "multi-class"])
def test_chunked_scores_pool_the_windows_scores(tiny_bert: Path, bert_tokenizer, problem: str) -> None:
    long, _ = long_note(bert_tokenizer, 70)
    train = multi_class_split("train", 24, 1)
    train = dataclasses.replace(train, texts=(long, *train.texts[1:]))
    setup = ClassificationSetup(problem=problem, long_text="chunk", chunk_overlap=4)  # type: ignore[arg-type]
    fitted = encoders.fit_encoder(request("bert-base-uncased", tiny_bert, train, train, CLASSES, setup, **RECIPE))
    windows = encoding.encode_inputs(bert_tokenizer, [long], fitted.encoding).features
    assert fitted.details["train_windows"] == 24 - 1 + len(windows) and len(windows) == 3  # 70 tokens, 30 a window
    logits = [fitted.model(**bert_tokenizer.pad([w], return_tensors="pt")).logits.detach().numpy()[0] for w in windows]
    if problem == "multi-class":
        expected = np.mean([training.softmax(row[None])[0] for row in logits], axis=0)
    else:
        expected = np.max([training.sigmoid(row) for row in logits], axis=0)
    np.testing.assert_allclose(fitted.predict_scores([long, "uti"])[0], expected, atol=1e-5)
    report = fitted.length_report([long, "uti"])
    assert report["windows"] == len(windows) + 1 and report["truncated"] == 1 and report["long_text"] == "chunk"


def test_truncation_is_counted_as_the_tokenizer_counts(tiny_bert: Path, bert_tokenizer) -> None:
    train = multi_class_split("train", 16, 1)
    notes = [long_note(bert_tokenizer, n)[0] for n in (10, 30, 31, 60)]
    pairs = [(PREMISE, "pneumonia " * 40), (PREMISE, "cap")]
    fitted = encoders.fit_encoder(
        request("bert-base-uncased", tiny_bert, train, train, CLASSES, ClassificationSetup(), **{**RECIPE, "epochs": 1})
    )
    for inputs, truncated in ((notes, 2), (pairs, 1)):
        lengths = [len(bert_tokenizer(*([n] if isinstance(n, str) else n))["input_ids"]) for n in inputs]
        assert fitted.length_report(inputs) == {
            "max_tokens": 32,
            "inputs": len(inputs),
            "truncated": sum(n > 32 for n in lengths),
            "tokens_cut": sum(max(0, n - 32) for n in lengths),
            "long_text": "truncate",
            "windows": len(inputs),
        }
        assert sum(n > 32 for n in lengths) == truncated  # 33 and 62 tokens; the pair's 52
    assert fitted.details["long_text"] == "truncate"
    with pytest.raises(ValueError, match="inputs mix 4 texts with 2 sentence pairs"):
        fitted.length_report([*notes, *pairs])
