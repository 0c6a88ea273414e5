"""Issue #13 item 3 in a real browser: a template with `*{description}*` and an import without descriptions.
Validation counts the recipients who would read "Consta em aberto ** no valor de…" and blocks, the start is
refused; the same template with `{description|"sua mensalidade"}` validates and previews the fallback. The
charge's title in the panel is readable, never the generated `auto-…` id. Desktop and phone widths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Campaign, Charge, Client, ImportBatch
from conversations.tests.factories import ConversationFactory
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BODY = (
    "Olá {nome}, consta em aberto *{description}* no valor de {valor}, vencida em {vencimento}. "
    "{credor}, CNPJ {cnpj_credor}. Para não receber mais mensagens, responda SAIR."
)
FALLBACK = '*{description|"sua mensalidade"}*'


def _import_without_descriptions() -> ImportBatch:
    batch = ImportBatch.objects.create(filename="sem-descricao.csv", file_format="csv", total_rows=3)
    for n in range(3):
        client = Client.objects.create(name=f"Devedor {n}", phone=f"+5511912345{n:03d}")
        Charge.objects.create(
            client=client,
            external_id=f"auto-06e35c402207c692a9{n:02d}",
            amount=Decimal("150.50"),
            due_date=dt.date(2026, 1, 15),
            description="",
            import_batch=batch,
        )
    return batch


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_template_with_an_empty_variable_is_refused_until_it_gives_a_fallback(
    width, live_server, browser, shots
):
    make_operator()
    _import_without_descriptions()
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page
    base = live_server.url

    page.goto(base + "/painel/templates/novo/")
    page.get_by_label("Nome do modelo").fill("Fatura em aberto")
    page.locator("#id_body").fill(BODY)
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator(".alert-success")).to_contain_text("Fatura em aberto")
    shots.take("template-saved")

    def validate() -> None:
        page.goto(base + "/painel/cobranca/campanhas/nova/")
        page.get_by_label("Nome da campanha").fill("Em aberto")
        page.get_by_label("Modelo de mensagem").select_option(label="Fatura em aberto")
        page.get_by_label("Importação").select_option(index=1)
        page.get_by_role("button", name="Validar antes (simulação)").click()
        expect(page.locator("#audience-total")).to_have_text("3")

    validate()
    expect(page.locator("#empty-variables")).to_have_text("3")
    expect(page.locator("#validation")).to_contain_text(
        "3 destinatário(s) receberiam a mensagem com variável vazia"
    )
    expect(page.locator("#validation")).not_to_contain_text("Tudo certo")
    shots.take("validation-blocks")

    # Created as a draft anyway, the start is refused with the same reason and nothing is queued.
    page.get_by_role("button", name="Criar campanha (rascunho)").click()
    expect(page.locator("#campaign-status")).to_have_text("rascunho")
    confirm = page.locator("#confirmar-conformidade")
    if confirm.count():
        confirm.check()
    page.locator("#start-campaign").click()
    expect(page.locator(".alert-danger")).to_contain_text("variável vazia")
    expect(page.locator("#campaign-status")).to_have_text("rascunho")
    assert Campaign.objects.get().dispatches.count() == 0
    shots.take("start-refused")

    # The template gives a fallback: validation passes and the preview shows it.
    page.goto(base + "/painel/templates/")
    page.get_by_role("link", name="Fatura em aberto").first.click()
    page.locator("#id_body").fill(BODY.replace("*{description}*", FALLBACK))
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator(".alert-success")).to_contain_text("Fatura em aberto")
    validate()
    expect(page.locator("#empty-variables")).to_have_text("0")
    expect(page.locator("#validation")).to_contain_text("pode criar a campanha", ignore_case=True)
    expect(page.locator("#validation .wa-bubble")).to_contain_text(
        "consta em aberto sua mensalidade no valor"
    )
    shots.take("validation-ok")

    # In the panel a charge without description reads as such, never as its generated id.
    conversation = ConversationFactory(client=Client.objects.get(name="Devedor 0"))
    page.goto(base + f"/painel/conversas/{conversation.pk}/")
    expect(page.locator("body")).to_contain_text("Cobrança com vencimento em 15/01/2026")
    expect(page.locator("body")).not_to_contain_text("auto-06e35c")
    shots.take("charge-title")
    session.context.close()
    assert session.errors == []
