"""Pagamentos pages: the bank statement upload (/painel/pagamentos/extratos/) and the operator queue
(/painel/pagamentos/pendencias/): who may see and act, CSRF, every action through billing.payments.queue
(audited), masking per role, and a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from billing import services as billing_services
from billing.models import Charge, Payment, PaymentIssue, StatementImport
from billing.payments.statements import statement_import
from billing.tasks import statement_import_task
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.roles import INTEGRATORS, OPERATORS

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "billing" / "tests" / "fixtures" / "ofx"
BANK_A = FIXTURES / "extrato_banco_a_1252.ofx"
UPLOAD = reverse("dashboard:statement-upload")
QUEUE = reverse("dashboard:payment-issues")


def action(pk: int, name: str) -> str:
    return reverse("dashboard:payment-issue-action", args=[pk, name])


@pytest.fixture
def groups(db, settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"
    call_command("create_groups", stdout=open(os.devnull, "w"))


def _user(name: str, group: str | None) -> User:
    user = User.objects.create_user(name, password="senha-forte-123")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator(groups) -> User:
    return _user("operadora", OPERATORS)


@pytest.fixture
def op_client(operator) -> HttpClient:
    http = HttpClient()
    http.force_login(operator)
    return http


def charge_for(name, amount, document=""):
    charge = ChargeFactory(
        client=ClientFactory(name=name, document=document),
        amount=Decimal(amount),
        due_date=dt.date(2026, 12, 10),
    )
    Charge.objects.filter(pk=charge.pk).update(created_at=timezone.make_aware(dt.datetime(2026, 11, 20)))
    return charge


@pytest.fixture
def carlos():
    """The statement's R$ 75,00 from "CARLOS SOUZA" fits two debtors: an AMBIGUOUS line."""
    return charge_for("Carlos Souza", "75.00", "98765432100"), charge_for("Carlos Eduardo Souza", "75.00")


def ofx_upload(path: Path = BANK_A, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="application/x-ofx")


# --- access ------------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(groups):
    for url in (UPLOAD, QUEUE):
        response = HttpClient().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_integrator_may_not_open_the_pages(groups):
    http = HttpClient()
    http.force_login(_user("integra", INTEGRATORS))
    assert http.get(UPLOAD).status_code == 403 and http.get(QUEUE).status_code == 403


def test_queue_actions_need_the_change_permission(op_client, operator, carlos):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS)
    operator.groups.get().permissions.remove(Permission.objects.get(codename="change_paymentissue"))
    operator = User.objects.get(pk=operator.pk)  # permissions are cached per user object
    http = HttpClient()
    http.force_login(operator)
    response = http.post(action(issue.pk, "descartar"), {"observacao": "x"})
    assert response.status_code == 403
    assert PaymentIssue.objects.get(pk=issue.pk).status == PaymentIssue.Status.OPEN
    assert "Aplicar nesta cobrança" not in http.get(QUEUE).content.decode()


def test_uploads_and_actions_refuse_a_post_without_the_csrf_token(operator, carlos):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS)
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(operator)
    assert http.post(UPLOAD, {"arquivo": ofx_upload()}).status_code == 403
    assert http.post(action(issue.pk, "aplicar"), {"cobranca": carlos[0].pk}).status_code == 403
    assert Payment.objects.filter(charge__in=carlos).count() == 0


# --- upload ------------------------------------------------------------------------------------------------


def upload(op_client, capture, data: dict) -> tuple[StatementImport, str]:
    """POST the upload: the page answers at once with the job's page, the worker's task is enqueued on commit.
    Returns the job and the task it enqueued (not run yet)."""
    with capture() as callbacks:
        response = op_client.post(UPLOAD, data)
    job = StatementImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "dashboard:statement-job", args=[job.pk]
    )
    assert len(callbacks) == 1
    return job, job.path


def run_worker(job: StatementImport) -> str:
    return statement_import_task(job.pk)  # what the qcluster runs


