"""The benchmark scripts refuse a comparison they cannot make, before loading any model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("models", "message"), [
    ("minilm-l6", "at least one encoder and one decoder"),
    ("smollm2-135m-lora,smollm2-135m-qlora", "at least one encoder and one decoder"),
    ("minilm-l6,no-such-model", "unknown model(s): no-such-model"),
])
def test_ner_inference_benchmark_needs_both_families(models, message):
    benchmark = _load("ner_inference")
    with pytest.raises(SystemExit) as stopped:
        benchmark.main(["--models", models])
    assert message in str(stopped.value.code)
