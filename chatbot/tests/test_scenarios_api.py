"""Every scenario of chatbot/scenarios/*.yaml replayed through POST /api/chat/process, with the real
classifier: its `intent`, `response` and `actions` (with `charge_id`) are checked turn by turn, and the
actions' effects in the database too.
Fast (no processes); test_e2e_scenarios.py plays the same files through the real
webhook → worker → simulator path.

The API takes text only: a media turn is recorded as the worker would leave it (the message with its stored
Attachment) and answered by the same bot turn (`chatbot.services.bot_handle_inbound`)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from chatbot import services
from chatbot.tests import scenario_runner as runner
from conversations import services as conversations
from conversations.models import Attachment, Conversation, Message

SCENARIOS = runner.load_scenarios()
PHONE = "+5511988880001"


class SilentWaha:
    """The bot's replies to media turns are recorded, not sent anywhere."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_seen(self, *args, **kwargs) -> None: ...

    def start_typing(self, *args, **kwargs) -> None: ...

    def stop_typing(self, *args, **kwargs) -> None: ...

    def send_text(self, chat_id, text, **kwargs) -> str:
        self.sent.append(text)
        return f"true_{chat_id}_S{len(self.sent)}"


@pytest.fixture
def api(db, settings, monkeypatch) -> APIClient:
    settings.CHATBOT_ENABLED = True
    settings.CHATBOT_TYPING_MAX_SECONDS = 0
    settings.CREDITOR_NAME = "Credora Exemplo Ltda"
    settings.PIX_KEY = "pix@credora.example"
    monkeypatch.setattr("whatsapp.client.get_client", lambda: SilentWaha())
    user = get_user_model().objects.create_superuser("operadora", password="x")
    client = APIClient()
    client.force_authenticate(user)
    return client


def play_media(world: runner.World, kind: str) -> str:
    """A media turn as the download task leaves it: the message, its stored file, then the bot's turn."""
    conversation = Conversation.objects.get(chat_id=world.chat_id)
    message = conversations.message_record_inbound(conversation=conversation, body="", sent_at=timezone.now())
    Attachment.objects.create(
        message=message,
        url="http://127.0.0.1:3000/api/files/default/x",
        declared_mimetype=runner.MEDIA_KINDS[kind][0],
        status=Attachment.Status.STORED,
        kind=kind,
    )
    services.bot_handle_inbound(message_id=message.pk)
    reply = conversation.messages.filter(direction=Message.Direction.OUT, pk__gt=message.pk).last()
    return reply.body if reply else ""


def test_there_are_enough_scenarios_and_they_cover_every_intent():
    assert len(SCENARIOS) >= 60
    said = {turn.intent for s in SCENARIOS for turn in s.turns if turn.say and turn.intent}
    assert said >= set(runner.INTENTS)
    assert any(s.client is None for s in SCENARIOS)
    assert any(s.has_media for s in SCENARIOS)
    assert any(len(s.charges) > 1 for s in SCENARIOS)
    assert any(spec.get("agreement") for s in SCENARIOS for spec in s.charges.values())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_through_the_chat_api(api, scenario):
    world = runner.build_world(scenario, phone=PHONE)
    errors: list[str] = []
    for index, turn in enumerate(scenario.turns):
        where = f"{scenario.file}:{scenario.name} turn {index + 1} ({turn.say or turn.media!r})"
        before = runner.snapshot(world)
        if turn.media:
            reply = play_media(world, turn.media)
        else:
            response = api.post(
                "/api/chat/process",
                {"phone": PHONE, "message": turn.say, "acting_for_debtor": True},
                format="json",
            )
            assert response.status_code == 200, response.content
            data = response.json()
            reply = data["response"]
            errors += runner.check_intent(turn, data["intent"], where)
            errors += runner.check_actions(turn, data["actions"], world, where)
        errors += runner.check_reply(turn, reply, where)
        errors += runner.check_effects(turn, world, before, where)
        errors += runner.check_flag(turn, world, before, where)
    assert not errors, "\n".join(errors)


def test_a_malformed_scenario_names_the_file_scenario_turn_and_field(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "- name: x\n  charges: {a: {amount: 10, due: 2026-12-01}}\n  turns:\n"
        "    - {say: oi, intent: saudacao, actions: [claim_payment@b]}\n",
        encoding="utf-8",
    )
    with pytest.raises(runner.ScenarioError, match=r"bad.yaml:x.turns\[0\].actions\[0\]: 'claim_payment@b'"):
        runner.load_scenarios(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "- name: y\n  turns:\n    - {say: oi, intent: talvez}\n", encoding="utf-8"
    )
    with pytest.raises(runner.ScenarioError, match=r"bad.yaml:y.turns\[0\].intent: 'talvez'"):
        runner.load_scenarios(tmp_path)
