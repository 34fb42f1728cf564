"""The CPU's faster paths (issue 17) and what they must keep.

Linear layers stored in the prediction dtype once (``precision.cast_for_inference``): CPU autocast
casts every fp32 weight to bf16 on every forward; storing the cast once must give the same
predictions bit for bit, for the zero-shot model (whose shared prompt is cached in fp32 first)
and for a LoRA decoder after its fit, and must leave a tied embedding in fp32.

A repeated input is scored once (clinical test sets repeat short texts): the zero-shot model and a
fine-tuned decoder score each distinct input once and give every copy its scores.

The fused AdamW on a CPU must make torch's reference AdamW update, up to float rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.training import precision

from .test_decoders import fit_request, save_tiny_decoder, splits  # noqa: F401 (splits is a fixture)
from .test_zeroshot import TEXTS, TINY_MULTI_TOKEN, request_for

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama-cast"), "llama")


def test_zero_shot_predictions_are_bit_identical_after_the_cast(tiny_llama: Path) -> None:
    from harness.plugins import zeroshot

    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN))
    classifier.autocast_dtype = torch.bfloat16  # as on a CPU with bf16 matmuls, whatever this one has
    autocast_only = classifier.predict_scores(TEXTS)
    classifier.cast_for_inference()
    cast = classifier.predict_scores(TEXTS)
    assert np.array_equal(cast, autocast_only)
    model = classifier.model
    assert model.model.layers[0].mlp.down_proj.weight.dtype == torch.bfloat16
    assert model.get_input_embeddings().weight.dtype == torch.float32  # untied from the output layer
    assert model.lm_head.weight.dtype == torch.bfloat16


@pytest.mark.parametrize("quantized", [False, True], ids=["lora", "qlora"])
def test_a_lora_decoder_predicts_the_same_after_the_cast(tiny_llama: Path, splits, monkeypatch, quantized) -> None:  # noqa: F811
    from harness.plugins import decoders

    if quantized:
        pytest.importorskip("bitsandbytes")
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)  # bf16 autocast for prediction here too
    name = "smollm2-135m-qlora" if quantized else "smollm2-135m-lora"
    request = fit_request(tiny_llama, splits, name, cpu_bf16_inference=True)
    classifier = decoders.fit_decoder(request, quantized=quantized)
    texts = list(splits[2].texts)
    classifier.weights_cast = True  # predict under autocast with the fp32 weights first
    autocast_only = classifier.predict_scores(texts)
    classifier.weights_cast = False
    cast = classifier.predict_scores(texts)
    assert classifier.weights_cast
    assert np.array_equal(cast, autocast_only)
    dtypes = {m.weight.dtype for m in classifier.model.modules() if type(m) is torch.nn.Linear}
    assert dtypes == {torch.bfloat16}  # the adapters and the head (a 4-bit layer is not a plain Linear)


def test_nothing_is_cast_for_fp32_prediction_or_off_the_cpu(tiny_llama: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    assert precision.cast_for_inference(model, "cpu", None) == 0
    assert precision.cast_for_inference(model, "cuda", torch.bfloat16) == 0
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert precision.cast_for_inference(model, "cpu", torch.bfloat16) > 0


def test_zero_shot_scores_a_repeated_input_once(tiny_llama: Path) -> None:
    from harness.plugins import zeroshot

    classifier = zeroshot.fit_zero_shot(request_for(tiny_llama, answers=TINY_MULTI_TOKEN))
    alone = classifier.predict_scores(TEXTS)
    scored: list[int] = []
    forward = classifier._answer_distribution

    def counted(rows, cache, start):
        scored.append(len(rows))
        return forward(rows, cache, start)

    classifier._answer_distribution = counted
    repeated = [TEXTS[i] for i in (0, 1, 0, 2, 3, 3, 1, 0)]
    scores = classifier.predict_scores(repeated)
    assert sum(scored) == len(TEXTS)
    np.testing.assert_allclose(scores, alone[[0, 1, 0, 2, 3, 3, 1, 0]], rtol=0, atol=1e-6)


def test_a_fine_tuned_decoder_scores_a_repeated_input_once(tiny_llama: Path, splits, monkeypatch) -> None:  # noqa: F811
    from harness.plugins import decoders
    from harness.training import loop

    classifier = decoders.fit_decoder(fit_request(tiny_llama, splits, "smollm2-135m-lora"), quantized=False)
    texts = list(dict.fromkeys(splits[2].texts))[:5]
    alone = classifier.predict_scores(texts)
    rows: list[int] = []
    logits = loop.features_logits

    def counted(model, tokenizer, features, *args, **kwargs):
        rows.append(len(features))
        return logits(model, tokenizer, features, *args, **kwargs)

    monkeypatch.setattr(loop, "features_logits", counted)
    order = [4, 0, 4, 1, 2, 3, 0, 4]
    scores = classifier.predict_scores([texts[i] for i in order])
    assert rows == [len(texts)]
    np.testing.assert_allclose(scores, alone[order], rtol=0, atol=1e-6)


def test_the_cpu_optimizer_is_fused_and_makes_the_reference_adamw_update() -> None:
    from harness.training.loop import TrainingConfig
    from harness.training.optimizer import linear_schedule, optimizer_stepper

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, 3))
    reference = [p.detach().clone().requires_grad_() for p in model.parameters()]
    config = TrainingConfig(lr=1e-2, head_lr=1e-1, weight_decay=0.01, max_grad_norm=0.5, epochs=1, batch_size=4)
    stepper = optimizer_stepper(model, config, "cpu", ("1.",), train_rows=12)
    assert stepper.optimizer.defaults["fused"] is True
    # The same groups (body 1e-2 with decay on matrices, head 1e-1), torch's for-loop AdamW.
    groups = [
        {"params": [reference[0]], "lr": 1e-2, "weight_decay": 0.01},
        {"params": [reference[1]], "lr": 1e-2, "weight_decay": 0.0},
        {"params": [reference[2]], "lr": 1e-1, "weight_decay": 0.01},
        {"params": [reference[3]], "lr": 1e-1, "weight_decay": 0.0},
    ]
    expected = torch.optim.AdamW(groups, foreach=False)
    schedule = linear_schedule(expected, 0, 3)  # 3 batches of 4 rows, 1 epoch
    x = torch.randn(4, 8)
    for _ in range(3):
        stepper.zero_grad()
        stepper.backward(model(x).pow(2).sum())
        stepper.step()
        expected.zero_grad()
        hidden = torch.nn.functional.linear(x, reference[0], reference[1])
        out = torch.nn.functional.linear(hidden, reference[2], reference[3])
        out.pow(2).sum().backward()
        torch.nn.utils.clip_grad_norm_(reference, 0.5, foreach=False)
        expected.step()
        schedule.step()
    for got, want in zip(model.parameters(), reference):
        torch.testing.assert_close(got.detach(), want.detach(), rtol=1e-5, atol=1e-6)
