"""Seed ensembles merged into one network, temperature scaling and the calibration error."""

from __future__ import annotations

import pytest
import torch

from chatbot.nlu.calibration import expected_calibration_error, fit_temperature
from chatbot.nlu.data import Example
from chatbot.nlu.model import TrainConfig, batch_tensors, merge_members, train_intent_model

EXAMPLES = [
    Example("ja paguei", "confirmacao_pagamento"),
    Example("paguei ontem", "confirmacao_pagamento"),
    Example("vou pagar sexta", "promessa_pagamento"),
    Example("pago amanha", "promessa_pagamento"),
    Example("me manda o pix", "informacoes_pagamento"),
    Example("qual a chave pix", "informacoes_pagamento"),
] * 3


def _config(**overrides) -> TrainConfig:
    return TrainConfig(**{"seed": 3, "epochs": 4, "dim": 8, "num_buckets": 2**12, "lr": 0.05, **overrides})


def _logits(result, texts: list[str]) -> torch.Tensor:
    rows = [result.featurizer.featurize_weighted(text) for text in texts]
    with torch.no_grad():
        return result.model(*batch_tensors(rows))


TEXTS = ["ja paguei hoje", "pago sexta", "manda o pix", "qualquer outra coisa"]


def test_a_merged_ensemble_answers_the_mean_of_its_members_logits() -> None:
    members = [train_intent_model(EXAMPLES, _config(seed=3 + k, ensemble=1)) for k in range(3)]
    merged = train_intent_model(EXAMPLES, _config(ensemble=3))
    expected = sum(_logits(member, TEXTS) for member in members) / 3
    assert torch.allclose(_logits(merged, TEXTS), expected, atol=1e-5)
    # One value per intent and n-gram: smaller than any member.
    assert merged.model.embedding.embedding_dim == len(merged.labels) < 8


def test_the_temperature_divides_the_logits_and_keeps_the_winner() -> None:
    plain = train_intent_model(EXAMPLES, _config(ensemble=2, temperature=1.0))
    cooled = train_intent_model(EXAMPLES, _config(ensemble=2, temperature=2.0))
    assert torch.allclose(_logits(cooled, TEXTS), _logits(plain, TEXTS) / 2.0, atol=1e-5)
    single = train_intent_model(EXAMPLES, _config(ensemble=1, temperature=1.0))
    single_cooled = train_intent_model(EXAMPLES, _config(ensemble=1, temperature=2.0))
    assert torch.allclose(_logits(single_cooled, TEXTS), _logits(single, TEXTS) / 2.0, atol=1e-5)
    assert torch.equal(_logits(single_cooled, TEXTS).argmax(1), _logits(single, TEXTS).argmax(1))


def test_an_ensemble_needs_a_model_without_hidden_layer() -> None:
    with pytest.raises(ValueError, match="hidden layer"):
        train_intent_model(EXAMPLES, _config(ensemble=2, hidden=4))
    with pytest.raises(ValueError):
        merge_members([])


def test_a_perfectly_calibrated_model_has_no_calibration_error() -> None:
    # Confidence 0.75 everywhere, right 3 times out of 4.
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(probs, torch.tensor([1, 1, 1, 1])) == pytest.approx(0.75)


def test_the_fitted_temperature_cools_an_overconfident_model() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (600,), generator=generator)
    # Right 70 % of the time, but with logits that claim ~100 %.
    guessed = torch.where(torch.rand(600, generator=generator) < 0.7, labels, (labels + 1) % 3)
    logits = torch.nn.functional.one_hot(guessed, 3).float() * 12.0
    temperature = fit_temperature(logits, labels)
    assert temperature > 5
    before = expected_calibration_error(torch.softmax(logits, 1), labels)
    after = expected_calibration_error(torch.softmax(logits / temperature, 1), labels)
    assert before > 0.25 and after < 0.02
