"""Issue #13, "Inbox for a team", in a real browser with the real worker, at desktop and phone widths.

A debtor writes through the WAHA simulator; the signed webhook reaches the live server, and a real
`manage.py qcluster` stores the messages (no synchronous shortcut). Operator A sees the conversation under
"Todas" with its unread count, opens it (the count drops), assigns it to herself (it moves to "Minhas"), the
debtor writes again and the polled list and the navigation badge show it without a reload, opening it clears
them; then she inserts a canned reply rendered for this debtor, sends it (it reaches the simulator's outbox)
and registers a promise with a date and an amount. Operator B's count is his own. Screenshots of every step
go to test-output/screenshots/; any console error or HTTP error fails the journey.

The assistant is off in the worker (CHATBOT_ENABLED=false): its replies are tested elsewhere, and loading the
classifier would only slow this journey down.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Charge, Client, PromiseToPay
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready, wait_until
from conversations.models import CannedReply, Conversation, Message
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HMAC_KEY = "browser-team-inbox-hmac"
DEBTORS = {"desktop": ("Maria Souza", "5511987650101"), "phone": ("João Lima", "5511987650202")}
CANNED = "Olá {first_name}! O valor em aberto é {amount}, com vencimento em {due_date}."


def _debtor(name: str, phone: str) -> Charge:
    client = Client.objects.create(name=name, phone=f"+{phone}")
    return Charge.objects.create(
        client=client,
        amount=Decimal("300.00"),
        due_date=timezone.localdate() + dt.timedelta(days=3),
        description="Mensalidade de dezembro",
    )


def _inbound(waha_simulator, phone: str, text: str, expected: int) -> Conversation:
    waha_simulator.inbound(phone, text)
    wait_until(
        lambda: (
            Message.objects.filter(
                conversation__chat_id=f"{phone}@c.us", direction=Message.Direction.IN
            ).count()
            == expected
        ),
        timeout=60,
        what=f"the worker to store message {expected} of {phone}",
    )
    return Conversation.objects.get(chat_id=f"{phone}@c.us")


def _journey(session, base: str, shots, waha_simulator, width: str) -> None:
    name, phone = DEBTORS[width]
    charge = Charge.objects.get(client__phone=f"+{phone}")
    page = shots.page = session.page
    conversation = _inbound(waha_simulator, phone, "Oi, recebi a cobrança", 1)
    _inbound(waha_simulator, phone, "Queria combinar o pagamento", 2)

    # Todas: the conversation with 2 unread messages, nobody owns it.
    page.goto(base + "/painel/conversas/?vista=todas")
    row = page.locator(f'.inbox-row[data-conversation="{conversation.pk}"]')
    expect(row.locator(".unread-count")).to_contain_text("2")
    expect(row.locator(".assignee")).to_have_text("sem responsável")
    expect(page.locator('[data-view="sem-responsavel"] .view-unread')).to_be_visible()
    shots.take(f"{width}-todas-nao-lidas")

    # Opening it marks it read; assigning it to me moves it to Minhas.
    row.click()
    expect(page.locator("#assignee")).to_contain_text("Sem responsável")
    page.locator("#assign-me").click()
    expect(page.locator("#assignee")).to_contain_text("Responsável: você")
    expect(page.locator(".alert-success")).to_contain_text("A conversa agora é sua")
    shots.take(f"{width}-atribuida")
    page.goto(base + "/painel/conversas/?vista=minhas")
    row = page.locator(f'.inbox-row[data-conversation="{conversation.pk}"]')
    expect(row).to_be_visible()
    expect(row.locator(".unread-count")).to_have_count(0)
    expect(page.locator("#nav-unread")).to_have_attribute("data-count", "0")

    # The debtor writes again: the polled list and the navigation badge show it, without a reload.
    _inbound(waha_simulator, phone, "Consigo pagar na sexta", 3)
    expect(row.locator(".unread-count")).to_contain_text("1", timeout=20_000)
    expect(page.locator("#nav-unread")).to_have_attribute("data-count", "1")
    expect(page.locator('[data-view="minhas"] .view-unread')).to_contain_text("1 não lida")
    shots.take(f"{width}-minhas-nova-mensagem")
    row.click()
    expect(page.locator("#chat-messages")).to_contain_text("Consigo pagar na sexta")
    expect(page.locator("#nav-unread")).to_have_attribute("data-count", "0")

    # A canned reply, rendered for this debtor and this charge, inserted, read, sent.
    page.locator("#id_resposta").select_option(label="Valor em aberto")
    page.locator("#id_cobranca").select_option(value=str(charge.pk))
    page.locator("#canned-insert").click()
    first_name = name.split()[0]
    expected_text = (
        f"Olá {first_name}! O valor em aberto é R$ 300,00, com vencimento em {charge.due_date:%d/%m/%Y}."
    )
    expect(page.locator("#id_texto")).to_have_value(expected_text)
    shots.take(f"{width}-resposta-pronta-inserida")
    page.locator("#send-reply").click()
    expect(page.locator(".alert-success")).to_contain_text("Mensagem enviada.")
    expect(page.locator("#chat-messages")).to_contain_text(expected_text)
    sent = [item["text"] for item in waha_simulator.outbox() if item["chatId"] == f"{phone}@c.us"]
    assert sent == [expected_text]

    # A promise: 150,00 on Friday-ish (in four days), through the billing rules.
    promised = timezone.localdate() + dt.timedelta(days=4)
    page.locator("#promise-details summary").click()
    page.locator("#promise-charge").select_option(value=str(charge.pk))
    page.locator("#promise-date").fill(promised.isoformat())
    page.locator("#promise-amount").fill("150,00")
    page.locator("#register-promise").click()
    expect(page.locator(".alert-success")).to_contain_text(
        f"Promessa registrada: R$ 150,00 até {promised:%d/%m/%Y}"
    )
    shots.take(f"{width}-promessa-registrada")
    promise = PromiseToPay.objects.get(charge=charge)
    assert (promise.promised_date, promise.amount) == (promised, Decimal("150.00"))


def test_an_operator_takes_a_conversation_reads_it_answers_with_a_canned_reply_and_registers_a_promise(
    live_server, browser, shots, settings, waha_settings, waha_simulator, monkeypatch, tmp_path
):
    settings.WAHA_WEBHOOK_HMAC_KEY = HMAC_KEY
    queue = use_fresh_queue(monkeypatch)
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=HMAC_KEY)
    make_operator("operadora")
    other = make_operator("operador-b")
    for name, phone in DEBTORS.values():
        _debtor(name, phone)
    CannedReply.objects.create(title="Valor em aberto", body=CANNED)
    cluster = QCluster(
        waha_url=waha_simulator.base_url,
        waha_key=waha_simulator.api_key,
        log_path=tmp_path / "qcluster.log",
        extra_env={"Q_CLUSTER_NAME": queue, "CACHE_KEY_PREFIX": queue, "CHATBOT_ENABLED": "false"},
    ).start()
    sessions = []
    try:
        wait_cluster_ready()
        for width in ("desktop", "phone"):
            session = open_session(browser, live_server.url, width)
            sessions.append(session)
            _journey(session, live_server.url, shots, waha_simulator, width)
        # Operator B read nothing: both conversations are unread for him, and neither is his.
        b_session = open_session(browser, live_server.url, "desktop", username=other.username)
        sessions.append(b_session)
        page = shots.page = b_session.page
        page.goto(live_server.url + "/painel/conversas/?vista=todas")
        expect(page.locator(".inbox-row .unread-count")).to_have_count(2)
        expect(page.locator('[data-view="minhas"] .view-total')).to_have_text("0")
        shots.take("operador-b-todas")
    finally:
        cluster.stop()
        for session in sessions:
            session.context.close()
    for session in sessions:
        assert session.errors == [], session.errors
