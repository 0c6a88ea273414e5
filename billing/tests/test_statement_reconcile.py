"""Reconciling bank statements (billing.payments.statements): txid, amount + payer + window, the queue,
re-imports and overlapping exports, dry runs, the command."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditLog
from billing import services
from billing.models import Charge, Installment, Payment, PaymentIssue, PixCobv
from billing.payments.statements import statement_import
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "ofx"
BANK_A = FIXTURES / "extrato_banco_a_1252.ofx"
BANK_A_OVERLAP = FIXTURES / "extrato_banco_a_sobreposto.ofx"
BANK_B = FIXTURES / "extrato_banco_b_fitid_repetido.ofx"
D = Decimal


def charge_for(name, amount, document="", due=dt.date(2026, 12, 10), created=dt.datetime(2026, 11, 20, 12)):
    charge = ChargeFactory(client=ClientFactory(name=name, document=document), amount=D(amount), due_date=due)
    Charge.objects.filter(pk=charge.pk).update(created_at=timezone.make_aware(created))
    charge.refresh_from_db()
    return charge


@pytest.fixture
def debtors():
    """The debtors the fixtures' lines were written for."""
    maria = charge_for("Maria José da Conceição", "150.00", "11144477735")
    joao = charge_for("João Pedro Alves", "89.90", "24681357928")
    ana = charge_for("Ana Beatriz Lima", "200.00")
    PixCobv.objects.create(
        charge=ana,
        txid="cobv12ab34cd56ef78gh90ij12kl",
        amount=D("200.00"),
        due_date=ana.due_date,
        version_key="v1",
    )
    carlos_1 = charge_for("Carlos Souza", "75.00")
    carlos_2 = charge_for("Carlos Eduardo Souza", "75.00")
    return {"maria": maria, "joao": joao, "ana": ana, "carlos_1": carlos_1, "carlos_2": carlos_2}


def counts(summary):
    keys = ("matched", "ambiguous", "unmatched", "already_applied", "already_queued")
    return {k: getattr(summary, k) for k in keys}


def test_a_statement_pays_by_txid_document_and_name_and_queues_the_rest(debtors):
    summary = statement_import(path=BANK_A)
    assert (summary.lines, summary.credits, summary.debits) == (6, 5, 1)
    assert counts(summary) == {
        "matched": 3,
        "ambiguous": 1,
        "unmatched": 1,
        "already_applied": 0,
        "already_queued": 0,
    }
    assert summary.matched_by_txid == 1
    for key in ("maria", "joao", "ana"):
        debtors[key].refresh_from_db()
        assert debtors[key].status == Charge.Status.PAID, key
    payment = Payment.objects.get(charge=debtors["joao"])
    assert payment.source == Payment.Source.STATEMENT
    assert payment.reference == "0999/0042/12345-6:202612030002"
    assert payment.payer_document == "24681357928" and payment.paid_at == dt.datetime(
        2026, 12, 3, 17, 15, tzinfo=dt.UTC
    )
    assert Payment.objects.get(charge=debtors["ana"]).txid == "cobv12ab34cd56ef78gh90ij12kl"


def test_an_ambiguous_line_goes_to_the_queue_with_its_candidates_masked(debtors):
    ClientFactory(name="x")  # unrelated
    debtors["carlos_1"].client.document = "98765432100"
    debtors["carlos_1"].client.save()
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS)
    assert issue.key == "statement:0999/0042/12345-6:202612040005" and issue.amount == D("75.00")
    candidates = issue.details["candidates"]
    assert {c["charge"] for c in candidates} == {debtors["carlos_1"].pk, debtors["carlos_2"].pk}
    assert {c["document"] for c in candidates} == {"987******00", ""}
    assert issue.details["facts"]["memo"] == "PIX RECEBIDO CARLOS SOUZA"
    assert debtors["carlos_1"].payments.count() == 0


def test_an_unmatched_line_is_queued_with_no_candidates(debtors):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.UNMATCHED)
    assert issue.amount == D("1234.56") and issue.details["candidates"] == []


