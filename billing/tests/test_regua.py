"""The régua de cobrança: default régua, planner, stop conditions, shifts, bundling, commands, idempotency."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Agreement, Campaign, Charge, Dispatch, Installment, PromiseToPay
from billing.payments.lifecycle import promises_mark_broken
from billing.payments.schedule import plan_installments
from billing.regua import reasons
from billing.regua.models import Regua, ReguaEntry
from billing.regua.run import regua_plan_run
from billing.tests import dispatch_support as support
from billing.tests.factories import ChargeFactory, ClientFactory

fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture

pytestmark = pytest.mark.django_db
ES = ReguaEntry.Status

# A plain Wednesday, no holiday around it.
WED = dt.date(2026, 12, 9)


def at(day: dt.date, hhmm: str = "07:00") -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def regua():
    regua = Regua.objects.get(slug="default")
    call_command("regua_enable", "default", stdout=io.StringIO())
    regua.refresh_from_db()
    return regua


def charge_due(day: dt.date, **kwargs) -> Charge:
    return ChargeFactory(due_date=day, **kwargs)


def entries(**filters):
    return list(ReguaEntry.objects.filter(**filters).select_related("step", "charge"))


def preview(day: dt.date) -> list[dict]:
    out = io.StringIO()
    call_command("regua_preview", "--date", day.isoformat(), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --- the default régua --------------------------------------------------------------------------------------


def test_the_default_regua_is_installed_off_with_its_six_due_steps():
    regua = Regua.objects.get(slug="default")
    assert regua.status == Regua.Status.OFF
    assert regua.is_default
    due = list(regua.steps.filter(kind="due").order_by("offset_days").values_list("offset_days", flat=True))
    assert due == [-3, 0, 1, 7, 15, 30]
    assert regua.steps.filter(kind="promise", offset_days=1).exists()
    assert sorted(regua.steps.filter(kind="installment").values_list("offset_days", flat=True)) == [-1, 0, 1]


def test_every_starter_template_names_the_creditor_and_has_no_compliance_warning():
    from billing.compliance import template_compliance_warnings
    from billing.templating import template_validate

    regua = Regua.objects.get(slug="default")
    for step in regua.steps.select_related("template"):
        body = step.template.body
        assert template_validate(body) == [], step.code
        assert template_compliance_warnings(body) == [], step.code
        assert "{creditor_name}" in body and "{charges_list}" in body


def test_regua_enable_turns_the_default_regua_on():
    call_command("regua_enable", "default", stdout=io.StringIO())
    assert Regua.objects.get(slug="default").status == Regua.Status.ACTIVE


def test_an_off_regua_plans_nothing():
    charge_due(WED)
    assert regua_plan_run(now=at(WED))["planned"] == 0
    assert not ReguaEntry.objects.exists()


# --- planning -----------------------------------------------------------------------------------------------


def test_each_step_plans_its_charge_on_its_day(regua):
    charges = {off: charge_due(WED - dt.timedelta(days=off)) for off in (-3, 0, 1, 7, 15, 30)}
    other = charge_due(WED - dt.timedelta(days=2))  # D+2: no step

    summary = regua_plan_run(now=at(WED))

    assert summary["planned"] == 6
    planned = {e.charge_id: e.step.offset_days for e in entries(status=ES.PLANNED)}
    assert planned == {c.pk: off for off, c in charges.items()}
    assert other.pk not in planned
    campaign = Campaign.objects.get(regua=regua, regua_day=WED)
    assert campaign.status == Campaign.Status.RUNNING
    assert Dispatch.objects.filter(campaign=campaign).count() == 6
    # Planned at 07:00, the messages wait for the window to open at 08:00.
    assert set(Dispatch.objects.values_list("next_attempt_at", flat=True)) == {at(WED, "08:00")}


def test_the_planner_run_twice_plans_nothing_twice(regua):
    for off in (-3, 0, 7):
        charge_due(WED - dt.timedelta(days=off))
    first = regua_plan_run(now=at(WED))
    second = regua_plan_run(now=at(WED, "09:30"))

    assert first["planned"] == 3
    assert second["planned"] == 0
    assert ReguaEntry.objects.count() == 3
    assert Dispatch.objects.count() == 3
    assert Campaign.objects.filter(regua=regua).count() == 1


def test_preview_prints_the_contract_lines_and_writes_nothing(regua):
    charge = charge_due(WED + dt.timedelta(days=3), external_id="FAT-1")
    paid = charge_due(WED, external_id="FAT-2", status=Charge.Status.PAID)

    lines = preview(WED)

    assert {
        "charge": "FAT-1",
        "client": charge.client_id,
        "step": -3,
        "template": "regua_d_menos_3",
        "at": at(WED, "08:00").isoformat(),
    } in lines
    assert {"skipped": "FAT-2", "step": 0, "reason": "paid"} in lines
    assert paid.pk and not ReguaEntry.objects.exists() and not Dispatch.objects.exists()


def test_regua_run_command_plans_the_day_of_now(regua):
    charge_due(WED, external_id="FAT-9")
    out = io.StringIO()
    call_command("regua_run", "--now", f"{WED.isoformat()}T07:00", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["day"] == WED.isoformat()
    assert summary["planned"] == 1
    assert ReguaEntry.objects.get().charge.external_id == "FAT-9"


def test_a_charge_follows_the_regua_of_its_import_or_its_own(regua):
    from billing.models import ImportBatch
    from billing.regua.models import ReguaStep
    from billing.regua.services import regua_assign

    school = Regua.objects.create(name="Escola", slug="escola", status=Regua.Status.ACTIVE)
    ReguaStep.objects.create(
        regua=school, offset_days=2, label="D+2", template=regua.steps.get(kind="due", offset_days=1).template
    )
    batch = ImportBatch.objects.create(filename="escola.csv", file_format="csv")
    in_school = charge_due(WED - dt.timedelta(days=2), import_batch=batch)
    default_only = charge_due(WED - dt.timedelta(days=2))  # D+2: the default régua has no such step
    regua_assign(regua=school, import_batch=batch)

    regua_plan_run(now=at(WED))

    planned = entries(status=ES.PLANNED)
    assert [(e.charge_id, e.regua_id) for e in planned] == [(in_school.pk, school.pk)]
    assert default_only.pk not in {e.charge_id for e in planned}


# --- stop conditions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Charge.Status.PAID, reasons.PAID),
        (Charge.Status.CANCELLED, reasons.CANCELLED),
        (Charge.Status.DISPUTED, reasons.DISPUTED),
        (Charge.Status.PAYMENT_CLAIMED, reasons.PAYMENT_CLAIMED),
    ],
)
def test_a_closed_or_contested_charge_is_skipped_with_its_reason(regua, status, reason):
    charge = charge_due(WED, status=status)
    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.reason) == (ES.SKIPPED, reason)
    assert not Dispatch.objects.exists()


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"opted_out_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, reasons.OPTED_OUT),
        ({"wrong_number": True}, reasons.WRONG_NUMBER),
        ({"not_on_whatsapp": True}, reasons.NOT_ON_WHATSAPP),
        ({"forgotten_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, reasons.FORGOTTEN),
    ],
)
def test_a_suppressed_debtor_is_skipped_with_its_reason(regua, flags, reason):
    charge = charge_due(WED, client=ClientFactory(**flags))
    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.reason) == (ES.SKIPPED, reason)
    assert not Dispatch.objects.exists()


def test_a_number_on_the_suppression_list_is_skipped_as_suppressed(regua):
    from billing.models import SuppressedPhone
    from billing.suppression import phone_hash

    charge = charge_due(WED)
    digest = phone_hash(charge.client.phone)
    SuppressedPhone.objects.create(phone_hash=digest, number_hash=digest, reason="opt_out")
    lines = preview(WED)
    assert lines == [{"skipped": charge.external_id, "step": 0, "reason": reasons.SUPPRESSED}]
    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.reason) == (ES.SKIPPED, reasons.SUPPRESSED)
    assert not Dispatch.objects.exists()


def test_a_human_conversation_defers_the_reminder_to_the_next_day(regua):
    from conversations.models import Conversation

    charge = charge_due(WED - dt.timedelta(days=1))  # D+1 today
    conversation = Conversation.objects.create(
        client=charge.client, chat_id="5511900000001@c.us", state=Conversation.State.HUMAN
    )

    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.reason) == (ES.DEFERRED, reasons.HUMAN_CONVERSATION)
    assert entry.retry_on == WED + dt.timedelta(days=1)
    assert not Dispatch.objects.exists()

    # Still talking to an operator the next day: deferred again. Back with the bot: sent.
    regua_plan_run(now=at(WED + dt.timedelta(days=1)))
    entry.refresh_from_db()
    assert entry.status == ES.DEFERRED
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.BOT)
    regua_plan_run(now=at(WED + dt.timedelta(days=2)))
    entry.refresh_from_db()
    assert entry.status == ES.PLANNED
    assert entry.dispatch is not None and entry.dispatch.charge_id == charge.pk
    assert ReguaEntry.objects.count() == 1


def test_a_promise_stops_the_steps_until_the_day_after_then_the_promise_step_goes(regua):
    charge = charge_due(WED - dt.timedelta(days=7), status=Charge.Status.PROMISED)  # D+7 today
    promise = PromiseToPay.objects.create(charge=charge, promised_date=WED + dt.timedelta(days=1))

    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.reason) == (ES.SKIPPED, reasons.PROMISE)

    # The day after the promised date: the "promessa vencida" step, and the chatbot's follow-up stands down.
    regua_plan_run(now=at(WED + dt.timedelta(days=2)))
    step_entry = ReguaEntry.objects.get(charge=charge, step__kind="promise")
    assert step_entry.status == ES.PLANNED
    assert step_entry.ref_date == promise.promised_date
    promise.refresh_from_db()
    assert promise.follow_up_sent_at is not None


def test_a_broken_promise_keeps_its_promise_step(regua):
    """The lifecycle marks the promise broken (charge back to open) before the day's plan: P+1 still goes."""
    charge = charge_due(WED - dt.timedelta(days=7), status=Charge.Status.PROMISED)
    promise = PromiseToPay.objects.create(charge=charge, promised_date=WED + dt.timedelta(days=1))
    assert promises_mark_broken(today=WED + dt.timedelta(days=2)) == [promise.pk]
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN

    regua_plan_run(now=at(WED + dt.timedelta(days=2)))

    step_entry = ReguaEntry.objects.get(charge=charge, step__kind="promise")
    assert step_entry.status == ES.PLANNED and step_entry.ref_date == promise.promised_date
    promise.refresh_from_db()
    assert promise.follow_up_sent_at is not None


