"""Run every torch family's CUDA paths once on a GPU, with tiny checkpoints, and print one table.

    python benchmarks/gpu_check.py                   # on a CUDA machine: exit 0 only if every check passed
    python benchmarks/gpu_check.py --json out.json   # the table's rows as JSON as well
    python benchmarks/gpu_check.py -k qlora          # only the checks whose name contains "qlora"

No weights travel: each family's checkpoint is a TINY RANDOMLY INITIALISED configuration of its
real transformers class (BERT, DeBERTa-v2, ModernBERT, CANINE, ByT5, Llama, Mistral, Qwen2,
Gemma 1-3), built here and saved to a temporary folder, most of them in bf16 (one Mistral in
fp16) as Llama 3, Qwen2.5 or MedGemma ship. Each is fitted and predicted through the real
plugin functions (``fit_encoder``, ``tag_decoder``, ...) on a few dozen generated rows. Per check
the table shows the trainable / frozen parameter dtypes (the fit's details), the autocast dtype
and whether a GradScaler ran (both observed during training: Linear outputs, the scaler itself),
and what else the check is about: NF4 layers on CUDA for QLoRA, the fp16 branch of a GPU
without native bf16 (forced), ByT5's fp32 guard there, and a real CUDA out-of-memory error
(the allocator capped with ``set_per_process_memory_fraction``) with the halving back-off it
triggers. Exit status: 0 all passed, 1 a check failed, 2 no CUDA device. About 2-4 minutes.

A GPU machine without package registries lacks some of what this needs. Bring wheels from a
connected machine (``pip download --no-deps -d wheels bitsandbytes==0.50.2``: its manylinux wheel
is 43 MB; the image is assumed to have torch, transformers, peft, accelerate, safetensors,
tokenizers, numpy and pluggy), then there:

    pip install --no-deps wheels/*.whl
    python benchmarks/gpu_check.py     # from the repository root; the harness need not be installed

Without bitsandbytes the QLoRA checks fail with that reason and the others still run.
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def import_harness() -> None:
    """Make ``harness.plugins`` and ``harness.tasks`` importable from a checkout that was never
    installed (the layout ``pyproject.toml``'s package-dir maps at install time)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import harness

    if str(ROOT) not in harness.__path__:
        harness.__path__.append(str(ROOT))


import_harness()

from harness.data import LabelledSplit
from harness.progress import no_progress
from harness.tagged import TaggedSplit, tag_set

# --- generated data: a handful of words per label ----------------------------------------------

LABELS = ("urinary", "respiratory", "skin", "abdominal")
PHRASES = {
    "urinary": ("uti", "pyelonephritis", "cystitis", "urosepsis"),
    "respiratory": ("pneumonia", "cap", "bronchitis", "empyema"),
    "skin": ("cellulitis", "abscess", "wound infection", "erysipelas"),
    "abdominal": ("appendicitis", "peritonitis", "cholangitis", "diverticulitis"),
}
ENTITIES = {
    "Chemical": ("aspirin", "warfarin", "sodium chloride", "heparin"),
    "Disease": ("hepatotoxicity", "renal failure", "seizures", "heart failure"),
}
FILLERS = ("the", "patient", "was", "given", "after", "developed", "with", "and", "daily", "dose", ".")
VOCABULARY = sorted(
    {w for phrases in PHRASES.values() for p in phrases for w in p.split()}
    | set(LABELS)
    | {w for names in ENTITIES.values() for n in names for w in n.split()}
    | set(FILLERS)
    | {"+"}
)


def labelled_split(name: str, n: int, seed: int) -> LabelledSplit:
    import numpy as np

    rng = np.random.default_rng(seed)
    texts, y = [], np.zeros((n, len(LABELS)), dtype=np.int8)
    for i in range(n):
        chosen = rng.choice(len(LABELS), size=1 + int(rng.random() < 0.3), replace=False)
        texts.append(" + ".join(str(rng.choice(PHRASES[LABELS[j]])) for j in chosen))
        y[i, chosen] = 1
    return LabelledSplit(name, tuple(texts), y, "generated", "-", synthetic=True, public=True)


def tagged_split(name: str, n: int, seed: int) -> TaggedSplit:
    import numpy as np

    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(n):
        words: list[str] = []
        labels: list[str] = []
        while len(words) < int(rng.integers(4, 12)):
            if rng.random() < 0.25:
                kind = str(rng.choice(list(ENTITIES)))
                entity = str(rng.choice(ENTITIES[kind])).split()
                words += entity
                labels += [f"B-{kind}", *(f"I-{kind}" for _ in entity[1:])]
            else:
                words.append(str(rng.choice(FILLERS)))
                labels.append("O")
        sentences.append(tuple(words))
        tags.append(tuple(labels))
    return TaggedSplit(name, tuple(sentences), tuple(tags), "generated", "-", synthetic=True, public=True)


# --- tiny checkpoints of the real classes ---------------------------------------------------------

ENCODER_FAMILIES = ("bert", "deberta-v2", "modernbert", "canine", "byt5")
DECODER_FAMILIES = ("llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3")


def save_wordpiece_tokenizer(folder: Path, input_names: list[str]) -> int:
    """A BERT WordPiece tokenizer over :data:`VOCABULARY` (whole words); returns its size."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *VOCABULARY]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab_file=str(folder / "vocab.txt"), model_input_names=input_names).save_pretrained(folder)
    return len(vocab)


def save_word_tokenizer(folder: Path) -> int:
    """A word-level fast tokenizer with BOS/EOS/UNK and, like a decoder's, no padding token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", *VOCABULARY])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    return len(vocab)


def tiny_model(family: str, folder: Path) -> Any:
    """A tiny random body (encoders, saved as on the hub) or causal LM (decoders) of ``family``,
    with the tokenizer files it needs written to ``folder`` (CANINE and ByT5 need none)."""
    import transformers as t

    wide = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 128}
    if family in ("bert", "deberta-v2"):
        vocab = save_wordpiece_tokenizer(folder, ["input_ids", "token_type_ids", "attention_mask"])
        if family == "bert":
            return t.BertModel(t.BertConfig(vocab_size=vocab, num_hidden_layers=2, **wide))
        return t.DebertaV2Model(
            t.DebertaV2Config(
                vocab_size=vocab,
                num_hidden_layers=2,
                relative_attention=True,
                position_buckets=16,
                max_relative_positions=-1,
                pos_att_type="p2c|c2p",
                norm_rel_ebd="layer_norm",
                share_att_key=True,
                position_biased_input=False,
                type_vocab_size=0,
                **wide,
            )
        )
    if family == "modernbert":
        vocab = save_wordpiece_tokenizer(folder, ["input_ids", "attention_mask"])
        return t.ModernBertModel(
            t.ModernBertConfig(
                vocab_size=vocab,
                num_hidden_layers=2,
                pad_token_id=0,
                cls_token_id=2,
                sep_token_id=3,
                bos_token_id=2,
                eos_token_id=3,
                **wide,
            )
        )
    if family == "canine":
        return t.CanineModel(
            t.CanineConfig(
                num_hidden_layers=1,
                num_hash_functions=4,
                num_hash_buckets=64,
                local_transformer_stride=8,
                **wide,
            )
        )
    if family == "byt5":
        return t.T5ForConditionalGeneration(
            t.T5Config(
                vocab_size=384,
                d_model=64,
                d_kv=16,
                d_ff=128,
                num_layers=2,
                num_decoder_layers=1,
                num_heads=4,
                feed_forward_proj="gated-gelu",
                tie_word_embeddings=False,
            )
        )
    vocab = save_word_tokenizer(folder) + 8  # room for the special tokens a Qwen2 tokenizer adds
    shape = {
        **wide,
        "vocab_size": vocab,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": None,
    }
    configs = {
        "llama": lambda: t.LlamaConfig(**shape),
        "mistral": lambda: t.MistralConfig(**shape, sliding_window=None),
        "qwen2": lambda: t.Qwen2Config(**shape),
        "gemma": lambda: t.GemmaConfig(**shape, head_dim=16),
        "gemma2": lambda: t.Gemma2Config(**shape, head_dim=16, sliding_window=16),
        "gemma3": lambda: t.Gemma3TextConfig(**shape, head_dim=16, sliding_window=16),
    }
    return t.AutoModelForCausalLM.from_config(configs[family]())