def test_an_upload_is_queued_then_reconciled_by_the_worker_and_shows_the_summary(
    op_client, carlos, django_capture_on_commit_callbacks
):
    maria = charge_for("Maria José da Conceição", "150.00", "11144477735")
    job, stored = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload()})
    page = op_client.get(reverse("dashboard:statement-job", args=[job.pk])).content.decode()
    assert "processando" in page and 'id="statement-summary"' not in page
    assert f'hx-get="{reverse("dashboard:statement-job-progress", args=[job.pk])}"' in page
    assert Path(stored).is_file() and Payment.objects.count() == 0  # stored first, nothing applied yet
    assert run_worker(job) == "done"
    job.refresh_from_db()
    assert job.status == StatementImport.Status.DONE and job.lines_done == job.lines_total == 6
    response = op_client.get(reverse("dashboard:statement-job-progress", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "hx-get" not in body  # finished: the polling stops
    assert (
        'id="sum-matched">1<' in body and 'id="sum-ambiguous">1<' in body and 'id="sum-unmatched">3<' in body
    )
    maria.refresh_from_db()
    assert maria.status == Charge.Status.PAID


def test_the_progress_shows_the_lines_done_while_the_worker_runs(
    op_client, django_capture_on_commit_callbacks
):
    job, _ = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload()})
    StatementImport.objects.filter(pk=job.pk).update(
        status=StatementImport.Status.RUNNING, lines_done=500, lines_total=2000
    )
    body = op_client.get(reverse("dashboard:statement-job-progress", args=[job.pk])).content.decode()
    assert "500 de 2000 lançamento(s)" in body and 'value="25"' in body and "hx-get" in body


def test_a_redelivered_task_does_nothing(op_client, carlos, django_capture_on_commit_callbacks):
    job, _ = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload()})
    assert run_worker(job) == "done"
    issues = PaymentIssue.objects.count()
    assert run_worker(job) == "taken" and PaymentIssue.objects.count() == issues


def test_a_job_whose_worker_died_is_taken_over_and_changes_nothing_twice(
    op_client, carlos, settings, django_capture_on_commit_callbacks
):
    job, _ = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload()})
    statement_import(path=job.path)  # the dead worker had queued every line (1 ambiguous, 4 unmatched)
    lost = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    StatementImport.objects.filter(pk=job.pk).update(status=StatementImport.Status.RUNNING, updated_at=lost)
    assert run_worker(job) == "done"
    job.refresh_from_db()
    assert job.summary["matched"] == 0 and job.summary["already_queued"] == 5
    assert PaymentIssue.objects.count() == 5


def test_the_uploaded_file_is_not_kept(op_client, settings, django_capture_on_commit_callbacks):
    job, stored = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload()})
    run_worker(job)
    assert not Path(stored).exists()
    assert list((Path(settings.UPLOADS_DIR) / "statements").glob("*")) == []


def test_a_simulation_writes_nothing(op_client, carlos, django_capture_on_commit_callbacks):
    job, _ = upload(op_client, django_capture_on_commit_callbacks, {"arquivo": ofx_upload(), "simular": "on"})
    run_worker(job)
    response = op_client.get(reverse("dashboard:statement-job", args=[job.pk]))
    assert "simulação: nada foi gravado" in response.content.decode()
    assert Payment.objects.count() == 0 and PaymentIssue.objects.count() == 0


