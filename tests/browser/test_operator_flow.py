"""The operator's day in a real browser: log in → validate an import with a bad row → fix and import →
create and start a campaign → the progress bar reaches 100 % → a debtor's reply arrives through the WAHA
simulator and shows in the inbox with its intent → the operator takes over and answers → the answer is in the
simulator's outbox.

Everything real except the clock of the task queue: django-q2 runs in sync mode inside the live server's
request threads (the campaign driver sends while the "Iniciar" request is served, webhooks are processed as
they arrive).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from cobranca.roles import OPERATORS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HMAC_KEY = "browser-e2e-hmac"
PASSWORD = "senha-do-operador-42"
PHONE_DIGITS = "5511912345678"
HEADER = "id,nome,telefone,valor,vencimento,descricao\n"
GOOD_ROW = 'E2E-1,Ana Lima,+55 11 91234-5678,"1.234,56",15/01/2026,Plano anual\n'
BAD_ROW = 'E2E-2,Bruno Dias,123,"80,00",31/01/2026,Plano mensal\n'
FIXED_ROW = 'E2E-2,Bruno Dias,+55 21 98765-4321,"80,00",31/01/2026,Plano mensal\n'
TIMEOUT = 15_000


@pytest.fixture
def wired(live_server, waha_settings, waha_simulator, monkeypatch, settings):
    """WAHA at the simulator, signed webhooks into the live server, tasks in sync."""
    from django_q.conf import Conf

    settings.WAHA_WEBHOOK_HMAC_KEY = HMAC_KEY
    settings.SEND_WINDOW = "always"
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    settings.DISPATCH_DELAY_SECONDS = 0
    settings.DISPATCH_JITTER_SECONDS = 0
    # Sync mode (not a patched async_task): the campaign driver then finishes its work in one run instead of
    # re-enqueueing itself, and webhook events are processed inside the webhook request.
    monkeypatch.setattr(Conf, "SYNC", True)
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=HMAC_KEY)
    user = User.objects.create_user("operadora", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    return live_server


def _csv(tmp_path, name: str, *rows: str):
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_an_operator_imports_runs_a_campaign_and_answers_a_debtor(
    wired, page, shots, waha_simulator, tmp_path
):
    base = wired.url
    page.set_default_timeout(TIMEOUT)

    # Log in: the dashboard sends a visitor to the login page and back.
    page.goto(base + "/painel/cobranca/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/painel/cobranca/"))
    shots.take("login")
    page.get_by_label("Usuário").fill("operadora")
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/painel/cobranca/")

    # A file with one bad row: the dry-run report shows it and nothing is imported.
    page.set_input_files("#id_arquivo", str(_csv(tmp_path, "devedores.csv", GOOD_ROW, BAD_ROW)))
    page.get_by_role("button", name="Validar arquivo").click()
    expect(page.locator("#report-rejected")).to_have_text("1")
    expect(page.locator("#report-errors")).to_contain_text("telefone", ignore_case=True)
    shots.take("import-report-with-error")

    # Fixed and validated again, then imported.
    page.set_input_files("#id_arquivo", str(_csv(tmp_path, "devedores-corrigido.csv", GOOD_ROW, FIXED_ROW)))
    page.get_by_role("button", name="Validar arquivo").click()
    expect(page.locator("#report-rejected")).to_have_text("0")
    page.locator("#confirm-import").click()
    expect(page.locator(".alert-success")).to_contain_text("Importação concluída: 2 linha(s)")
    shots.take("imported")

    # A template written in the editor, with its live WhatsApp-style preview.
    page.goto(base + "/painel/templates/novo/")
    page.get_by_label("Nome do modelo").fill("Lembrete E2E")  # the slug (lembrete-e2e) is derived
    page.locator("#id_body").fill(
        "Olá {nome}, sua fatura de *{valor}* venceu em {vencimento}. Responda esta mensagem para negociar. "
        "{credor}, CNPJ {cnpj_credor}. Para não receber mais mensagens, responda SAIR."
    )
    expect(page.locator("[data-testid=template-preview] strong")).to_have_text("R$ 150,50")
    shots.take("template-editor")
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator(".alert-success")).to_contain_text("Lembrete E2E")

    # New campaign for the import, validated first (dry run), then created and started.
    page.goto(base + "/painel/cobranca/campanhas/nova/")
    page.get_by_label("Nome da campanha").fill("Campanha E2E")
    page.get_by_label("Modelo de mensagem").select_option(label="Lembrete E2E")
    expect(page.locator("#campaign-preview [data-testid=preview]")).to_contain_text("Olá")
    page.get_by_label("Importação").select_option(index=1)
    page.get_by_label("Personalizado").check()
    page.get_by_label("Intervalo entre envios (segundos)").fill("0")
    page.get_by_label("Variação aleatória (segundos)").fill("0")
    page.get_by_label("Enviar a qualquer hora (sem janela)").check()
    page.get_by_role("button", name="Validar antes (simulação)").click()
    expect(page.locator("#audience-total")).to_have_text("2")
    shots.take("campaign-validated")
    page.get_by_role("button", name="Criar campanha (rascunho)").click()
    expect(page.locator("#campaign-status")).to_have_text("rascunho")
    confirm = page.locator("#confirmar-conformidade")
    if confirm.count():
        confirm.check()
    off_hours = page.locator("#confirmar-fora-do-horario")  # no window, and the real clock is at night
    if off_hours.count():
        off_hours.check()
    page.locator("#start-campaign").click()
    expect(page.locator("#progress-percent")).to_have_text("100 %", timeout=30_000)
    expect(page.locator("#campaign-status")).to_have_text("concluída", timeout=30_000)
    shots.take("campaign-done")
    sent = {item["chatId"] for item in waha_simulator.outbox()}
    assert f"{PHONE_DIGITS}@c.us" in sent

    # The debtor answers on WhatsApp: the reply shows in the inbox with the classifier's intent.
    waha_simulator.inbound(PHONE_DIGITS, "Já paguei ontem pelo pix, segue o comprovante")
    page.goto(base + "/painel/conversas/")
    row = page.locator(".inbox-row", has_text="Ana Lima")
    # The row's preview is the latest message, which may already be the bot's answer: check the intent here
    # and the debtor's words in the chat.
    expect(row.locator(".intent-badge")).to_be_visible(timeout=TIMEOUT)
    shots.take("inbox")

    # The operator takes over and answers; the answer leaves through WAHA.
    row.click()
    expect(page.locator("#chat-messages")).to_contain_text("Já paguei ontem pelo pix")
    expect(page.locator("#chat-messages .intent-badge").first).to_be_visible()
    page.get_by_role("button", name="Assumir conversa").click()
    expect(page.locator("#conversation-state")).to_have_text("atendente")
    page.get_by_label("Sua resposta").fill("Oi, Ana! Recebemos, vou conferir o pagamento.")
    page.locator("#send-reply").click()
    expect(page.locator(".alert-success")).to_contain_text("Mensagem enviada")
    expect(page.locator("#chat-messages")).to_contain_text("vou conferir o pagamento")
    shots.take("conversation")
    answer = "Oi, Ana! Recebemos, vou conferir o pagamento."
    # The bot may have answered the debtor before the take-over: look for the operator's text.
    sent = waha_simulator.wait_for(
        lambda: [item for item in waha_simulator.outbox() if item["text"] == answer],
        timeout=10,
        message="the operator's answer in the simulator's outbox",
    )
    assert sent[0]["chatId"] == f"{PHONE_DIGITS}@c.us"


def test_every_page_renders_on_a_phone_without_console_errors(wired, browser, shots):
    """Phone width, every menu page, no console errors (a CSP violation or a missing asset shows there)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="pt-BR", is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    shots.page = page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(wired.url + "/accounts/login/?next=/painel/")
    page.get_by_label("Usuário").fill("operadora")
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    pages = ["painel", "cobranca", "conversas", "templates", "whatsapp", "sistema"]
    for name in pages:
        page.goto(wired.url + ("/painel/" if name == "painel" else f"/painel/{name}/"))
        expect(page.locator("h1")).to_be_visible()
        shots.take(f"mobile-{name}")
    page.get_by_role("button", name="Abrir menu").click()
    expect(page.get_by_role("link", name="Conversas")).to_be_visible()
    context.close()
    assert errors == []