def build_checkpoint(family: str, folder: Path, dtype: str = "bfloat16") -> Path:
    """Save a tiny ``family`` checkpoint in ``dtype`` ("float32", "bfloat16", "float16") to ``folder``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tiny_model(family, folder).to(getattr(torch, dtype)).save_pretrained(folder, safe_serialization=True)
    return folder


# --- what a check observes while a fit runs ----------------------------------------------------------


@dataclass
class Observed:
    compute_dtypes: set[str] = field(default_factory=set)  # dtypes of Linear outputs in training
    scaler: list[bool] = field(default_factory=list)  # GradScaler(enabled=...) built by the fit
    scale: float | None = None  # the loss scale after training (fp16 only)


@contextlib.contextmanager
def observe() -> Iterator[Observed]:
    """Record every training-mode Linear output dtype and every GradScaler the fit builds."""
    import torch

    seen = Observed()
    original = torch.amp.GradScaler

    class RecordingScaler(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.scaler.append(self.is_enabled())
            scalers.append(self)

    def hook(module: Any, inputs: Any, output: Any) -> None:
        if module.training and torch.is_tensor(output):
            seen.compute_dtypes.add(str(output.dtype).removeprefix("torch."))

    scalers: list[Any] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: hook(module, inputs, output) if isinstance(module, torch.nn.Linear) else None
    )
    torch.amp.GradScaler = RecordingScaler
    try:
        yield seen
    finally:
        torch.amp.GradScaler = original
        handle.remove()
        if scalers and scalers[-1].is_enabled():
            seen.scale = float(scalers[-1].get_scale())


@contextlib.contextmanager
def without_native_bf16() -> Iterator[None]:
    """Answer as a V100 or T4 would: no native bf16 (the fp16 + GradScaler branch, ByT5 in fp32)."""
    from harness.training import precision

    original = precision.cuda_has_bf16
    precision.cuda_has_bf16 = lambda: False
    try:
        yield
    finally:
        precision.cuda_has_bf16 = original


@contextlib.contextmanager
def memory_cap(gib: float) -> Iterator[int]:
    """Cap this process's CUDA allocator at about ``gib`` GiB; yields the cap in bytes."""
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, gib * 2**30 / total))
    try:
        yield int(min(total, gib * 2**30))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


