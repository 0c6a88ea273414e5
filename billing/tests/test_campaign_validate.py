"""One audience, one suppression rule, one preview rule: the dry run counts what the driver will skip, and
every preview picks the same charge for a client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing.dispatch import services
from billing.dispatch.selectors import campaign_validate
from billing.models import Charge, Client, ImportBatch
from billing.suppression import client_suppression_reason, suppressed_clients_q
from billing.templating import preview_charge_for, template_preview
from billing.tests.factories import ChargeFactory, ClientFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

FLAGS = [
    ({"forgotten_at": "now"}, services.REASON_FORGOTTEN),
    ({"opted_out_at": "now"}, services.REASON_OPTED_OUT),
    ({"wrong_number": True}, services.REASON_WRONG_NUMBER),
    ({"not_on_whatsapp": True}, services.REASON_NOT_ON_WHATSAPP),
]


def _flagged(change: dict) -> Client:
    return ClientFactory(**{k: timezone.now() if v == "now" else v for k, v in change.items()})


def _batch(*charges: Charge) -> ImportBatch:
    batch = ImportBatch.objects.create(filename="x.json", file_format="json")
    Charge.objects.filter(pk__in=[c.pk for c in charges]).update(import_batch=batch)
    return batch


@pytest.mark.parametrize(("change", "reason"), FLAGS)
def test_the_database_rule_and_the_row_rule_refuse_the_same_clients(change, reason):
    flagged, fine = _flagged(change), ClientFactory()
    assert client_suppression_reason(flagged) == reason
    assert client_suppression_reason(fine) == ""
    assert list(Client.objects.filter(suppressed_clients_q())) == [flagged]
    assert flagged.is_suppressed and not fine.is_suppressed


@pytest.mark.parametrize(("change", "reason"), FLAGS)
def test_the_dry_run_counts_every_client_the_driver_will_skip(change, reason):
    skipped = ChargeFactory(client=_flagged(change))
    sent = ChargeFactory()
    result = campaign_validate(template=MessageTemplateFactory(), import_batch=_batch(skipped, sent))
    assert result.numbers == {"total": 2, "suppressed": 1, "closed": 0, "empty_variables": 0}
    assert services.skip_reason_for(client=skipped.client, charge=skipped) == reason
    assert result.ok


def test_the_dry_run_counts_closed_charges_and_renders_a_charge_that_will_be_sent():
    """The example is a debtor the campaign will write to: not a paid charge ("Não identificamos o pagamento"
    to someone who paid), not a suppressed client (tester finding)."""
    paid = ChargeFactory(status=Charge.Status.PAID)
    opted_out = ChargeFactory(client=_flagged({"opted_out_at": "now"}))
    sent = ChargeFactory()
    result = campaign_validate(
        template=MessageTemplateFactory(body="Oi {name}"), import_batch=_batch(paid, opted_out, sent)
    )
    assert result.closed == 1 and result.sample == sent
    assert result.preview.text == f"Oi {sent.client.name}"


def test_the_dry_run_of_an_audience_nobody_will_receive_still_renders_its_first_charge():
    paid = ChargeFactory(status=Charge.Status.PAID)
    result = campaign_validate(template=MessageTemplateFactory(body="Oi {name}"), import_batch=_batch(paid))
    assert result.sample == paid and result.preview.text == f"Oi {paid.client.name}"


def test_the_dry_run_lists_what_create_and_start_would_refuse():
    template = MessageTemplateFactory(body="Oi {nme}", is_active=False)
    result = campaign_validate(template=template, send_window="seg 8-20")
    assert not result.ok
    text = " ".join(result.problems)
    for expected in ("audiência", "inativo", "nme", "Janela de envio inválida", "nenhuma cobrança"):
        assert expected in text


def test_the_dry_run_of_a_segment_uses_the_same_audience_as_the_start():
    due = timezone.localdate() - dt.timedelta(days=10)
    late = ChargeFactory(due_date=due)
    ChargeFactory()
    result = campaign_validate(template=MessageTemplateFactory(), segment={"min_days_overdue": 5})
    assert result.total == 1 and result.sample == late


def test_a_preview_for_a_client_shows_the_next_open_charge_not_an_older_paid_one():
    client = ClientFactory()
    ChargeFactory(client=client, due_date=dt.date(2025, 1, 10), status=Charge.Status.PAID)
    open_ = ChargeFactory(client=client, due_date=dt.date(2025, 3, 10))
    ChargeFactory(client=client, due_date=dt.date(2025, 5, 10))
    assert preview_charge_for(client) == open_
    preview = template_preview(body="{due_date}", client=client)
    assert preview.text == "10/03/2025" and preview.charge == open_


def test_a_preview_for_a_client_with_only_closed_charges_shows_the_latest():
    client = ClientFactory()
    ChargeFactory(client=client, due_date=dt.date(2025, 1, 10), status=Charge.Status.PAID)
    latest = ChargeFactory(client=client, due_date=dt.date(2025, 2, 10), status=Charge.Status.CANCELLED)
    assert template_preview(body="{due_date}", client=client).charge == latest


def test_a_preview_without_a_debtor_uses_the_sample_and_a_bad_body_renders_nothing():
    assert template_preview(body="{first_name}").text == "Maria"
    bad = template_preview(body="Oi {nme}")
    assert bad.text == "" and bad.errors and bad.variables == []


def test_recipients_with_an_empty_variable_block_the_campaign_until_the_template_gives_a_fallback():
    """Issue #13 item 3: "Consta em aberto ** no valor de…" reached every debtor, validation said fine."""
    from cobranca.exceptions import ApplicationError

    empty = [ChargeFactory(description="") for _ in range(3)]
    described = ChargeFactory(description="Plano anual")
    batch = _batch(*empty, described)
    template = MessageTemplateFactory(body="Consta em aberto *{description}* no valor de {valor}.")
    result = campaign_validate(template=template, import_batch=batch)
    assert result.numbers["empty_variables"] == 3 and not result.ok
    assert any("3 destinatário(s)" in p and "{description}" in p for p in result.problems)
    campaign = services.campaign_create(template=template, import_batch=batch)
    with pytest.raises(ApplicationError, match="variável vazia"):
        services.campaign_start(campaign=campaign, confirm_compliance=True)
    assert campaign.dispatches.count() == 0

    template.body = 'Consta em aberto *{description|"sua mensalidade"}* no valor de {valor}.'
    template.save()
    result = campaign_validate(template=template, import_batch=batch)
    assert result.numbers["empty_variables"] == 0 and result.ok
    assert services.campaign_start(campaign=campaign, confirm_compliance=True).total == 4


