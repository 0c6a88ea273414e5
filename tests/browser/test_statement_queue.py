"""Issue #15 item 2 in a real browser, with the real worker: an operator uploads a bank statement (OFX,
cp1252, SGML) → the page says "processando" while a `manage.py qcluster` reconciles it, polls, and then the
summary shows 1 applied and 1 ambiguous line → the queue (reached from the summary) shows the ambiguous line
with its two candidates and the nav badge counts the open issues → "Aplicar nesta cobrança" on the right one,
confirmed → the charge is paid and the line leaves the queue. Desktop and phone widths, no console error."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Charge, PaymentIssue
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATEMENT = (
    Path(__file__).resolve().parents[2]
    / "billing"
    / "tests"
    / "fixtures"
    / "ofx"
    / "extrato_banco_a_1252.ofx"
)


def _charge(name: str, amount: str, document: str = "") -> Charge:
    charge = ChargeFactory(
        client=ClientFactory(name=name, document=document),
        amount=Decimal(amount),
        due_date=dt.date(2026, 12, 10),
    )
    Charge.objects.filter(pk=charge.pk).update(created_at=timezone.make_aware(dt.datetime(2026, 11, 20)))
    return charge


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_statement_upload_to_queue(
    width, live_server, browser, shots, settings, tmp_path, waha_simulator, monkeypatch
):
    settings.UPLOADS_DIR = tmp_path / "uploads"
    maria = _charge("Maria José da Conceição", "150.00", "11144477735")
    _charge("Carlos Souza", "75.00")
    right = _charge("Carlos Eduardo Souza", "75.00")
    make_operator()
    queue = use_fresh_queue(monkeypatch)
    cluster = QCluster(
        waha_url=waha_simulator.base_url,
        waha_key=waha_simulator.api_key,
        log_path=tmp_path / "qcluster.log",
        extra_env={"Q_CLUSTER_NAME": queue, "CACHE_KEY_PREFIX": queue},
    ).start()
    try:
        wait_cluster_ready()
        _journey(width, live_server, browser, shots, maria, right)
    finally:
        cluster.stop()


def _journey(width, live_server, browser, shots, maria, right):
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page

    page.goto(live_server.url + "/painel/pagamentos/extratos/")
    page.set_input_files("#id_arquivo", str(STATEMENT))
    page.get_by_role("button", name="Conciliar extrato").click()
    # The request only stores the file: the job's page, polled until the worker has reconciled it.
    page.wait_for_url(re.compile(r"/painel/pagamentos/extratos/\d+/$"))
    expect(page.locator("#sum-matched")).to_have_text("1", timeout=120_000)
    expect(page.locator("#sum-ambiguous")).to_have_text("1")
    expect(page.locator("#sum-unmatched")).to_have_text("3")
    maria.refresh_from_db()
    assert maria.status == Charge.Status.PAID
    shots.take("summary")

    page.locator("#summary-to-queue").click()
    page.wait_for_url(live_server.url + "/painel/pagamentos/pendencias/")
    expect(page.locator("#nav-pendencias-count")).to_contain_text("4")  # loaded by htmx after the page
    card = page.locator("article.payment-issue[data-kind='ambiguous']")
    expect(card).to_have_count(1)
    expect(card.locator(".issue-candidates li")).to_have_count(2)
    expect(card).to_contain_text("PIX RECEBIDO CARLOS SOUZA")
    shots.take("queue")

    page.once("dialog", lambda dialog: dialog.accept())
    card.locator(f"button[data-charge='{right.pk}']").click()
    expect(page.locator(".alert-success")).to_contain_text("pagamento de R$ 75,00 aplicado")
    expect(page.locator(".alert-success")).to_contain_text("(Carlos Eduardo Souza) quitada")
    expect(page.locator("article.payment-issue[data-kind='ambiguous']")).to_have_count(0)
    expect(page.locator("#nav-pendencias-count")).to_contain_text("3")
    shots.take("resolved")

    right.refresh_from_db()
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS)
    assert right.status == Charge.Status.PAID and issue.status == PaymentIssue.Status.RESOLVED
    assert issue.payment.charge_id == right.pk
    session.context.close()
    assert session.errors == []
