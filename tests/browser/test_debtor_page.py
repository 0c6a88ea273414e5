"""Issue #13, "the debtor page after a reply", in a real browser with the real worker: a debtor asks for the
PIX through the WAHA simulator; the signed webhook reaches the live server and a real `manage.py qcluster`
stores the message and lets the bot answer (sent back to the simulator). Then, at desktop and phone widths,
the operator finds the debtor (the nav's search box by phone in a Brazilian format; the Devedores page by
CPF with punctuation), opens his page, reads the reply and the bot's answer in the timeline, and marks a
charge paid (confirmed in the browser's dialog): the charge reads "paga" with its history, the database
agrees. Desktop sends the other charge's PIX (it reaches the simulator) and downloads the LGPD export; the
phone opens the conversation from the debtor. No page logged a console error.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from audit.models import AuditLog
from billing.models import Charge, Client
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready, wait_until
from conversations.models import Message
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "debtor-page-hmac"
PHONE = "5511971234567"
CPF = "529.982.247-25"
PIX_KEY = "pix@credora.example"


def _debtor() -> tuple[Client, Charge, Charge]:
    client = Client.objects.create(name="Carla Menezes", phone=f"+{PHONE}", document="52998224725")
    november = Charge.objects.create(
        client=client,
        amount=Decimal("189.90"),
        due_date=dt.date(2026, 11, 10),
        description="Mensalidade de novembro",
        external_id="FAT-901",
    )
    december = Charge.objects.create(
        client=client,
        amount=Decimal("60.00"),
        due_date=dt.date(2026, 12, 1),
        description="Taxa de material",
        external_id="FAT-902",
    )
    Client.objects.create(name="Carlos Outro", phone="+5521988887777")
    return client, november, december


def _fits(page) -> None:
    """Nothing sticks out sideways (the nav with its search box included): no horizontal scroll."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page {overflow}px wider than the window"


def _mark_paid(page, charge: Charge) -> None:
    card = page.locator(f"#cobranca-{charge.pk}")
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("[data-action=pagar]").click()
    expect(page.locator(".alert-success")).to_contain_text("marcada como paga")
    expect(card.locator(".charge-status")).to_have_text("paga")
    expect(card.locator(".charge-history")).to_contain_text("em aberto → paga")
    expect(card.locator("[data-action=pagar]")).to_have_count(0)


def test_the_operator_finds_the_debtor_after_his_reply_and_marks_a_charge_paid(
    live_server, browser, shots, settings, waha_settings, waha_simulator, monkeypatch, tmp_path
):
    settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=KEY)
    client, november, december = _debtor()
    make_operator()
    queue = use_fresh_queue(monkeypatch)
    cluster = QCluster(
        waha_url=waha_simulator.base_url,
        waha_key=waha_simulator.api_key,
        log_path=tmp_path / "qcluster.log",
        extra_env={
            "Q_CLUSTER_NAME": queue,
            "CACHE_KEY_PREFIX": queue,
            "CHATBOT_ENABLED": "true",
            "CHATBOT_TYPING_MAX_SECONDS": "0",
            "PIX_KEY": PIX_KEY,
            "DATA_DIR": str(tmp_path),
        },
    ).start()
    desktop = phone = None
    try:
        wait_cluster_ready()
        # The debtor answers a reminder; the worker stores his message and the bot answers him.
        waha_simulator.inbound(PHONE, "quero pagar a mensalidade de novembro, me manda o pix")
        wait_until(
            lambda: any(item["chatId"] == f"{PHONE}@c.us" for item in waha_simulator.outbox()),
            timeout=120,
            what="the bot's answer to reach the simulator",
        )
        wait_until(
            lambda: Message.objects.filter(author=Message.Author.BOT, conversation__client=client).exists(),
            timeout=30,
            what="the bot's answer to be recorded",
        )

        # Desktop: the search box of the nav, the phone typed as people write it.
        desktop = open_session(browser, live_server.url, "desktop")
        page = shots.page = desktop.page
        page.get_by_label("Buscar devedor").first.fill("(11) 97123-4567")
        page.get_by_label("Buscar devedor").first.press("Enter")
        expect(page.locator("#debtor-table")).to_contain_text("Carla Menezes")
        expect(page.locator("#debtor-table")).not_to_contain_text("Carlos Outro")
        _fits(page)
        shots.take("search-by-phone-desktop")
        page.get_by_role("link", name="Carla Menezes").click()
        expect(page.locator("#titulo-devedor")).to_have_text("Carla Menezes")
        timeline = page.locator("#debtor-timeline")
        expect(timeline.locator("[data-author=debtor]")).to_contain_text("me manda o pix")
        expect(timeline.locator("[data-author=bot]").first).to_contain_text("PIX copia e cola")
        expect(page.locator("#debtor-phone")).to_have_text("+55 11 97123-4567")
        _fits(page)
        shots.take("debtor-after-reply-desktop")
        _mark_paid(page, november)
        shots.take("marked-paid-desktop")
        # "Enviar PIX" of the other charge: the bot's payment text, sent to the simulator as the operator.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(f"#cobranca-{december.pk} [data-action=pix]").click()
        expect(page.locator(".alert-success")).to_contain_text("PIX da cobrança “Taxa de material” enviado")
        assert any("PIX copia e cola (R$ 60,00)" in item["text"] for item in waha_simulator.outbox())
        expect(page.locator("#debtor-timeline [data-author=operator]").first).to_contain_text("R$ 60,00")
        # The LGPD export downloads after its confirmation: the person's data as JSON.
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_download() as download:
            page.locator("#debtor-export").click()
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert exported["client"]["document"] == "52998224725"
        assert download.value.suggested_filename == f"titular-{client.pk}.json"

        # Phone: the Devedores page's own search, by CPF with its punctuation.
        phone = open_session(browser, live_server.url, "phone")
        page = shots.page = phone.page
        page.goto(live_server.url + "/painel/devedores/")
        page.locator("#busca-devedor").fill(CPF)
        page.get_by_role("button", name="Buscar").click()
        expect(page.locator("#debtor-count")).to_contain_text("1 resultado(s)")
        _fits(page)
        shots.take("search-by-cpf-phone")
        page.get_by_role("link", name="Carla Menezes").click()
        expect(page.locator(f"#cobranca-{november.pk} .charge-status")).to_have_text("paga")
        expect(page.locator("#debtor-timeline [data-author=debtor]")).to_contain_text("me manda o pix")
        _fits(page)
        shots.take("debtor-after-reply-phone")
        _mark_paid(page, december)
        expect(page.locator("#debtor-open-amount")).to_have_text("R$ 0,00")
        shots.take("marked-paid-phone")
        # From the debtor to his conversation in the inbox.
        page.locator("#debtor-open-conversation").click()
        expect(page.locator("#chat-messages")).to_contain_text("me manda o pix")
        shots.take("conversation-from-debtor-phone")
    finally:
        cluster.stop()
        for session in (desktop, phone):
            if session is not None:
                session.context.close()
    november.refresh_from_db()
    december.refresh_from_db()
    assert (november.status, december.status) == (Charge.Status.PAID, Charge.Status.PAID)
    assert AuditLog.objects.filter(action="charge.mark_paid").count() == 2
    assert desktop.errors == [] and phone.errors == []