def ballast_per_row(model: Any, row_bytes: int) -> None:
    """Make every forward pass allocate ``row_bytes`` per row on the GPU (a real allocation, so a
    pass with too many rows raises the allocator's own OutOfMemoryError)."""
    import torch

    forward = model.forward

    def heavy(*args: Any, **kwargs: Any) -> Any:
        ballast = torch.empty(len(kwargs["input_ids"]) * row_bytes, dtype=torch.uint8, device="cuda")
        out = forward(*args, **kwargs)
        del ballast
        return out

    model.forward = heavy


# --- the checks ---------------------------------------------------------------------------------------


@dataclass
class Row:
    check: str
    saved: str  # the checkpoint's dtype
    trainable: str | None = None
    frozen: str | None = None
    autocast: str | None = None  # observed: the Linear output dtypes in training
    scaler: str = "-"
    notes: str = ""
    passed: bool = False
    seconds: float = 0.0


TINY = {
    "epochs": 1,
    "batch_size": 8,
    "lr": 1e-3,
    "head_lr": None,
    "max_length": 32,
    "eval_batch_size": 64,
    "max_train_rows": None,
    "lora_r": 4,
    "lora_alpha": 8,
    "cpu_bf16_inference": False,
    "warmup_ratio": 0.0,
}


def registry() -> Any:
    from harness.plugins import charbyte, decoders, encoders, zeroshot
    from harness.registry import ModelRegistry

    models = ModelRegistry()
    for plugin in (encoders, charbyte, decoders, zeroshot):
        plugin.harness_add_models(models)
    return models


def fit(spec_name: str, folder: Path, tagging: bool, device: str = "cuda", **recipe: Any) -> Any:
    """Fit the registered ``spec_name`` on ``folder`` with its real fit or tag function."""
    from harness.model import FitRequest, TagRequest

    spec = registry()[spec_name]
    merged = {**spec.recipe, **(spec.tag_recipe if tagging else {}), **TINY, **recipe}
    if tagging:
        train, eval_ = tagged_split("train", 48, 1), tagged_split("eval", 16, 2)
        return spec.tag(
            TagRequest(
                spec=spec,
                tag_set=tag_set(tuple(ENTITIES)),
                train=train,
                eval=eval_,
                seed=0,
                recipe=merged,
                device=device,
                weights=str(folder),
                progress=no_progress,
            )
        )
    train, eval_ = labelled_split("train", 64, 1), labelled_split("eval", 16, 2)
    return spec.fit(
        FitRequest(
            spec=spec,
            labels=LABELS,
            train=train,
            eval=eval_,
            seed=0,
            recipe=merged,
            device=device,
            weights=str(folder),
            progress=no_progress,
        )
    )


