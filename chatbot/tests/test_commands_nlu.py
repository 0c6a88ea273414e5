"""The train_chatbot, classify and evaluate_chatbot management commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from chatbot.models import ModelVersion
from chatbot.nlu.classifier import DEFAULT_MODEL_PATH
from chatbot.nlu.data import TRAIN_PATH, read_jsonl


def _run(name: str, *args: str, stdin: str | None = None) -> str:
    out = StringIO()
    kwargs = {"stdin": StringIO(stdin)} if stdin is not None else {}
    call_command(name, *args, stdout=out, **kwargs)
    return out.getvalue()


@pytest.mark.django_db
def test_classify_writes_one_json_object_per_input_line() -> None:
    output = _run(
        "classify",
        "--now",
        "2026-11-20T10:00",
        stdin="já paguei ontem R$ 150,50\n\nda pra parcelar em 3x?? começo dia 15\nvou pagar sexta\n",
    )
    rows = [json.loads(line) for line in output.splitlines()]
    assert [row["intent"] for row in rows] == ["confirmacao_pagamento", "negociacao", "promessa_pagamento"]
    assert rows[0]["text"] == "já paguei ontem R$ 150,50"
    assert rows[0]["entities"] == {"amount": "150.50"}
    assert rows[1]["entities"] == {"installments": 3, "date": "2026-12-15"}
    assert rows[2]["entities"] == {"date": "2026-11-27"}
    assert all(
        0 <= row["confidence"] <= 1 and round(row["confidence"], 4) == row["confidence"] for row in rows
    )
    assert "já paguei" in output  # ensure_ascii=False keeps Portuguese readable


@pytest.mark.django_db
def test_classify_without_model_uses_the_active_model_version_like_the_bot(tmp_path: Path) -> None:
    from chatbot.nlu.classifier import clear_classifier_cache
    from chatbot.nlu.data import Example
    from chatbot.nlu.labels import INTENTS
    from chatbot.nlu.model import TrainConfig, save_model_file, train_intent_model
    from chatbot.services import classify

    # A deliberately odd model: everything reads as agradecimento, so only it can produce these answers.
    odd = [Example(text, "agradecimento") for text in ("oi", "bom dia", "ja paguei", "me manda o pix")]
    odd += [Example("xyzzy", "desconhecido")]
    result = train_intent_model(
        odd, TrainConfig(seed=1, epochs=40, dim=8, lr=0.05, num_buckets=2**12), labels=INTENTS
    )
    path = save_model_file(result, tmp_path / "odd.pt")
    ModelVersion.objects.create(version="2099.01.01-0000", path=str(path), is_active=True)
    clear_classifier_cache()
    try:
        rows = [json.loads(line) for line in _run("classify", stdin="oi\nja paguei\n").splitlines()]
        assert [row["intent"] for row in rows] == ["agradecimento", "agradecimento"]
        assert [classify(row["text"])[0] for row in rows] == ["agradecimento", "agradecimento"]
        shipped = _run("classify", "--model", str(DEFAULT_MODEL_PATH), stdin="ja paguei\n")
        assert json.loads(shipped)["intent"] == "confirmacao_pagamento"
    finally:
        clear_classifier_cache()


def test_classify_reports_a_model_file_it_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="não consegui carregar"):
        _run("classify", "--model", str(tmp_path / "missing.pt"), stdin="oi\n")


def test_classify_rejects_a_malformed_now() -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DDTHH:MM"):
        _run("classify", "--now", "20/11/2026", stdin="oi\n")


@pytest.mark.django_db
def test_evaluate_reports_metrics_confusion_and_latency_for_the_shipped_model(tmp_path: Path) -> None:
    sample = tmp_path / "sample.jsonl"
    sample.write_text(
        "\n".join(
            json.dumps({"text": text, "intent": intent}, ensure_ascii=False)
            for text, intent in [
                ("ja paguei ontem", "confirmacao_pagamento"),
                ("vou pagar sexta", "promessa_pagamento"),
                ("me manda o pix", "informacoes_pagamento"),
                ("pare de me mandar msg", "opt_out"),
            ]
        ),
        encoding="utf-8",
    )
    output = _run("evaluate_chatbot", "--file", str(sample), "--compare", str(DEFAULT_MODEL_PATH))
    assert "acuracia: 1.0000" in output
    assert "macro-F1: 1.0000" in output
    assert "matriz de confusao" in output
    assert "p50" in output and "p99" in output
    assert "comparação" in output


@pytest.mark.django_db
def test_train_chatbot_uses_operator_corrections_and_activates_the_new_version(tmp_path: Path) -> None:
    from conversations.models import Conversation, Message

    conversation = Conversation.objects.create(chat_id="5511999990000@c.us")
    common = {"conversation": conversation, "sent_at": timezone.now()}
    Message.objects.create(
        direction="in", author="debtor", body="xablau pagamento", corrected_intent="negociacao", **common
    )
    Message.objects.create(
        direction="out", author="bot", body="resposta", corrected_intent="saudacao", **common
    )
    Message.objects.create(direction="in", author="debtor", body="ja paguei", **common)
    old = ModelVersion.objects.create(version="2000.01.01-0000", path=str(DEFAULT_MODEL_PATH), is_active=True)

    output = _run("train_chatbot", "--seed", "3", "--epochs", "1", "--output", str(tmp_path / "m.pt"))

    new = ModelVersion.objects.get(is_active=True)
    old.refresh_from_db()
    assert not old.is_active
    assert new.backend == "torch"
    assert new.path == str(tmp_path / "m.pt") and (tmp_path / "m.pt").exists()
    assert new.metrics["corrections"] == 1
    assert new.metrics["train_size"] == len(read_jsonl(TRAIN_PATH)) + 1
    assert 0 < new.metrics["macro_f1"] <= 1
    assert set(new.metrics["per_intent"]) >= {"opt_out", "desconhecido"}
    assert new.metrics["training_seconds"] > 0
    assert new.version in output

    comparison = _run("evaluate_chatbot")
    assert f"versão {new.version}" in comparison and f"versão {old.version}" in comparison


@pytest.mark.django_db
def test_train_chatbot_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    _run("train_chatbot", "--seed", "5", "--epochs", "1", "--output", str(tmp_path / "a.pt"))
    _run("train_chatbot", "--seed", "5", "--epochs", "1", "--output", str(tmp_path / "b.pt"))
    first, second = ModelVersion.objects.order_by("pk")
    assert first.version != second.version
    assert first.metrics["macro_f1"] == second.metrics["macro_f1"]
    assert first.metrics["per_intent"] == second.metrics["per_intent"]


@pytest.mark.django_db
def test_train_chatbot_transformers_backend_needs_a_base_model() -> None:
    with pytest.raises(CommandError, match="--base-model"):
        _run("train_chatbot", "--backend", "transformers")


@pytest.mark.django_db
def test_payday_promises_follow_the_configured_payday(settings) -> None:
    from chatbot import services

    now = "2026-11-20T10:00"
    settings.CHATBOT_PAYDAY_DAY = 0  # the 5th business day: December 7th (Nov 20 is a holiday, Nov 9 passed)
    assert json.loads(_run("classify", "--now", now, stdin="pago quando receber\n"))["entities"] == {
        "date": "2026-12-07"
    }
    settings.CHATBOT_PAYDAY_DAY = 25
    assert json.loads(_run("classify", "--now", now, stdin="pago quando receber\n"))["entities"] == {
        "date": "2026-11-25"
    }
    moment = timezone.make_aware(timezone.datetime(2026, 11, 20, 10, 0))
    assert services.extract("pago quando receber", moment)["date"].isoformat() == "2026-11-25"
