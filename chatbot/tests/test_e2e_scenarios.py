"""Every scenario of chatbot/scenarios/*.yaml played through the real path: the WAHA simulator posts signed
webhooks to the real view (live_server), a real `manage.py qcluster` processes them (webhook event →
conversations.message_receive → media download → chatbot.tasks.bot_answer_inbound), and the bot's answers come
back to the simulator by sendText. One cluster for all scenarios; each scenario has its own number, and turn k
of every scenario is sent at once, then awaited (conditions with timeouts, no fixed sleeps).

What is checked per turn: the intent stored on the debtor's message, the answer the simulator received (must /
must not contain), the actions' effects in the database (charge status, promises, agreements, opt-out, wrong
number, handoff), the flag; at the end, that no scenario got more answers than it had answered turns.
"""

from __future__ import annotations

import pytest

from chatbot.tests import scenario_runner as runner
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready, wait_until
from conversations.models import Attachment, Message
from whatsapp.models import WebhookEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "scenarios-hmac-key"
CREDITOR = "Credora Exemplo Ltda"
PIX_KEY = "pix@credora.example"


@pytest.fixture
def simulator():
    from whatsapp.simulator.testing import running_simulator

    with running_simulator(ack_delay_seconds=0.05) as handle:
        yield handle


def _phone(index: int) -> str:
    return f"+55119700{index:05d}"


def _replies(simulator) -> dict[str, list[str]]:
    by_chat: dict[str, list[str]] = {}
    for item in simulator.outbox():
        by_chat.setdefault(item["chatId"], []).append(item["text"])
    return by_chat


def _inbound(waha_id: str) -> Message | None:
    return Message.objects.filter(waha_id=waha_id).first()


def _settled(waha_id: str, turn: runner.Turn, chat_id: str, answered: int, simulator_replies) -> bool:
    """The turn is over: answered by the bot (one more text in the simulator's outbox), or, for a silent
    turn, its webhook processed and its file (if any) handled."""
    message = _inbound(waha_id)
    if message is None:
        return False
    if not turn.silent:
        return len(simulator_replies.get(chat_id, [])) > answered
    if WebhookEvent.objects.filter(payload_id=waha_id, state=WebhookEvent.State.PENDING).exists():
        return False
    if turn.media:
        return not Attachment.objects.filter(message=message, status=Attachment.Status.PENDING).exists()
    return True


def _await(sent, simulator, answered: dict[str, int], *, timeout: float) -> set[str]:
    """Wait until every turn just sent has settled; returns the ids of those that did not in time (reported
    as errors of their scenario, the others are still checked)."""

    def pending() -> set[str]:
        replies = _replies(simulator)
        return {i for w, t, i, _ in sent if not _settled(i, t, w.chat_id, answered[w.chat_id], replies)}

    try:
        wait_until(lambda: not pending(), timeout=timeout, what=f"{len(sent)} turns to settle", interval=0.2)
    except AssertionError:
        return pending()
    return set()


def test_every_scenario_through_webhook_worker_and_simulator(
    simulator, live_server, settings, monkeypatch, tmp_path
):
    settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=KEY)
    scenarios = runner.load_scenarios()
    worlds = [runner.build_world(s, phone=_phone(i)) for i, s in enumerate(scenarios)]
    queue = use_fresh_queue(monkeypatch)
    cluster = QCluster(
        waha_url=simulator.base_url,
        waha_key=simulator.api_key,
        log_path=tmp_path / "qcluster.log",
        extra_env={
            "Q_CLUSTER_NAME": queue,
            "CHATBOT_ENABLED": "true",
            "CHATBOT_TYPING_MAX_SECONDS": "0",
            "CREDITOR_NAME": CREDITOR,
            "PIX_KEY": PIX_KEY,
            "DATA_DIR": str(tmp_path),
        },
    ).start()
    errors: list[str] = []
    answered = {w.chat_id: 0 for w in worlds}
    try:
        wait_cluster_ready()
        for k in range(max(len(s.turns) for s in scenarios)):
            playing = [(w, w.scenario.turns[k]) for w in worlds if k < len(w.scenario.turns)]
            sent = []
            for world, turn in playing:
                before = runner.snapshot(world)
                if turn.media:
                    mimetype, content = runner.MEDIA_KINDS[turn.media]
                    result = simulator.inbound(world.phone.lstrip("+"), "", media=content, mimetype=mimetype)
                else:
                    result = simulator.inbound(world.phone.lstrip("+"), turn.say)
                sent.append((world, turn, result["id"], before))
            late = _await(sent, simulator, answered, timeout=30 + len(sent))
            replies = _replies(simulator)
            for world, turn, waha_id, before in sent:
                where = (
                    f"{world.scenario.file}:{world.scenario.name} turn {k + 1} ({turn.say or turn.media!r})"
                )
                if waha_id in late:
                    errors.append(f"{where}: {'not processed' if turn.silent else 'no answer'} in time")
                    continue
                texts = replies.get(world.chat_id, [])
                reply = "" if turn.silent else texts[answered[world.chat_id]]
                if not turn.silent:
                    answered[world.chat_id] += 1
                message = _inbound(waha_id)
                errors += runner.check_intent(turn, message.intent, where)
                errors += runner.check_reply(turn, reply, where)
                errors += runner.check_effects(turn, world, before, where)
                errors += runner.check_flag(turn, world, before, where)
        # Nothing arrives late: every scenario got exactly its answered turns.
        replies = _replies(simulator)
        for world in worlds:
            got = len(replies.get(world.chat_id, []))
            if got != answered[world.chat_id]:
                errors.append(f"{world.scenario.name}: {got} answers, expected {answered[world.chat_id]}")
    finally:
        cluster.stop()
    assert not errors, "\n".join(errors)