def predicts(fitted: Any, tagging: bool) -> None:
    import numpy as np

    if tagging:
        sentences = tagged_split("test", 12, 3).sentences
        assert [len(t) for t in fitted.predict_tags(sentences)] == [len(s) for s in sentences], "tag counts"
        return
    scores = fitted.predict_scores(labelled_split("test", 24, 3).texts)
    assert scores.shape[0] == 24 and np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


@dataclass(frozen=True)
class Check:
    """One fit on one tiny checkpoint and what its table row must show."""

    name: str
    family: str
    spec: str
    saved: str = "bfloat16"
    tagging: bool = False
    recipe: dict[str, Any] = field(default_factory=dict)
    native_bf16: bool = True  # False: run as a GPU without native bf16 would
    frozen: str | None = None  # expected frozen_dtype; "half": the autocast dtype
    autocast: bool = True  # expected to train under autocast


def checks() -> list[Check]:
    lora, qlora = "smollm2-135m-lora", "smollm2-135m-qlora"
    out = [
        Check("bert fp32 checkpoint", "bert", "bert-base-uncased", saved="float32"),
        *(
            Check(f"{family} bf16 checkpoint", family, spec)
            for family, spec in (
                ("bert", "bert-base-uncased"),
                ("deberta-v2", "deberta-v3-base"),
                ("modernbert", "bioclinical-modernbert-base"),
                ("canine", "canine-s"),
                ("byt5", "byt5-small"),
            )
        ),
        *(Check(f"{family} LoRA", family, lora, frozen="half") for family in ("llama", "qwen2", "gemma", "gemma2")),
        Check("gemma3 LoRA", "gemma3", "medgemma-4b-lora", frozen="half"),
        Check("mistral fp16 checkpoint LoRA", "mistral", lora, saved="float16", frozen="half"),
        Check("llama QLoRA nf4", "llama", qlora, frozen="nf4+float32"),
        Check("bert tagger", "bert", "minilm-l6", tagging=True),
        Check("llama LoRA tagger", "llama", lora, tagging=True, frozen="half"),
        Check("llama QLoRA tagger", "llama", qlora, tagging=True, frozen="nf4+float32"),
        Check("no native bf16: bert fp16+scaler", "bert", "bert-base-uncased", native_bf16=False),
        Check("no native bf16: llama LoRA fp16", "llama", lora, native_bf16=False, frozen="half"),
        Check("no native bf16: byt5 fp32 guard", "byt5", "byt5-small", native_bf16=False, autocast=False),
        Check(
            "llama zero-shot",
            "llama",
            "smollm2-135m-zeroshot",
            recipe={"answers": {label: label for label in LABELS}, "calibrate": False},
        ),
    ]
    return out