def test_a_malformed_statement_is_refused_naming_line_and_field(
    op_client, django_capture_on_commit_callbacks
):
    job, stored = upload(
        op_client,
        django_capture_on_commit_callbacks,
        {"arquivo": ofx_upload(FIXTURES / "extrato_valor_invalido.ofx")},
    )
    assert run_worker(job) == "failed"
    response = op_client.get(reverse("dashboard:statement-job", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 400
    assert "linha 52, campo TRNAMT" in body and "Nada foi aplicado" in body
    assert Payment.objects.count() == 0 and not Path(stored).exists()


def test_a_file_that_is_not_ofx_by_name_is_refused(op_client):
    response = op_client.post(UPLOAD, {"arquivo": ofx_upload(name="extrato.csv")})
    assert "formato OFX" in response.content.decode() and PaymentIssue.objects.count() == 0


def test_a_body_over_the_upload_limit_is_refused_before_reading(op_client, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    big = SimpleUploadedFile("grande.ofx", b"x" * 4096)
    response = op_client.post(UPLOAD, {"arquivo": big})
    assert response.status_code == 413


# --- the queue ---------------------------------------------------------------------------------------------


def test_the_queue_lists_open_issues_of_every_kind_with_the_nav_count(op_client, carlos):
    statement_import(path=BANK_A)  # AMBIGUOUS (Carlos) + UNMATCHED (four lines: no other debtor is set up)
    other = ChargeFactory()
    PaymentIssue.objects.create(kind=PaymentIssue.Kind.CLAIM_EXPIRED, key="claim:1", charge=other)
    PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.OVERPAYMENT,
        key="over:1",
        charge=other,
        amount=Decimal("5.00"),
        details={"reason": "valor acima do devido", "excess": "5.00"},
    )
    PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.SUSPECT_RECEIPT, key="r:1", status=PaymentIssue.Status.RESOLVED
    )
    body = op_client.get(QUEUE).content.decode()
    assert body.count('class="card mb-3 payment-issue"') == 7
    assert 'hx-get="/painel/pagamentos/pendencias/contagem/"' in body
    badge = op_client.get(reverse("dashboard:payment-issue-count")).content.decode()
    assert re.search(r'id="nav-pendencias-count"[^>]*>7<', badge)
    assert "Carlos Eduardo Souza" in body and "valor acima do devido" in body
    only = op_client.get(QUEUE, {"tipo": "ambiguous"}).content.decode()
    assert only.count('class="card mb-3 payment-issue"') == 1


def test_an_operator_applies_an_ambiguous_line_to_the_charge_he_picks(op_client, operator, carlos):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS)
    response = op_client.post(
        action(issue.pk, "aplicar"), {"cobranca": carlos[1].pk, "observacao": "confirmado", "confirmar": "1"}
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    issue.refresh_from_db()
    carlos[1].refresh_from_db()
    assert issue.status == PaymentIssue.Status.RESOLVED and issue.resolved_by == operator
    assert carlos[1].status == Charge.Status.PAID
    payment = issue.payment
    assert payment.charge == carlos[1] and payment.reference == "0999/0042/12345-6:202612040005"
    assert payment.recorded_by == operator
    entry = AuditLog.objects.get(action="payment_issue.apply")
    assert entry.details["charge"] == carlos[1].pk and entry.actor == operator
    # The statement again: the line is already applied, nothing new.
    again = statement_import(path=BANK_A)
    assert again.already_applied == 1 and Payment.objects.filter(charge__in=carlos).count() == 1


def test_an_unmatched_line_is_applied_to_a_charge_typed_by_number(op_client):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(amount=Decimal("1234.56"))
    target = charge_for("Ômega Comércio", "2000.00")
    target.description = "Contrato 77"
    target.save()
    # A typed number first shows the charge it names; nothing is applied yet.
    step = op_client.post(action(issue.pk, "aplicar"), {"cobranca": target.pk, "observacao": "ok"})
    body = step.content.decode()
    assert step.status_code == 200 and 'id="apply-confirm"' in body
    assert "Ômega Comércio" in body and "Contrato 77" in body and "R$ 2.000,00" in body
    assert 'name="confirmar" value="1"' in body and 'name="observacao" value="ok"' in body
    assert Payment.objects.filter(charge=target).count() == 0
    done = op_client.post(action(issue.pk, "aplicar"), {"cobranca": target.pk, "confirmar": "1"}, follow=True)
    target.refresh_from_db()
    assert target.amount_paid == Decimal("1234.56") and target.status == Charge.Status.OPEN
    text = done.content.decode()
    assert "pagamento parcial de R$ 1.234,56 aplicado" in text and "falta R$ 765,44" in text
    assert "quitada" not in text


def test_applying_one_installment_of_three_says_what_is_left(op_client):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(amount=Decimal("1234.56"))
    target = charge_for("Ômega Comércio", "3703.68")
    billing_services.agreement_create(charge=target, installments=3, first_due_date=timezone.localdate())
    done = op_client.post(action(issue.pk, "aplicar"), {"cobranca": target.pk, "confirmar": "1"}, follow=True)
    text = done.content.decode()
    assert "parcela 1 de “" in text and "paga; a cobrança ainda deve R$ 2.469,12" in text
    assert "quitada" not in text


def test_applying_more_than_owed_names_the_excess(op_client):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(amount=Decimal("1234.56"))
    target = charge_for("Ômega Comércio", "1000.00")
    done = op_client.post(action(issue.pk, "aplicar"), {"cobranca": target.pk, "confirmar": "1"}, follow=True)
    assert "o excedente de R$ 234,56 foi para a fila" in done.content.decode()


def test_the_candidate_dialog_names_the_charge_and_what_it_owes(op_client, carlos):
    carlos[1].description = "Plano anual"
    carlos[1].save()
    statement_import(path=BANK_A)
    body = op_client.get(QUEUE).content.decode()
    assert "de Carlos Eduardo Souza — “Plano anual”, em aberto R$ 75,00?" in body


def test_an_unknown_charge_number_is_refused(op_client):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(amount=Decimal("1234.56"))
    response = op_client.post(action(issue.pk, "aplicar"), {"cobranca": 999999}, follow=True)
    assert "Cobrança não encontrada" in response.content.decode()
    assert PaymentIssue.objects.get(pk=issue.pk).status == PaymentIssue.Status.OPEN


def test_dismissing_needs_a_note_and_is_audited(op_client, operator):
    statement_import(path=BANK_A)
    issue = PaymentIssue.objects.get(amount=Decimal("1234.56"))
    response = op_client.post(action(issue.pk, "descartar"), {"observacao": ""}, follow=True)
    assert "Escreva o motivo" in response.content.decode()
    op_client.post(action(issue.pk, "descartar"), {"observacao": "venda no balcão, não é cobrança"})
    issue.refresh_from_db()
    assert issue.status == PaymentIssue.Status.DISMISSED and issue.note == "venda no balcão, não é cobrança"
    assert AuditLog.objects.filter(action="payment_issue.dismiss", actor=operator).count() == 1
    assert op_client.post(action(issue.pk, "resolver")).status_code == 302
    assert (
        PaymentIssue.objects.get(pk=issue.pk).status == PaymentIssue.Status.DISMISSED
    )  # closed stays closed


def test_marking_resolved_closes_any_kind(op_client, operator):
    issue = PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.CLAIM_EXPIRED, key="claim:2", charge=ChargeFactory()
    )
    op_client.post(action(issue.pk, "resolver"), {"observacao": "devedor enviou comprovante"})
    issue.refresh_from_db()
    assert issue.status == PaymentIssue.Status.RESOLVED and issue.resolved_at is not None
    assert AuditLog.objects.filter(action="payment_issue.resolve").count() == 1