def test_suppressed_and_closed_charges_do_not_count_as_empty_recipients():
    closed = ChargeFactory(description="", status=Charge.Status.PAID)
    suppressed = ChargeFactory(description="", client=_flagged({"opted_out_at": "now"}))
    batch = _batch(closed, suppressed, ChargeFactory(description="x"))
    template = MessageTemplateFactory(body="{description}")
    assert campaign_validate(template=template, import_batch=batch).numbers["empty_variables"] == 0


def test_the_dry_run_warns_of_debtors_without_document_with_the_psp_pix(settings):
    settings.PIX_PROVIDER = "api_pix"
    settings.PIX_KEY = settings.PIX_KEY or "cobranca@example.com"
    bare = ChargeFactory(client=ClientFactory(document=""))
    ChargeFactory(client=ClientFactory(document="123.456.789-09"))
    result = campaign_validate(
        template=MessageTemplateFactory(body="Pague: {pix}"), import_batch=_batch(bare)
    )
    assert any(
        "1 devedor(es) sem CPF/CNPJ receberão um PIX sem baixa automática" in w for w in result.warnings
    )
    settings.PIX_PROVIDER = "static"
    result = campaign_validate(
        template=MessageTemplateFactory(body="Pague: {pix}"), import_batch=_batch(bare)
    )
    assert not any("CPF/CNPJ" in w for w in result.warnings)


def test_the_dry_run_warns_of_landlines():
    landline = ChargeFactory(client=ClientFactory(phone="+551133334444"))
    mobile = ChargeFactory()
    result = campaign_validate(
        template=MessageTemplateFactory(body="Oi {name}"), import_batch=_batch(landline, mobile)
    )
    assert any(w.startswith("1 destinatário(s) com telefone fixo") for w in result.warnings)


@pytest.mark.parametrize("body", ["Sua conta venceu há {days_overdue} dias", "Consta vencido em {due_date}"])
def test_the_dry_run_warns_when_overdue_wording_reaches_charges_not_yet_due(body):
    future = ChargeFactory(due_date=timezone.localdate() + dt.timedelta(days=9))
    late = ChargeFactory(due_date=timezone.localdate() - dt.timedelta(days=9))
    result = campaign_validate(template=MessageTemplateFactory(body=body), import_batch=_batch(future, late))
    assert any(w.startswith("1 cobrança(s) ainda não venceram") for w in result.warnings)
    neutral = campaign_validate(
        template=MessageTemplateFactory(body="Vence em {due_date}"), import_batch=_batch(future)
    )
    assert not any("ainda não venceram" in w for w in neutral.warnings)