def _agreement(charge, first_due_date):
    agreement = Agreement.objects.create(
        charge=charge,
        installments=3,
        installment_amount=Decimal("50.00"),
        total_amount=Decimal("150.00"),
        first_due_date=first_due_date,
    )
    for p in plan_installments(amount=Decimal("150.00"), installments=3, first_due_date=first_due_date):
        Installment.objects.create(agreement=agreement, number=p.number, due_date=p.due_date, amount=p.amount)
    return agreement


def test_an_active_agreement_replaces_the_due_steps_with_installment_reminders(regua):
    charge = charge_due(WED - dt.timedelta(days=7), status=Charge.Status.NEGOTIATING)
    due_tomorrow = WED + dt.timedelta(days=1)
    _agreement(charge, due_tomorrow)

    regua_plan_run(now=at(WED))

    by_kind = {e.step.kind: e for e in entries(charge=charge)}
    assert (by_kind["due"].status, by_kind["due"].reason) == (ES.SKIPPED, reasons.AGREEMENT)
    installment = by_kind["installment"]
    assert installment.status == ES.PLANNED
    assert (installment.step.offset_days, installment.ref_date, installment.installment) == (
        -1,
        due_tomorrow,
        1,
    )
    # A month later the second installment (due Sunday 10/01) gets its own D-1 on Saturday.
    regua_plan_run(now=at(dt.date(2027, 1, 9)))
    second = ReguaEntry.objects.get(charge=charge, installment=2)
    assert (second.status, second.step.offset_days, second.ref_date) == (ES.PLANNED, -1, dt.date(2027, 1, 10))


