"""Tag the same sentences with encoders and with decoders and print the cost ratio per parameter.

The ``ner`` task's target: decoders tag in one forward pass, like encoders, so their time per
sentence per million parameters should stay within 3x of the encoders' (the seed study's LLMs,
generating their tags, were 40-220x slower). Each model is trained for a few steps only, on a
few sentences: the cost of a forward pass does not depend on what the weights have learnt, and
F1 is not measured here (``harness run --tasks ner`` does that).

    python benchmarks/ner_inference.py                      # minilm-l6 against both SmolLM2 regimes
    python benchmarks/ner_inference.py --sentences 200 --repeats 5 --models minilm-l6,smollm2-135m-lora

Recipes are each model's, as the default profile runs them on this device (on a CPU: SmolLM2's
bf16 prediction where the processor supports it, its 32-token limit); tagging uses the test split
of the embedded silver-standard corpus.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from harness.core.profiles import PROFILES
from harness.core.weights import find_weights
from harness.plugins import decoders, encoders
from harness.progress import no_progress
from harness.registry import ModelRegistry
from harness.tagged import TaggedSplit, read_conll, tag_set
from harness.tasks.ner import embedded_path

TARGET = 3.0  # decoders / encoders, per sentence per million parameters
TRAIN_SENTENCES = 32


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        default="minilm-l6,smollm2-135m-lora,smollm2-135m-qlora",
        help="comma-separated; at least one encoder and one decoder",
    )
    parser.add_argument("--sentences", type=int, default=600, help="test sentences tagged per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="the median of this many timings is reported")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    return parser.parse_args(argv)


def split(name: str, limit: int) -> TaggedSplit:
    path = embedded_path(name)
    return read_conll(path, name, synthetic=True, public=True).sample(limit, seed=0)


def time_model(spec, device: str, train: TaggedSplit, eval_: TaggedSplit, test: TaggedSplit, repeats: int) -> dict:
    from harness.model import TagRequest

    weights, looked = find_weights(spec)
    if weights is None:
        sys.exit(f"{spec.name}: no weights found (looked in {', '.join(looked)})")
    recipe = {**PROFILES["default"].recipe_for(spec, device, tagging=True), "epochs": 1}
    tagger = spec.tag(
        TagRequest(
            spec=spec,
            tag_set=tag_set(train.entity_types()),
            train=train,
            eval=eval_,
            seed=0,
            recipe=recipe,
            device=device,
            weights=str(weights),
            progress=no_progress,
        )
    )
    sentences = [list(words) for words in test.sentences]
    tagger.predict_tags(sentences[:8])  # warm-up: first-call allocations and kernel selection
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        tagger.predict_tags(sentences)
        seconds.append(time.perf_counter() - started)
    per_sentence = statistics.median(seconds) / len(sentences)
    return {
        "family": spec.family,
        "params": tagger.params,
        "per_sentence": per_sentence,
        "per_million": per_sentence / (tagger.params / 1e6),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    registry = ModelRegistry()
    encoders.harness_add_models(registry)
    decoders.harness_add_models(registry)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in registry]
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(registry.names())}")
    specs = [registry[name] for name in names]
    if {spec.family for spec in specs} != {"encoder", "decoder"}:
        sys.exit("--models needs at least one encoder and one decoder")
    train, eval_, test = split("train", TRAIN_SENTENCES), split("eval", 16), split("test", args.sentences)
    print(f"tagging {len(test)} test sentences of the embedded SILVER corpus, median of {args.repeats}, on {device}")
    results = {}
    for spec in specs:
        results[spec.name] = time_model(spec, device, train, eval_, test, args.repeats)
        r = results[spec.name]
        print(
            f"  {spec.name:<22} {r['family']:<8} {r['params'] / 1e6:7.1f}M params  "
            f"{r['per_sentence'] * 1e3:7.2f} ms / sentence  {r['per_million'] * 1e3:6.3f} ms / sentence / M params"
        )
    by_family = {family: [r for r in results.values() if r["family"] == family] for family in ("encoder", "decoder")}
    mean = {
        family: {key: statistics.mean(r[key] for r in rows) for key in ("per_sentence", "per_million")}
        for family, rows in by_family.items()
    }
    per_sentence = mean["decoder"]["per_sentence"] / mean["encoder"]["per_sentence"]
    per_million = mean["decoder"]["per_million"] / mean["encoder"]["per_million"]
    verdict = "within" if per_million <= TARGET else "OVER"
    print(
        f"decoders / encoders: {per_sentence:.2f}x per sentence, {per_million:.2f}x per million parameters "
        f"({verdict} the {TARGET:g}x target; the seed study's generating LLMs: 40-220x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
