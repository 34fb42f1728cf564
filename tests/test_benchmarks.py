"""The benchmark scripts refuse a comparison they cannot make, before loading any model."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ("minilm-l6", "at least one encoder and one decoder"),
        ("smollm2-135m-lora,smollm2-135m-qlora", "at least one encoder and one decoder"),
        ("minilm-l6,no-such-model", "unknown model(s): no-such-model"),
    ],
)
def test_ner_inference_benchmark_needs_both_families(models, message):
    benchmark = _load("ner_inference")
    with pytest.raises(SystemExit) as stopped:
        benchmark.main(["--models", models])
    assert message in str(stopped.value.code)


# --- benchmarks/gpu_check.py: only what runs without a GPU ------------------------------------------


def test_gpu_check_without_cuda_says_so_and_exits_2(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _load("gpu_check").main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.slow  # eleven model classes built and saved: 5 s on quiet cores, 26 s on busy ones
@pytest.mark.usefixtures("one_torch_thread")
def test_gpu_check_saves_tiny_checkpoints_of_every_family_in_bf16(tmp_path):
    pytest.importorskip("transformers")
    from safetensors import safe_open

    check = _load("gpu_check")
    for family in (*check.ENCODER_FAMILIES, *check.DECODER_FAMILIES):
        folder = check.build_checkpoint(family, tmp_path / family)
        with safe_open(str(folder / "model.safetensors"), "pt") as stored:
            dtypes = {str(stored.get_slice(name).get_dtype()) for name in stored.keys()}
        assert dtypes == {"BF16"}, family


@pytest.mark.slow  # four tiny fits through the real plugins: 3 s on quiet cores, 64 s on busy ones
@pytest.mark.usefixtures("one_torch_thread")
def test_gpu_check_rows_pass_on_a_cpu_and_fail_without_the_fp32_rule(monkeypatch, tmp_path):
    """On a CPU the checks expect the CPU's rules; with the upcast switched off, the bf16
    checkpoint trains bf16 weights and its row fails, saying so."""
    pytest.importorskip("peft")
    from harness.training import precision

    check = _load("gpu_check")
    by_name = {c.name: c for c in check.checks()}
    for name in ("bert bf16 checkpoint", "llama LoRA tagger", "llama zero-shot"):
        row = check.run_check(by_name[name], tmp_path / name.replace(" ", "-"), "cpu")
        assert row.passed, (name, row.notes)
    monkeypatch.setattr(precision, "set_training_precision", lambda *args: None)
    row = check.run_check(by_name["bert bf16 checkpoint"], tmp_path / "unfixed", "cpu")
    assert not row.passed and "trainable bfloat16, not float32" in row.notes


def test_gpu_check_table_shows_each_row_and_the_count():
    check = _load("gpu_check")
    rows = [
        check.Row("bert bf16 checkpoint", "bfloat16", "float32", None, "bfloat16", "off", passed=True, seconds=1.25),
        check.Row("llama QLoRA nf4", "bfloat16", notes="ImportError: no bitsandbytes"),
    ]
    lines = check.render_table(rows).splitlines()
    assert lines[0].split() == list(check.COLUMNS)
    assert lines[2].split()[:9] == ["bert", "bf16", "checkpoint", "bfloat16", "float32", "-", "bfloat16", "off", "PASS"]
    assert "FAIL" in lines[3] and lines[3].endswith("ImportError: no bitsandbytes")
    assert lines[-1] == "1 passed, 1 failed"


# --- benchmarks/gpu_check.py's training throughput table (issue 17) --------------------------------


def test_gpu_check_throughput_models_have_the_sizes_they_are_named_for():
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    check = _load("gpu_check")
    bert, *_, decoder = check.throughput_cases()
    with torch.device("meta"):  # sizes without allocating a billion parameters
        encoder_params = sum(p.numel() for p in check.build_throughput_model(bert).parameters())
        decoder_model = check.build_throughput_model(decoder)
    decoder_params = sum(p.numel() for p in decoder_model.parameters())
    assert 109e6 < encoder_params < 110e6  # BERT-base with a 12-label head
    assert 1.0e9 < decoder_params < 1.2e9  # TinyLlama-sized, with LoRA r16 on every linear layer
    trainable = sum(p.numel() for p in decoder_model.parameters() if p.requires_grad)
    assert 5e6 < trainable < 20e6  # the adapters and the head only
    # Full fine-tuning: 6N per token plus 12 L d T for attention; LoRA: 4N plus 8 L d T.
    assert check.training_flops_per_token(bert, 1000, 10) == 6 * 1000 + 12 * 12 * 768 * 10
    assert check.training_flops_per_token(decoder, 1000, 10) == 4 * 1000 + 8 * 22 * 2048 * 10


def test_gpu_check_peak_is_read_from_the_device_name_or_given():
    check = _load("gpu_check")
    assert check.peak_tflops("NVIDIA H100 PCIe", None) == 756.0
    assert check.peak_tflops("NVIDIA H100 80GB HBM3", None) == 989.0
    assert check.peak_tflops("Some GPU", None) is None
    assert check.peak_tflops("Some GPU", 100.0) == 100.0


@pytest.mark.slow  # four tiny fits of two steps on the CPU: 5 s on quiet cores
@pytest.mark.usefixtures("one_torch_thread")
def test_gpu_check_dry_run_measures_every_throughput_case_on_the_cpu(capsys):
    pytest.importorskip("peft")
    check = _load("gpu_check")
    assert check.main(["--dry-run"]) == 0
    table = capsys.readouterr().out
    cases = [case.name for case in check.throughput_cases(tiny=True)]
    lines = table.splitlines()
    rows = [next(line for line in lines if line.startswith(name)) for name in cases]
    assert [re.search(r"\s(PASS|FAIL)\s", line).group(1) for line in rows] == ["PASS"] * len(cases), table
    assert f"{len(cases)} passed, 0 failed" in lines and "FAIL" not in table
    assert "min per fit (3400 rows x 5 epochs)" in table


# --- benchmarks/ray_gpu_check.py --tune: two fractional-GPU search trials side by side ------------------


@pytest.mark.slow  # a tiny BERT, a local Ray cluster, two trials: about a minute on busy cores
def test_ray_gpu_check_tune_dry_run_puts_two_half_gpu_trials_side_by_side(capsys):
    pytest.importorskip("ray.tune")
    pytest.importorskip("transformers")
    assert _load("ray_gpu_check").main(["--tune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "side by side: yes" in out and "PASSED" in out and "GPUs [0]" in out


# --- benchmarks/few_shot.py and main_command.py: what they print from what they measured -------------


def _few_shot_run(eval_f1: float, test_f1: float, recall: float) -> dict:
    split = {
        "rows": 120,
        "of": 150,
        "f1_macro": test_f1,
        "per_class_recall": {"a": recall, "b": 1.0},
        "seconds_per_input": 0.5,
    }
    return {
        "primary_metric": "f1_weighted",
        "labels": ["a", "b"],
        "splits": {"eval": {**split, "primary": eval_f1}, "internal": {**split, "primary": test_f1}},
    }


def test_few_shot_table_gives_the_seed_spread_of_random_demonstrations():
    benchmark = _load("few_shot")
    record = {
        "machine": "a CPU",
        "load": "quiet",
        "date": "2026-12-07",
        "commit": "abc1234",
        "class_recall": "a",
        "fits": [
            {
                "task": "t",
                "synthetic": True,
                "recipe": {"shots": 0},
                "seeds": [42],
                "train_rows": 90,
                "runs": [_few_shot_run(0.5, 0.4, 0.2)],
            },
            {
                "task": "t",
                "synthetic": True,
                "recipe": {"shots": 4, "demonstrations": "random"},
                "seeds": [42, 43],
                "train_rows": 90,
                "runs": [_few_shot_run(0.6, 0.5, 0.3), _few_shot_run(0.8, 0.7, 0.5)],
            },
        ],
    }
    table = benchmark.markdown(record, "t")
    lines = table.splitlines()
    assert lines[0] == (
        "| recipe | eval f1 weighted | internal f1 weighted | internal macro F1 | a recall (internal) | s/input (internal) |"
    )
    assert lines[2] == "| zero-shot | 0.500 | 0.400 | 0.400 | 0.200 | 0.50 |"
    assert (
        lines[3]
        == "| 4-shot random | 0.700 [0.600-0.800] | 0.600 [0.500-0.700] | 0.600 [0.500-0.700] | 0.400 [0.300-0.500] | 0.50 |"
    )
    assert "SYNTHETIC" in lines[-1] and "over 2 seeds" in lines[-1] and "commit abc1234" in lines[-1]
    assert "120 of 150 eval rows, 120 of 150 internal rows scored" in lines[-1]
    record["fits"] = [{**fit, "synthetic": False} for fit in record["fits"]]
    assert "SYNTHETIC" not in benchmark.markdown(record, "t")
    with pytest.raises(KeyError, match="no fits of task 'u'"):
        benchmark.markdown(record, "u")


def test_main_command_compare_reports_the_largest_metric_difference(tmp_path, capsys):
    import json

    benchmark = _load("main_command")
    for name, f1 in (("a", 0.5), ("b", 0.5004)):
        (tmp_path / name).mkdir()
        item = {"name": "t[m]", "status": "passed", "metrics": {"internal": {"f1_macro": f1, "examples": 10}}}
        (tmp_path / name / "leaderboard.json").write_text(json.dumps({"results": [item]}), encoding="utf-8")
    assert benchmark.main(["--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "1 items in both; largest difference of any metric: 0.000400" in out
    assert "t[m] internal.f1_macro: 0.500000 -> 0.500400" in out