def test_a_paid_installment_gets_no_reminder(regua):
    charge = charge_due(WED - dt.timedelta(days=7), status=Charge.Status.NEGOTIATING)
    agreement = _agreement(charge, WED + dt.timedelta(days=1))
    agreement.schedule.filter(number=1).update(status=Installment.Status.PAID, amount_paid=Decimal("50.00"))

    regua_plan_run(now=at(WED))

    assert not ReguaEntry.objects.filter(charge=charge, installment=1).exists()


# --- windows and holidays -----------------------------------------------------------------------------------


def test_a_step_on_a_sunday_moves_to_monday(regua):
    sunday = dt.date(2026, 12, 13)
    charge = charge_due(sunday - dt.timedelta(days=7))  # D+7 on Sunday
    regua_plan_run(now=at(sunday))
    assert not ReguaEntry.objects.exists()

    regua_plan_run(now=at(sunday + dt.timedelta(days=1)))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.step.offset_days, entry.day) == (ES.PLANNED, 7, sunday + dt.timedelta(days=1))


def test_a_step_on_a_national_holiday_moves_to_the_next_open_day(regua):
    tiradentes = dt.date(2027, 4, 21)  # Wednesday
    charge = charge_due(tiradentes - dt.timedelta(days=7))  # D+7 on the holiday
    assert preview(tiradentes) == []
    regua_plan_run(now=at(tiradentes))
    assert not ReguaEntry.objects.exists()

    regua_plan_run(now=at(tiradentes + dt.timedelta(days=1)))
    entry = ReguaEntry.objects.get(charge=charge)
    assert (entry.status, entry.step.offset_days, entry.day) == (ES.PLANNED, 7, dt.date(2027, 4, 22))


