"""Issue #13 item 4: the bot's two histograms are fed by the real turn, not only by tests calling the feeding
functions: `cobranca_classification_confidence` by every classifier call (the shipped model here) and
`cobranca_bot_answer_seconds` by every reply the bot produces."""

from __future__ import annotations

import pytest

from billing.tests.factories import ClientFactory
from chatbot import services
from cobranca import metrics

pytestmark = pytest.mark.django_db


def _count(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(f"{name}_count", labels or None) or 0.0


def test_a_real_turn_feeds_the_confidence_and_answer_time_histograms(settings):
    settings.CHATBOT_ENABLED = True
    ClientFactory(phone="+5511987654321")
    answers_before = _count("cobranca_bot_answer_seconds")

    result = services.bot_process_text(phone="+5511987654321", text="quero pagar o boleto", send=False)

    assert result["response"]
    assert _count("cobranca_classification_confidence", intent=result["intent"]) >= 1
    assert _count("cobranca_bot_answer_seconds") == answers_before + 1


def test_the_classifier_call_feeds_the_confidence_histogram():
    intent, confidence = services.classify("oi, bom dia")
    before = _count("cobranca_classification_confidence", intent=intent)
    services.classify("oi, bom dia")
    assert _count("cobranca_classification_confidence", intent=intent) == before + 1
    assert 0.0 <= confidence <= 1.0