def run_check(check: Check, folder: Path, device: str = "cuda") -> Row:
    """Build the checkpoint, fit and predict, and compare the row with what ``device`` should give
    (on a CPU, the CPU's rules: fp32 without autocast; that is how the tests run it)."""
    import torch

    from harness.training import precision

    row = Row(check.name, check.saved)
    started = time.perf_counter()
    cuda = device.startswith("cuda")
    bf16 = cuda and check.native_bf16 and precision.cuda_has_bf16()
    half = "bfloat16" if bf16 else "float16"
    try:
        build_checkpoint(check.family, folder, check.saved)
        guard = contextlib.nullcontext() if check.native_bf16 else without_native_bf16()
        with guard, observe() as seen:
            fitted = fit(check.spec, folder, check.tagging, device, **check.recipe)
            predicts(fitted, check.tagging)
        details = fitted.details
        row.trainable, row.frozen = details.get("trainable_dtype"), details.get("frozen_dtype")
        row.autocast = "+".join(sorted(seen.compute_dtypes)) or None
        row.scaler = ("on" if any(seen.scaler) else "off") + (f" (scale {seen.scale:g})" if seen.scale else "")
        if check.spec.endswith("zeroshot"):
            problems = zero_shot_problems(details, check.saved)
        else:
            problems = training_problems(
                details,
                seen,
                half if cuda and check.autocast else None,
                (half if cuda else "float32") if check.frozen == "half" else check.frozen,
            )
        if any(p.device.type != torch.device(device).type for p in fitted.model.parameters()):
            problems.append(f"parameters left off {device}")
        quantization = details.get("quantization")
        if quantization:
            kind, compute = quantization["quant_type"], quantization["compute_dtype"]
            row.notes = f"{quantization['layers_4bit']} {kind} layers, compute {compute}"
            if kind != "nf4" or compute != ("bfloat16" if bf16 else "float32"):
                problems.append(f"quantization {quantization}")
        if details.get("precision"):
            row.notes = details["precision"]
        row.notes = "; ".join(filter(None, [row.notes, *problems]))
        row.passed = not problems
    except Exception as err:  # one failing check never stops the others
        row.notes = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:160] if str(err).strip() else ''}"
        traceback.print_exc(file=sys.stderr)
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    row.seconds = round(time.perf_counter() - started, 1)
    return row


def zero_shot_problems(details: dict[str, Any], saved: str) -> list[str]:
    """Zero-shot trains nothing: no trainable dtype, the model kept as the checkpoint stores it."""
    problems = []
    if details.get("trainable_dtype") is not None:
        problems.append(f"trainable {details.get('trainable_dtype')}, expected none")
    if details.get("frozen_dtype") != saved:
        problems.append(f"frozen {details.get('frozen_dtype')}, expected {saved}")
    return problems


def training_problems(
    details: dict[str, Any], seen: Observed, expected_autocast: str | None, expected_frozen: str | None
) -> list[str]:
    """What is wrong with a trained row: fp32 trainables, the frozen dtype, autocast, the scaler."""
    trainable, frozen = details.get("trainable_dtype"), details.get("frozen_dtype")
    problems = []
    if trainable != "float32":
        problems.append(f"trainable {trainable}, not float32")
    if frozen != expected_frozen:
        problems.append(f"frozen {frozen}, expected {expected_frozen}")
    if details.get("autocast_dtype") != expected_autocast:
        problems.append(f"autocast {details.get('autocast_dtype')}, expected {expected_autocast}")
    if expected_autocast and expected_autocast not in seen.compute_dtypes:
        problems.append(f"no Linear computed in {expected_autocast}")
    if not expected_autocast and seen.compute_dtypes - {"float32"}:
        problems.append(f"half-precision compute without autocast: {sorted(seen.compute_dtypes)}")
    if any(seen.scaler) != (expected_autocast == "float16"):
        problems.append("GradScaler on" if any(seen.scaler) else "no GradScaler under fp16")
    if not seen.compute_dtypes:
        problems.append("no training forward pass observed")
    return problems


def out_of_memory_rows(folder: Path) -> list[Row]:
    """A real CUDA out-of-memory error in training and prediction, and the halving it triggers;
    then one that does not fit even one row, which must stop with OutOfMemoryAtBatchOne."""
    import torch

    from harness.plugins import encoders
    from harness.training import loop as training

    rows = []
    build_checkpoint("bert", folder, "float32")
    cap_gib = 4.0
    for name, per_row_gib, recipe in (
        ("real CUDA OOM: back-off 8 -> 2 rows", 1.2, {"batch_size": 8, "eval_batch_size": 8}),
        ("real CUDA OOM at one row: stops", 6.0, {"batch_size": 2, "eval_batch_size": 2}),
    ):
        row, started = Row(name, "float32"), time.perf_counter()
        original = encoders.load_classifier

        def load(*args: Any, original: Any = original, row_bytes: int = int(per_row_gib * 2**30), **kwargs: Any) -> Any:
            model, tokenizer, new = original(*args, **kwargs)
            ballast_per_row(model, row_bytes)
            return model, tokenizer, new

        try:
            encoders.load_classifier = load
            with memory_cap(cap_gib):
                fitted = fit("bert-base-uncased", folder, False, **recipe)
                predicts(fitted, False)
            d = fitted.details
            row.trainable, row.frozen, row.autocast = d["trainable_dtype"], d["frozen_dtype"], d["autocast_dtype"]
            row.notes = (
                f"micro batch {d['micro_batch_size']} x {d['gradient_accumulation_steps']} steps, eval "
                f"{d['eval_batch_size_used']}, {d['out_of_memory_retries']} retries"
            )
            row.passed = per_row_gib < cap_gib and d["micro_batch_size"] == 2 and d["eval_batch_size_used"] == 2
        except training.OutOfMemoryAtBatchOne as err:
            row.notes, row.passed = f"OutOfMemoryAtBatchOne: {str(err)[:120]}", per_row_gib > cap_gib
        except Exception as err:
            row.notes = f"{type(err).__name__}: {str(err)[:160]}"
            traceback.print_exc(file=sys.stderr)
        finally:
            encoders.load_classifier = original
            torch.cuda.empty_cache()
        row.seconds = round(time.perf_counter() - started, 1)
        rows.append(row)
    return rows