def test_reimporting_the_same_statement_changes_nothing(debtors):
    statement_import(path=BANK_A)
    before = (Payment.objects.count(), PaymentIssue.objects.count())
    again = statement_import(path=BANK_A)
    assert counts(again) == {
        "matched": 0,
        "ambiguous": 0,
        "unmatched": 0,
        "already_applied": 3,
        "already_queued": 2,
    }
    assert (Payment.objects.count(), PaymentIssue.objects.count()) == before


def test_an_overlapping_export_only_adds_its_new_lines(debtors):
    statement_import(path=BANK_A)
    summary = statement_import(path=BANK_A_OVERLAP)
    assert counts(summary) == {
        "matched": 0,
        "ambiguous": 0,
        "unmatched": 1,
        "already_applied": 0,
        "already_queued": 2,
    }
    assert PaymentIssue.objects.filter(amount=D("321.00")).count() == 1


def test_a_bank_that_reuses_fitids_gets_a_fallback_key_per_transaction(debtors):
    summary = statement_import(path=BANK_B)
    assert (summary.matched, summary.unmatched) == (2, 2)
    refs = sorted(Payment.objects.values_list("reference", flat=True))
    assert refs[0] == "0777/998877:000001"
    assert refs[1].startswith("0777/998877:000001:") and len(refs[1]) == len(refs[0]) + 14
    keys = sorted(PaymentIssue.objects.values_list("key", flat=True))
    assert keys[0] == "statement:0777/998877:000002"
    assert keys[1].startswith("statement:0777/998877:000002:")
    again = statement_import(path=BANK_B)
    assert (again.matched, again.unmatched, again.already_applied, again.already_queued) == (0, 0, 2, 2)


def test_a_document_that_differs_wins_over_a_matching_name(debtors):
    debtors["maria"].client.document = "98765432100"
    debtors["maria"].client.save()
    statement_import(path=BANK_A)
    debtors["maria"].refresh_from_db()
    assert debtors["maria"].status == Charge.Status.OPEN
    issue = PaymentIssue.objects.get(amount=D("150.00"))
    assert issue.kind == PaymentIssue.Kind.UNMATCHED
    assert [c["charge"] for c in issue.details["candidates"]] == [debtors["maria"].pk]
    assert issue.details["suggestions"] is True


@override_settings(STATEMENT_MATCH_DAYS_AFTER_DUE=3)
def test_a_line_outside_the_date_window_is_not_matched():
    charge = charge_for(
        "João Pedro Alves",
        "89.90",
        "24681357928",
        due=dt.date(2026, 11, 25),
        created=dt.datetime(2026, 11, 1),
    )
    summary = statement_import(path=BANK_A)
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN and summary.matched == 0


def test_an_installment_is_matched_by_its_own_amount():
    charge = charge_for("Maria José da Conceição", "450.00", "11144477735")
    first_due = timezone.localdate() + dt.timedelta(days=1)
    agreement = services.agreement_create(charge=charge, installments=3, first_due_date=first_due)
    first = agreement.schedule.get(number=1)
    assert first.amount == D("150.00")
    summary = statement_import(path=BANK_A)
    first.refresh_from_db()
    assert summary.matched == 1 and first.status == Installment.Status.PAID
    assert Payment.objects.get().installment == first


def test_a_charge_partly_paid_is_matched_by_what_is_left():
    charge = charge_for("João Pedro Alves", "100.00")
    Charge.objects.filter(pk=charge.pk).update(amount_paid=D("10.10"))
    statement_import(path=BANK_A)
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID and charge.amount_paid == D("100.00")


def test_dry_run_writes_nothing(debtors):
    summary = statement_import(path=BANK_A, dry_run=True)
    assert counts(summary) == {
        "matched": 3,
        "ambiguous": 1,
        "unmatched": 1,
        "already_applied": 0,
        "already_queued": 0,
    }
    assert Payment.objects.count() == 0 and PaymentIssue.objects.count() == 0
    assert not AuditLog.objects.filter(action__startswith="statement").exists()
    assert Charge.objects.filter(status=Charge.Status.PAID).count() == 0