def test_the_payer_document_is_masked_for_a_reader_without_full_contact(groups, carlos):
    statement_import(path=BANK_A)
    PaymentIssue.objects.filter(kind=PaymentIssue.Kind.AMBIGUOUS).update(
        details={
            **PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS).details,
            "facts": {
                **PaymentIssue.objects.get(kind=PaymentIssue.Kind.AMBIGUOUS).details["facts"],
                "payer_document": "24681357928",
                "memo": "PIX RECEBIDO CARLOS SOUZA 246.813.579-28",
            },
        }
    )
    staff = User.objects.create_user("vê-tudo", password="x", is_staff=True)
    limited = _user("limitada", OPERATORS)
    limited.user_permissions.clear()
    Group.objects.get(name=OPERATORS).permissions.remove(Permission.objects.get(codename="view_full_contact"))
    http = HttpClient()
    http.force_login(User.objects.get(pk=limited.pk))
    masked = http.get(QUEUE).content.decode()
    assert "24681357928" not in masked and "246.813.579-28" not in masked and "246******28" in masked
    http.force_login(staff)
    assert "24681357928" in http.get(QUEUE).content.decode()


def test_the_nav_badge_is_empty_when_nothing_is_open(op_client):
    badge = op_client.get(reverse("dashboard:payment-issue-count")).content.decode()
    assert "nav-pendencias-count" not in badge and 'id="nav-pendencias"' in badge


