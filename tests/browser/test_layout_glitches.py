"""Issue #13 item 4 in a real browser: the "Situação da cobrança" checkboxes never overlap the Atraso/Valor
fields on the new-campaign form, and no page asks for a favicon that is not there. Desktop and phone."""

from __future__ import annotations

import pytest

from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_status_checkboxes_do_not_overlap_the_range_fields(width, live_server, browser, shots):
    make_operator()
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page
    page.goto(live_server.url + "/painel/cobranca/campanhas/nova/")
    shots.take("campaign-form")

    situacoes = "fieldset.checkbox-list:has(#id_situacoes)"
    checkboxes = page.locator(f"{situacoes} label, {situacoes} input")
    assert checkboxes.count() >= 2
    fields = page.locator(
        "label[for=id_atraso_min], #id_atraso_min, label[for=id_atraso_max], #id_atraso_max, "
        "label[for=id_valor_min], #id_valor_min, label[for=id_valor_max], #id_valor_max"
    )
    assert fields.count() == 8
    boxes = [checkboxes.nth(i).bounding_box() for i in range(checkboxes.count())]
    others = [fields.nth(i).bounding_box() for i in range(fields.count())]
    fieldset = page.locator(situacoes).bounding_box()
    for box in boxes:
        # Every checkbox and its label sit inside the fieldset, which ends above the range fields.
        assert box["y"] + box["height"] <= fieldset["y"] + fieldset["height"] + 0.5, box
        for other in others:
            assert not _overlap(box, other), (box, other)
    assert session.errors == []


def test_every_page_has_a_favicon(live_server, browser):
    make_operator()
    session = open_session(browser, live_server.url, "desktop")
    page = session.page
    href = page.locator("link[rel=icon]").first.get_attribute("href")
    assert href
    response = page.request.get(live_server.url + href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/")
    # The browser's own /favicon.ico request must not 404 either.
    assert page.request.get(live_server.url + "/favicon.ico").status == 200


def test_the_admin_client_page_has_no_csp_error(live_server, browser, shots):
    from django.contrib.auth.models import User

    from billing.models import Charge, Client, ImportBatch

    User.objects.create_superuser("admin", "admin@example.com", "senha-do-admin-42")
    client = Client.objects.create(name="Maria Devedora", phone="+5511912345678")
    batch = ImportBatch.objects.create(
        filename="clientes.csv",
        file_format="csv",
        total_rows=2,
        report={"errors": [{"row": 3, "field": "phone"}]},
    )
    Charge.objects.create(
        client=client, external_id="ref-1", amount="150.50", due_date="2026-01-15", import_batch=batch
    )
    context = browser.new_context(locale="pt-BR")
    page = shots.page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/admin/login/?next=/admin/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill("senha-do-admin-42")
    page.locator("input[type=submit]").click()
    page.wait_for_url(live_server.url + "/admin/")
    for url in (
        f"/admin/billing/client/{client.pk}/change/",
        "/admin/billing/client/",
        "/admin/billing/client/add/",
        f"/admin/billing/charge/{Charge.objects.get().pk}/change/",
        "/admin/billing/importbatch/",
        f"/admin/billing/importbatch/{batch.pk}/change/",
    ):
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        shots.take("admin-client")
    page.goto(live_server.url + f"/admin/billing/client/{client.pk}/change/")
    page.locator(".add-row a").first.click()
    page.wait_for_load_state("networkidle")
    assert errors == []
    context.close()


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_pause_and_cancel_leave_the_page_when_the_campaign_finishes_without_a_reload(
    width, live_server, browser, shots
):
    from playwright.sync_api import expect

    from billing.models import Campaign, Dispatch
    from billing.tests.factories import CampaignFactory, DispatchFactory

    make_operator()
    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    DispatchFactory(campaign=campaign, status=Dispatch.Status.PENDING)
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page
    page.goto(live_server.url + f"/painel/cobranca/campanhas/{campaign.pk}/")
    actions = page.locator("#campaign-actions")
    expect(actions.get_by_role("button", name="Pausar")).to_be_visible()
    shots.take("running")

    Dispatch.objects.filter(campaign=campaign).update(status=Dispatch.Status.SENT)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    # The 2 s polling brings the finished state and, out of band, the buttons without Pausar/Cancelar.
    expect(page.locator("#campaign-status")).to_have_text("concluída", timeout=10_000)
    expect(actions.get_by_role("button", name="Pausar")).to_have_count(0)
    expect(actions.get_by_role("button", name="Cancelar")).to_have_count(0)
    expect(actions.get_by_role("link", name="Exportar CSV")).to_be_visible()
    shots.take("finished")
    assert session.errors == []


def test_the_inbox_list_fits_a_phone(live_server, browser, shots):
    """Operator test: at 390 px the intent/state/owner badges spilled out of the list card."""
    from conversations.models import Conversation
    from conversations.tests.factories import ConversationFactory, MessageFactory

    user = make_operator("operadora.com.nome.comprido")
    for i in range(3):
        conversation = ConversationFactory(
            client__name=f"Antônio Cláudio Ribeiro dos Santos {i}",
            state=Conversation.State.HUMAN,
            assigned_to=user if i else None,
            needs_attention=bool(i % 2),
        )
        MessageFactory(
            conversation=conversation,
            body="Olá, Antônio! Segue o *Material didático* e o código Pix para pagamento da parcela",
            intent="payment_info",
            confidence=0.999,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=conversation.created_at)
    session = open_session(browser, live_server.url, "phone", username="operadora.com.nome.comprido")
    page = shots.page = session.page
    page.goto(live_server.url + "/painel/conversas/?vista=todas")
    shots.take("inbox-phone")
    assert page.locator(".inbox-row").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    card = page.locator("#inbox-list").bounding_box()
    badges = page.locator(".inbox-row .badge")
    for i in range(badges.count()):
        box = badges.nth(i).bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5, box
    # The preview shows the text, not WhatsApp's markers.
    assert "*" not in page.locator(".last-message").first.inner_text()
    assert session.errors == []


def test_table_captions_sit_above_their_tables(live_server, browser):
    """Operator test: captions appeared below the tables (Bootstrap's caption-side: bottom)."""
    make_operator()
    session = open_session(browser, live_server.url, "desktop")
    caption = session.page.locator("table:has(caption)").first
    caption.wait_for()
    above = caption.evaluate(
        "t => t.querySelector('caption').getBoundingClientRect().bottom"
        " <= t.querySelector('thead, tbody, tr').getBoundingClientRect().top + 0.5"
    )
    assert above
    assert session.errors == []