def test_a_step_shifted_onto_a_later_step_of_the_same_charge_is_superseded(regua):
    christmas = dt.date(2026, 12, 25)  # Friday; Saturday the 26th opens 08:00-14:00
    charge = charge_due(christmas)  # D0 on Christmas moves to Saturday, where D+1 already is
    regua_plan_run(now=at(dt.date(2026, 12, 26)))
    by_offset = {e.step.offset_days: e for e in entries(charge=charge)}
    assert (by_offset[1].status, by_offset[1].day) == (ES.PLANNED, dt.date(2026, 12, 26))
    assert (by_offset[0].status, by_offset[0].reason) == (ES.SKIPPED, reasons.SUPERSEDED)
    assert Dispatch.objects.count() == 1


def test_a_before_due_step_that_would_land_on_the_due_date_is_dropped(regua):
    # Due Monday 2026-11-02 (Finados, a holiday) → D-3 is Friday 30/10: sent. Due Tuesday 03/11 → D-1 would be
    # the holiday → Wednesday... the default régua has D-3: due Wednesday 04/11 with D-3 on Sunday 01/11 →
    # Monday is Finados → Tuesday 03/11, still before the due date: sent.
    due_wed = charge_due(dt.date(2026, 11, 4))
    regua_plan_run(now=at(dt.date(2026, 11, 3)))
    assert ReguaEntry.objects.get(charge=due_wed).status == ES.PLANNED


def test_the_friday_before_carnival_and_the_days_after_it():
    call_command("regua_enable", "default", stdout=io.StringIO())
    friday = dt.date(2027, 2, 5)  # Carnival: Monday 8 and Tuesday 9; Ash Wednesday 10 is open
    on_friday = charge_due(friday)  # D0 on Friday
    on_monday = charge_due(dt.date(2027, 2, 8))  # D0 on Carnival Monday → Wednesday
    due_ash_wednesday = charge_due(dt.date(2027, 2, 10))  # D-3 on Sunday → Wednesday = due date → dropped

    regua_plan_run(now=at(friday))
    planned = {(e.charge_id, e.step.offset_days) for e in entries(status=ES.PLANNED)}
    assert planned == {(on_friday.pk, 0), (on_monday.pk, -3)}
    for closed in (dt.date(2027, 2, 7), dt.date(2027, 2, 8), dt.date(2027, 2, 9)):
        regua_plan_run(now=at(closed))
    assert ReguaEntry.objects.count() == 2

    wednesday = dt.date(2027, 2, 10)
    regua_plan_run(now=at(wednesday))
    # Monday's D0 and Tuesday's D+1 both land on Wednesday: the later step goes, once.
    monday = {e.step.offset_days: e for e in entries(charge=on_monday, day=wednesday)}
    assert (monday[1].status, monday[0].status, monday[0].reason) == (
        ES.PLANNED,
        ES.SKIPPED,
        reasons.SUPERSEDED,
    )
    dropped = ReguaEntry.objects.get(charge=due_ash_wednesday, step__offset_days=-3)
    assert (dropped.status, dropped.reason) == (ES.SKIPPED, reasons.BEFORE_DUE_PASSED)
    # Its D0 is today: that one goes.
    assert ReguaEntry.objects.get(charge=due_ash_wednesday, step__offset_days=0).status == ES.PLANNED


# --- one message per debtor per day -------------------------------------------------------------------------