# --- training throughput and model FLOP utilisation (issue 17) ----------------------------------------
#
# The seed study reports minutes per fit on its GPUs; these rows give that a measured basis. Each
# case trains a RANDOMLY INITIALISED model of a real size (no weights travel) on random token ids
# whose lengths follow the embedded indications (4-20 tokens, most of them short), under the
# harness's GPU precision (bf16 autocast where the GPU has it, else fp16 with a GradScaler), with
# AdamW, and times steps after a warm-up. Model FLOPs count the real tokens only (padding is
# work the model did not need), as PaLM's MFU does: per token, 6N + 12 L d T for full fine-tuning
# and 4N + 8 L d T for LoRA (no weight gradients for the frozen body), N the non-embedding
# parameters, L layers, d width, T the batch's sequence length. Minutes per fit extrapolate the
# measured examples/s to --fit-rows rows x --fit-epochs epochs (default: the embedded train
# split, 3,400 rows, and the seed recipe's 5 epochs), training steps only.

# Dense bf16 tensor-core peaks (no sparsity), TFLOP/s, by a word in the device's name.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}


@dataclass(frozen=True)
class ThroughputCase:
    name: str
    family: str  # "encoder" (full fine-tuning) or "decoder" (LoRA)
    sizes: dict[str, int]  # width, layers, heads, intermediate, vocab (kv_heads for a decoder)
    batch: int
    padding: str  # "max_length" (to 128) or "longest" (each batch to its longest row)


BERT_BASE = {"width": 768, "layers": 12, "heads": 12, "intermediate": 3072, "vocab": 30522}
DECODER_1B = {"width": 2048, "layers": 22, "heads": 32, "kv_heads": 4, "intermediate": 5632, "vocab": 32000}
TINY_ENCODER = {"width": 32, "layers": 2, "heads": 2, "intermediate": 64, "vocab": 200}
TINY_DECODER = {"width": 32, "layers": 2, "heads": 2, "kv_heads": 1, "intermediate": 64, "vocab": 200}


def throughput_cases(tiny: bool = False) -> list[ThroughputCase]:
    encoder, decoder = (TINY_ENCODER, TINY_DECODER) if tiny else (BERT_BASE, DECODER_1B)
    label = "tiny" if tiny else "BERT-base"
    return [
        ThroughputCase(f"{label} full, pad 128, batch 8 (seed)", "encoder", encoder, 8, "max_length"),
        ThroughputCase(f"{label} full, dynamic, batch 8", "encoder", encoder, 8, "longest"),
        ThroughputCase(f"{label} full, dynamic, batch 32 (harness)", "encoder", encoder, 32, "longest"),
        ThroughputCase(
            f"{'tiny' if tiny else '1.1B'} decoder LoRA r16, dynamic, batch 8", "decoder", decoder, 8, "longest"
        ),
    ]