def test_a_malformed_statement_applies_nothing_and_names_line_and_field(debtors):
    with pytest.raises(ApplicationError) as err:
        statement_import(path=FIXTURES / "extrato_valor_invalido.ofx")
    assert "linha 52, campo TRNAMT" in err.value.message
    assert err.value.extra["line"] == 52 and err.value.extra["field"] == "TRNAMT"
    # The first line (Maria's 150,00) was valid and matches: still nothing is applied.
    assert Payment.objects.count() == 0 and PaymentIssue.objects.count() == 0


def test_the_import_is_audited(debtors):
    statement_import(path=BANK_A)
    entry = AuditLog.objects.get(action="statement.import")
    assert entry.details["matched"] == 3 and entry.details["file"] == BANK_A.name


def test_the_command_prints_one_json_summary(debtors, tmp_path):
    out = io.StringIO()
    call_command("import_statement", str(BANK_A), "--dry-run", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["matched"], data["ambiguous"], data["unmatched"], data["already_applied"]) == (3, 1, 1, 0)
    assert data["dry_run"] is True and Payment.objects.count() == 0
    out = io.StringIO()
    call_command("import_statement", str(BANK_A), stdout=out)
    assert json.loads(out.getvalue())["matched"] == 3 and Payment.objects.count() == 3


def test_the_command_fails_on_a_malformed_file(tmp_path):
    bad = tmp_path / "ruim.ofx"
    shutil.copy(FIXTURES / "extrato_valor_invalido.ofx", bad)
    with pytest.raises(CommandError, match="linha 52, campo TRNAMT"):
        call_command("import_statement", str(bad))


def test_a_line_whose_fingerprint_looks_like_a_number_is_still_recognised(tmp_path):
    # This memo, date and amount once gave the fingerprint "3498148177e8", which SQLite's JSON lookup read
    # back as a float: the line looked new on every import.
    text = BANK_A.read_bytes()
    start, end = text.index(b"<STMTTRN>"), text.rindex(b"</BANKTRANLIST>")
    line = (
        b"<STMTTRN>\r\n<TRNTYPE>CREDIT\r\n<DTPOSTED>20261203120000[-3:BRT]\r\n<TRNAMT>321,00\r\n"
        b"<FITID>X304\r\n<MEMO>PIX RECEBIDO LOJA 304 LTDA\r\n</STMTTRN>\r\n"
    )
    path = tmp_path / "uma-linha.ofx"
    path.write_bytes(text[:start] + line + text[end:])
    assert statement_import(path=path).unmatched == 1
    again = statement_import(path=path)
    assert (again.unmatched, again.already_queued) == (0, 1) and PaymentIssue.objects.count() == 1


def test_lines_dated_in_the_future_are_refused_per_line_and_applied_once_their_time_has_come(
    debtors, monkeypatch
):
    from cobranca import clock

    # 14:10 in São Paulo on 03/12: João's line (14:15) is 5 min ahead plus a second, past the tolerance.
    early = dt.datetime(2026, 12, 3, 17, 9, 59, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: early)
    summary = statement_import(path=BANK_A)
    assert summary.matched == 1 and debtors["maria"].pk in set(
        Payment.objects.values_list("charge_id", flat=True)
    )
    assert [r["fitid"] for r in summary.refused] == [
        "202612030002",
        "202612030003",
        "202612040005",
        "202612050006",
    ]
    joao = summary.refused[0]
    assert (
        joao["reason"] == "data no futuro (03/12/2026 14:15)" and joao["line"] and joao["amount"] == "89.90"
    )
    debtors["joao"].refresh_from_db()
    assert debtors["joao"].status != Charge.Status.PAID and not PaymentIssue.objects.exists()
    monkeypatch.setattr(clock, "now", lambda: early + dt.timedelta(seconds=1))  # within the tolerance
    assert statement_import(path=BANK_A, dry_run=True).refused[0]["fitid"] == "202612030003"
    monkeypatch.setattr(clock, "now", timezone.now)
    again = statement_import(path=BANK_A)
    assert again.refused == [] and again.already_applied == 1 and again.matched == 2
    debtors["joao"].refresh_from_db()
    assert debtors["joao"].status == Charge.Status.PAID
