"""A row-sampled fit says which training rows it trained on (``FittedClassifier.train_rows``), so
that "unseen in train" is judged against what the model saw, not against the whole split."""

from __future__ import annotations

import pytest

from harness.model import train_rows_of
from harness.plugins import encoders

from .test_encoders import TINY_RECIPE, request_for, splits, tiny_bert  # noqa: F401  (fixtures)

pytest.importorskip("torch")
from harness.training import loop as training


def test_a_sampled_fit_names_the_rows_it_trained_on(tiny_bert, splits, monkeypatch):  # noqa: F811
    train, eval_, _ = splits
    encoded: list[tuple[str, ...]] = []
    real = training.encode

    def spy(tokenizer, texts, max_length):
        encoded.append(tuple(texts))
        return real(tokenizer, texts, max_length)

    monkeypatch.setattr("harness.training.encoding.encode", spy)  # the loop encodes through it
    recipe = {**TINY_RECIPE, "epochs": 1, "max_train_rows": 50}
    fitted = encoders.fit_encoder(request_for(tiny_bert, train, eval_, seed=3, **recipe))
    rows = list(fitted.train_rows)
    assert len(rows) == 50 == fitted.details["train_rows_used"] and rows == sorted(set(rows))
    assert tuple(train.texts[i] for i in rows) == encoded[0]  # exactly the texts the loop trained on
    assert list(train_rows_of(fitted, len(train))) == rows


def test_a_fit_on_every_row_says_so(tiny_bert, splits):  # noqa: F811
    train, eval_, _ = splits
    fitted = encoders.fit_encoder(request_for(tiny_bert, train, eval_, **{**TINY_RECIPE, "epochs": 1}))
    assert fitted.train_rows is None
    assert list(train_rows_of(fitted, len(train))) == list(range(len(train)))