def random_lengths(n: int, seed: int) -> list[int]:
    """Token counts like the embedded indications' (with special tokens): 4-20, mostly short."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [int(x) for x in np.clip(np.round(rng.gamma(3.0, 2.5, size=n)) + 3, 4, 20)]


def build_throughput_model(case: ThroughputCase, labels: int = 12) -> Any:
    """A randomly initialised classifier of the case's size (a decoder gets LoRA r16 on every linear layer)."""
    size = case.sizes
    if case.family == "encoder":
        from transformers import BertConfig, BertForSequenceClassification

        config = BertConfig(
            vocab_size=size["vocab"],
            hidden_size=size["width"],
            num_hidden_layers=size["layers"],
            num_attention_heads=size["heads"],
            intermediate_size=size["intermediate"],
            num_labels=labels,
            problem_type="multi_label_classification",
        )
        return BertForSequenceClassification(config)
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=size["vocab"],
        hidden_size=size["width"],
        num_hidden_layers=size["layers"],
        num_attention_heads=size["heads"],
        num_key_value_heads=size["kv_heads"],
        intermediate_size=size["intermediate"],
        num_labels=labels,
        pad_token_id=0,
        problem_type="multi_label_classification",
    )
    model = LlamaForSequenceClassification(config)
    lora = LoraConfig(task_type="SEQ_CLS", r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")
    return get_peft_model(model, lora)


def training_flops_per_token(case: ThroughputCase, body_params: int, seq_len: int) -> float:
    """Model FLOPs per real token of one training step (see the section's comment)."""
    attention = case.sizes["layers"] * case.sizes["width"] * seq_len
    if case.family == "encoder":
        return 6.0 * body_params + 12.0 * attention
    return 4.0 * body_params + 8.0 * attention


def body_parameters(model: Any) -> int:
    """Parameters outside the embeddings (the FLOP count's N)."""
    return sum(p.numel() for name, p in model.named_parameters() if "embed" not in name)


def peak_tflops(device_name: str | None, given: float | None) -> float | None:
    if given:
        return given
    if not device_name:
        return None
    return next((peak for word, peak in PEAK_BF16_TFLOPS.items() if word in device_name), None)


def measure_throughput(
    case: ThroughputCase, device: str, steps: int, warmup: int, peak: float | None, fit_rows: int, fit_epochs: int
) -> Row:
    """Train ``steps`` timed steps (after ``warmup``) of the case; a row of the throughput table."""
    import torch

    from harness.training.loop import TrainingConfig
    from harness.training.precision import autocast, autocast_dtype, set_training_precision

    torch.manual_seed(0)
    model = build_throughput_model(case)
    config = TrainingConfig(mixed_precision=True)
    dtype = autocast_dtype(device, config)
    if case.family == "decoder":  # as a decoder checkpoint ships (bf16): the frozen body stays in half on a GPU
        model = model.to(torch.bfloat16)
    model = model.to(device)
    set_training_precision(model, device, dtype)
    scaler = torch.amp.GradScaler("cuda", enabled=device.startswith("cuda") and dtype == torch.float16)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    lengths = random_lengths((steps + warmup) * case.batch, seed=1)
    generator = torch.Generator().manual_seed(2)
    flops = 0.0
    real_tokens = 0
    elapsed = 0.0
    for step in range(steps + warmup):
        rows = lengths[step * case.batch : (step + 1) * case.batch]
        width = 128 if case.padding == "max_length" else max(rows)
        ids = torch.randint(1, case.sizes["vocab"], (case.batch, width), generator=generator)
        mask = (torch.arange(width)[None, :] < torch.tensor(rows)[:, None]).long()
        labels = torch.randint(0, 2, (case.batch, 12), generator=generator).float()
        ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        with autocast(device, dtype):
            logits = model(input_ids=ids, attention_mask=mask).logits
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= warmup:
            elapsed += time.perf_counter() - started
            real_tokens += sum(rows)
            flops += sum(rows) * training_flops_per_token(case, body_parameters(model), width)
    examples_per_second = steps * case.batch / elapsed
    achieved = flops / elapsed / 1e12
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    mfu = f"MFU {100 * achieved / peak:.1f}% of {peak:g}" if peak else "MFU - (peak unknown)"
    minutes = fit_rows * fit_epochs / examples_per_second / 60
    notes = (
        f"{total / 1e6:.4g}M params ({trainable / 1e6:.3g}M trained); {examples_per_second:.0f} ex/s, "
        f"{real_tokens / elapsed:.0f} real tokens/s; {achieved:.2f} model TFLOP/s, {mfu}; "
        f"{minutes:.1f} min per fit ({fit_rows} rows x {fit_epochs} epochs)"
    )
    saved = "random init"
    return Row(
        case.name,
        saved,
        dtype_name(model, True),
        dtype_name(model, False),
        str(dtype).removeprefix("torch."),
        "on" if scaler.is_enabled() else "-",
        notes,
        True,
        round(elapsed, 1),
    )


def dtype_name(model: Any, trainable: bool) -> str | None:
    from harness.training.precision import dtype_summary

    return dtype_summary(p for p in model.parameters() if p.requires_grad == trainable)


def throughput_rows(
    device: str = "cuda",
    tiny: bool = False,
    steps: int = 30,
    warmup: int = 5,
    peak: float | None = None,
    fit_rows: int = 3400,
    fit_epochs: int = 5,
) -> list[Row]:
    """The second table: one row per throughput case (a failing case is a FAIL row with the reason)."""
    rows = []
    for case in throughput_cases(tiny):
        try:
            rows.append(measure_throughput(case, device, steps, warmup, peak, fit_rows, fit_epochs))
        except Exception as error:  # noqa: BLE001 - one case's failure must not hide the others
            rows.append(Row(case.name, "random init", notes=f"{type(error).__name__}: {error}"[:300]))
        print(f"  {rows[-1].check}: {'PASS' if rows[-1].passed else 'FAIL'} ({rows[-1].seconds:.1f} s)", flush=True)
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
    return rows


# --- the table ------------------------------------------------------------------------------------------

COLUMNS = ("check", "saved", "trainable", "frozen", "autocast", "scaler", "result", "seconds", "notes")


def render_table(rows: list[Row]) -> str:
    """A plain-text table of ``rows`` (one line each, columns padded) and a pass count line."""
    cells = [
        [
            str(v)
            for v in (
                r.check,
                r.saved,
                r.trainable or "-",
                r.frozen or "-",
                r.autocast or "-",
                r.scaler,
                "PASS" if r.passed else "FAIL",
                f"{r.seconds:.1f}",
                r.notes,
            )
        ]
        for r in rows
    ]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    failed = sum(not r.passed for r in rows)
    lines.append(f"{len(rows) - failed} passed, {failed} failed")
    return "\n".join(lines)


def cuda_device() -> str | None:
    """The CUDA device's name, or None without torch or CUDA."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def main(argv: list[str] | None = None, run: Callable[[Check, Path], Row] = run_check) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("-k", default="", help="run only the checks whose name contains this")
    parser.add_argument("--throughput-only", action="store_true", help="only the training throughput table")
    parser.add_argument("--no-throughput", action="store_true", help="skip the training throughput table")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="the throughput table's logic on this machine's CPU with tiny models and 2 steps (no GPU needed)",
    )
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per throughput case")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, if its name is not known")
    parser.add_argument("--fit-rows", type=int, default=3400, help="rows of the fit that minutes per fit assume")
    parser.add_argument("--fit-epochs", type=int, default=5, help="epochs of the fit that minutes per fit assume")
    args = parser.parse_args(argv)
    if args.dry_run:
        rows = throughput_rows("cpu", tiny=True, steps=2, warmup=1, fit_rows=args.fit_rows, fit_epochs=args.fit_epochs)
        print(render_table(rows))
        return 0 if all(r.passed for r in rows) else 1
    device = cuda_device()
    if device is None:
        print(
            "gpu_check: no CUDA device (torch.cuda.is_available() is False); run it on a GPU machine", file=sys.stderr
        )
        return 2
    import torch

    print(f"{device}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for i, check in enumerate(c for c in checks() if args.k in c.name and not args.throughput_only):
            rows.append(run(check, Path(scratch) / f"{i:02d}"))
            print(f"  {rows[-1].check}: {'PASS' if rows[-1].passed else 'FAIL'} ({rows[-1].seconds:.1f} s)", flush=True)
        if args.k in "real CUDA OOM at one row" and not args.throughput_only:  # -k "" or -k oom-ish: these too
            rows += out_of_memory_rows(Path(scratch) / "oom")
    if rows:
        print(render_table(rows))
    extra = []
    if not args.no_throughput:
        peak = peak_tflops(device, args.peak_tflops)
        extra = throughput_rows("cuda", steps=args.steps, peak=peak, fit_rows=args.fit_rows, fit_epochs=args.fit_epochs)
        print("\ntraining throughput (random weights; model FLOPs of real tokens)\n" + render_table(extra))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows + extra], indent=1), encoding="utf-8")
    return 0 if all(r.passed for r in rows + extra) else 1


if __name__ == "__main__":
    sys.exit(main())