def test_the_queue_stays_within_15_queries(op_client, carlos, django_assert_max_num_queries):
    statement_import(path=BANK_A)
    for n in range(30):
        PaymentIssue.objects.create(
            kind=PaymentIssue.Kind.OVERPAYMENT, key=f"o:{n}", charge=ChargeFactory(), amount=Decimal("1.00")
        )
    with django_assert_max_num_queries(15):
        assert op_client.get(QUEUE).status_code == 200
    with django_assert_max_num_queries(15):
        assert op_client.get(QUEUE, {"pagina": 2}).status_code == 200
    with django_assert_max_num_queries(15):
        assert op_client.get(UPLOAD).status_code == 200


def test_the_queue_shows_amounts_in_reais(op_client):
    """Operator test: "Valor pago 890.50 / Excedente 1250.00" instead of R$ 890,50 like the rest."""
    PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.OVERPAYMENT,
        key="over:brl",
        charge=ChargeFactory(),
        amount=Decimal("1250.00"),
        details={"reason": "valor acima do devido", "payment_amount": "890.50", "excess": "1250.00"},
    )
    body = op_client.get(QUEUE).content.decode()
    assert "890.50" not in body and "1250.00" not in body
    assert "R$ 890,50" in body and "R$ 1.250,00" in body


def test_one_open_issue_is_counted_in_the_singular(op_client):
    """Operator test: "1 pendência(s)"."""
    PaymentIssue.objects.create(kind=PaymentIssue.Kind.CLAIM_EXPIRED, key="claim:one", charge=ChargeFactory())
    body = op_client.get(QUEUE).content.decode()
    assert "1 pendência em aberto" in body and "(s)" not in body


def test_a_pix_with_an_unknown_txid_can_be_applied_to_a_charge_from_the_queue(op_client):
    e2eid = "E18236120202612051732ABCDEFGHJK1"
    pix = {"endToEndId": e2eid, "txid": "NAOEHNOSSO", "valor": "75.00", "horario": "2026-12-05T17:32:00Z"}
    issue = PaymentIssue.objects.create(
        key=f"unknown_txid:{e2eid}",
        kind=PaymentIssue.Kind.UNKNOWN_TXID,
        amount=Decimal("75.00"),
        details={"e2eid": e2eid, "txid": "NAOEHNOSSO", "pix": pix},
    )
    page = op_client.get(reverse("dashboard:payment-issues")).content.decode()
    card = page.split(f'id="pendencia-{issue.pk}"', 1)[1].split("</article>", 1)[0]
    assert "Aplicar a uma cobrança" in card and action(issue.pk, "aplicar") in card
    target = charge_for("Ômega Comércio", "75.00")
    done = op_client.post(action(issue.pk, "aplicar"), {"cobranca": target.pk, "confirmar": "1"}, follow=True)
    target.refresh_from_db()
    issue.refresh_from_db()
    assert target.status == Charge.Status.PAID and issue.status == PaymentIssue.Status.RESOLVED
    assert Payment.objects.get().e2eid == e2eid and "quitada" in done.content.decode()
