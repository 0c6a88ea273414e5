"""Issue #13 item 2 in a real browser, with the real worker: a campaign started on a Sunday at 20:48 (a
shared clock file read by the live server and the `manage.py qcluster` subprocess, cobranca/clock.py).

Validation warns that the window is closed now; after "Iniciar" the worker defers the dispatches to Monday
08:00 and the page says "aguardando janela de envio: segunda 08:00" with an end date from the window (not
"15 s"); the Cobrança list says the same. Then the clock moves to Monday 08:00:05: the worker's tick wakes
the driver, the messages reach the WAHA simulator and the page follows the progress live to "concluída".
Desktop and phone widths watch the same campaign side by side.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_q.models import Schedule
from playwright.sync_api import expect

from billing.models import Campaign, Charge, Client, Dispatch, ImportBatch, MessageTemplate
from cobranca.clock import set_clock
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready, wait_until
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SP = ZoneInfo("America/Sao_Paulo")
SUNDAY_EVENING = dt.datetime(2026, 12, 6, 20, 48, tzinfo=SP)
MONDAY_OPENING = dt.datetime(2026, 12, 7, 8, 0, 5, tzinfo=SP)
WINDOW = "mon-fri 08:00-20:00; sat 08:00-14:00"
BODY = (
    "Olá {nome}, sua fatura de {valor} venceu em {vencimento}. {credor}, CNPJ {cnpj_credor}. "
    "Para não receber mais mensagens, responda SAIR."
)


def _audience() -> None:
    batch = ImportBatch.objects.create(filename="domingo.csv", file_format="csv", total_rows=5)
    for n in range(5):
        client = Client.objects.create(name=f"Devedora {n}", phone=f"+5511987650{n:03d}")
        Charge.objects.create(
            client=client,
            amount=Decimal("99.90"),
            due_date=dt.date(2026, 11, 30),
            description="Mensalidade de novembro",
            import_batch=batch,
        )
    MessageTemplate.objects.create(name="lembrete-domingo", body=BODY)


def test_a_campaign_started_outside_the_window_waits_for_it_then_sends_live(
    live_server, browser, shots, settings, waha_settings, waha_simulator, monkeypatch, tmp_path
):
    clock_file = tmp_path / "clock"
    set_clock(clock_file, SUNDAY_EVENING)
    settings.CLOCK_FILE = str(clock_file)
    settings.SEND_WINDOW = WINDOW
    settings.SEND_WINDOW_SKIP_HOLIDAYS = True
    settings.DISPATCH_DELAY_SECONDS = 2
    settings.DISPATCH_JITTER_SECONDS = 0
    queue = use_fresh_queue(monkeypatch)
    make_operator()
    _audience()
    cluster = QCluster(
        waha_url=waha_simulator.base_url,
        waha_key=waha_simulator.api_key,
        log_path=tmp_path / "qcluster.log",
        extra_env={
            "Q_CLUSTER_NAME": queue,
            "CACHE_KEY_PREFIX": queue,
            "COBRANCA_CLOCK_FILE": str(clock_file),
            "SEND_WINDOW": WINDOW,
            "DISPATCH_DAILY_CAP": "100000000",
        },
    ).start()
    desktop = phone = None
    try:
        wait_cluster_ready()
        desktop = open_session(browser, live_server.url, "desktop")
        phone = open_session(browser, live_server.url, "phone")
        page = shots.page = desktop.page

        # Validation, on Sunday 20:48: the window is closed now, and the page says when it opens.
        page.goto(live_server.url + "/painel/cobranca/campanhas/nova/")
        page.get_by_label("Nome da campanha").fill("Domingo à noite")
        page.get_by_label("Modelo de mensagem").select_option(label="lembrete-domingo")
        page.get_by_label("Importação").select_option(index=1)
        page.get_by_role("button", name="Validar antes (simulação)").click()
        expect(page.locator("#validation")).to_contain_text(
            "A janela de envio está fechada agora: a campanha fica aguardando e os envios começam "
            "segunda 08:00"
        )
        shots.take("validation-window-closed")
        page.get_by_role("button", name="Criar campanha (rascunho)").click()
        expect(page.locator("#campaign-status")).to_have_text("rascunho")
        confirm = page.locator("#confirmar-conformidade")
        if confirm.count():
            confirm.check()
        page.locator("#start-campaign").click()

        # The real worker sees the closed window and defers every dispatch to Monday 08:00.
        campaign = Campaign.objects.get()
        opening = dt.datetime(2026, 12, 7, 8, 0, tzinfo=SP)
        wait_until(
            lambda: Dispatch.objects.filter(campaign=campaign, next_attempt_at=opening).count() == 5,
            timeout=30,
            what="the worker to defer the dispatches to the window's opening",
        )
        phone.page.goto(live_server.url + f"/painel/cobranca/campanhas/{campaign.pk}/")
        for session in (desktop, phone):
            status = session.page.locator("#campaign-status")
            expect(status).to_have_text("aguardando janela de envio: segunda 08:00")
            expect(session.page.locator("#window-wait")).to_contain_text("segunda 08:00")
            expect(session.page.locator("#campaign-progress")).to_contain_text(
                "Previsão de término: 07/12/2026 08:0"
            )
            expect(session.page.locator("#campaign-progress")).not_to_contain_text("15 s")
        shots.take("waiting-desktop")
        shots.page = phone.page
        shots.take("waiting-phone")
        shots.page = page
        assert waha_simulator.outbox() == []
        page.goto(live_server.url + "/painel/cobranca/")
        expect(page.locator("body")).to_contain_text("aguardando janela de envio: segunda 08:00")
        shots.take("cobranca-list-waiting")
        page.goto(live_server.url + f"/painel/cobranca/campanhas/{campaign.pk}/")

        # Monday 08:00:05: the worker's "dispatch-tick" schedule (every minute; the scheduler looks every
        # ~30 s) wakes the driver; the pages follow the sends live, through their polling, without a reload.
        Schedule.objects.create(
            name="dispatch-tick",
            func="billing.tasks.dispatch_tick",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            next_run=timezone.now(),
        )
        set_clock(clock_file, MONDAY_OPENING)
        for session in (desktop, phone):
            expect(session.page.locator("#campaign-status")).to_have_text("em execução")
        expect(page.locator("#progress-percent")).to_have_text(re.compile(r"^[1-9]\d? %$"), timeout=150_000)
        shots.take("sending")
        for session in (desktop, phone):
            expect(session.page.locator("#progress-percent")).to_have_text("100 %", timeout=60_000)
            expect(session.page.locator("#campaign-status")).to_have_text("concluída", timeout=30_000)
        shots.take("done-desktop")
        shots.page = phone.page
        shots.take("done-phone")
        shots.page = page
        assert len({item["chatId"] for item in waha_simulator.outbox()}) == 5
    finally:
        cluster.stop()
        for session in (desktop, phone):
            if session is not None:
                session.context.close()
    assert desktop.errors == [] and phone.errors == []