def test_a_debtor_with_three_charges_due_for_steps_gets_one_message_listing_them(regua, fake_waha):
    Regua.objects.filter(pk=regua.pk).update(send_window="always", delay_seconds=0, jitter_seconds=0)
    today = timezone.localdate()
    client = ClientFactory()
    ChargeFactory(client=client, due_date=today + dt.timedelta(days=3), description="Mensalidade março")
    ChargeFactory(client=client, due_date=today, description="Mensalidade fevereiro")
    ChargeFactory(client=client, due_date=today - dt.timedelta(days=7), description="Mensalidade janeiro")

    regua_plan_run()
    assert Dispatch.objects.count() == 1
    assert ReguaEntry.objects.filter(status=ES.PLANNED, dispatch__isnull=False).count() == 3

    support.drive()

    assert len(fake_waha.sent) == 1
    text = fake_waha.sent[0]["text"]
    for description in ("Mensalidade março", "Mensalidade fevereiro", "Mensalidade janeiro"):
        assert description in text
    assert "venceu em" in text and "vence hoje" in text and "vence em" in text
    # The step furthest along (D+7) chose the template.
    assert "Consta em aberto" in text
    assert Dispatch.objects.get().status == Dispatch.Status.SENT


def test_a_charge_paid_after_planning_is_left_out_of_the_message(regua, fake_waha):
    Regua.objects.filter(pk=regua.pk).update(send_window="always", delay_seconds=0, jitter_seconds=0)
    today = timezone.localdate()
    client = ClientFactory()
    ChargeFactory(client=client, due_date=today, description="Primeira")
    second = ChargeFactory(client=client, due_date=today - dt.timedelta(days=1), description="Segunda")
    regua_plan_run()
    Charge.objects.filter(pk=second.pk).update(status=Charge.Status.PAID)

    support.drive()

    assert len(fake_waha.sent) == 1
    assert "Primeira" in fake_waha.sent[0]["text"] and "Segunda" not in fake_waha.sent[0]["text"]


def test_import_clients_with_a_regua_makes_the_imported_charges_follow_it(tmp_path):
    from billing.models import ImportBatch
    from billing.regua.models import ReguaStep

    school = Regua.objects.create(name="Escola", slug="escola", status=Regua.Status.ACTIVE)
    template = Regua.objects.get(slug="default").steps.get(kind="due", offset_days=0).template
    ReguaStep.objects.create(regua=school, offset_days=0, label="D0", template=template)
    path = tmp_path / "clientes.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "ESC-1",
                    "name": "Ana",
                    "phone": "+5511987650001",
                    "amount": "100.00",
                    "due_date": "2026-12-09",
                }
            ]
        ),
        encoding="utf-8",
    )
    call_command("import_clients", str(path), "--regua", "escola", "--no-progress", stdout=io.StringIO())

    assert ImportBatch.objects.get().regua == school
    regua_plan_run(now=at(WED))
    entry = ReguaEntry.objects.get()
    assert (entry.regua, entry.charge.external_id, entry.status) == (school, "ESC-1", ES.PLANNED)


def test_import_clients_with_an_unknown_regua_stops_before_importing(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "clientes.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(CommandError, match="Régua não encontrada"):
        call_command("import_clients", str(path), "--regua", "nenhuma", "--no-progress", stdout=io.StringIO())
    assert not Charge.objects.exists()


def test_setup_schedules_creates_the_daily_regua_plan_at_the_configured_time(settings):
    from django_q.models import Schedule

    settings.REGUA_PLAN_AT = "06:30"
    call_command("setup_schedules", stdout=io.StringIO())
    call_command("setup_schedules", stdout=io.StringIO())
    schedule = Schedule.objects.get(name="regua-plan")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "billing.tasks.regua_plan_task",
        Schedule.DAILY,
        -1,
    )
    assert timezone.localtime(schedule.next_run).strftime("%H:%M") == "06:30"

    settings.REGUA_PLAN_AT = "07:15"  # changing the setting moves the next run
    call_command("setup_schedules", stdout=io.StringIO())
    assert timezone.localtime(Schedule.objects.get(name="regua-plan").next_run).strftime("%H:%M") == "07:15"


def test_the_regua_plan_task_plans_today(regua):
    from billing.tasks import regua_plan_task

    Regua.objects.filter(pk=regua.pk).update(send_window="always", skip_carnival=False)
    ChargeFactory(due_date=timezone.localdate())
    summary = regua_plan_task()
    assert (summary["day"], summary["planned"]) == (timezone.localdate().isoformat(), 1)
