from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing import services
from billing.models import Agreement, Charge, NegotiationPolicy, PromiseToPay
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db
S = Charge.Status


def test_it_moves_an_open_charge_to_promised_and_stamps_the_change():
    charge = ChargeFactory()
    before = charge.status_changed_at
    services.charge_set_status(charge=charge, status=S.PROMISED)
    charge.refresh_from_db()
    assert charge.status == S.PROMISED
    assert charge.status_changed_at > before


def test_setting_the_same_status_changes_nothing():
    charge = ChargeFactory(status=S.DISPUTED)
    stamp = charge.status_changed_at
    services.charge_set_status(charge=charge, status=S.DISPUTED)
    charge.refresh_from_db()
    assert charge.status_changed_at == stamp


def test_a_paid_charge_cannot_be_promised():
    charge = ChargeFactory(status=S.PAID)
    with pytest.raises(ApplicationError):
        services.charge_set_status(charge=charge, status=S.PROMISED)


def test_an_operator_may_reopen_a_paid_charge_and_paid_at_is_cleared():
    user = get_user_model().objects.create_user("op", password="x")
    charge = ChargeFactory()
    services.charge_mark_paid(charge=charge)
    assert charge.paid_at is not None
    services.charge_set_status(charge=charge, status=S.OPEN, by=user, reason="estorno")
    charge.refresh_from_db()
    assert charge.status == S.OPEN and charge.paid_at is None


def test_marking_paid_keeps_pending_promises_and_fulfils_agreements():
    charge = ChargeFactory(amount=Decimal("300"))
    promise = services.promise_create(charge=charge, promised_date=timezone.localdate())
    services.charge_mark_paid(charge=charge)
    promise.refresh_from_db()
    assert promise.status == PromiseToPay.Status.KEPT
    charge.refresh_from_db()
    assert charge.status == S.PAID


def test_claiming_a_payment_stops_reminders_and_is_idempotent():
    charge = ChargeFactory(status=S.PROMISED)
    services.charge_claim_payment(charge=charge)
    services.charge_claim_payment(charge=charge)
    charge.refresh_from_db()
    assert charge.status == S.PAYMENT_CLAIMED
    assert not charge.accepts_reminders


def test_a_dispute_stops_reminders():
    charge = ChargeFactory()
    services.charge_dispute(charge=charge, reason="não reconheço")
    charge.refresh_from_db()
    assert charge.status == S.DISPUTED and not charge.accepts_reminders


def test_a_promise_schedules_the_follow_up_for_the_morning_after_the_date():
    charge = ChargeFactory()
    promised = dt.date(2099, 3, 10)  # a Tuesday
    promise = services.promise_create(charge=charge, promised_date=promised, amount=Decimal("100"))
    charge.refresh_from_db()
    assert charge.status == S.PROMISED
    local = timezone.localtime(promise.follow_up_at)
    assert (local.date(), local.hour) == (dt.date(2099, 3, 11), 10)
    assert promise.amount == Decimal("100.00")
    assert promise.follow_up_sent_at is None


def test_a_follow_up_that_would_fall_on_a_sunday_moves_to_monday():
    saturday = dt.date(2099, 3, 14)
    assert saturday.weekday() == 5
    assert timezone.localtime(services.promise_follow_up_at(saturday)).date() == dt.date(2099, 3, 16)


def test_a_new_promise_supersedes_the_pending_one():
    charge = ChargeFactory()
    first = services.promise_create(charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=2))
    second = services.promise_create(charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=5))
    first.refresh_from_db()
    assert first.status == PromiseToPay.Status.CANCELLED
    assert second.status == PromiseToPay.Status.PENDING


def test_a_promise_in_the_past_or_above_the_charge_is_refused():
    charge = ChargeFactory(amount=Decimal("100"))
    with pytest.raises(ApplicationError):
        services.promise_create(charge=charge, promised_date=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(ApplicationError):
        services.promise_create(charge=charge, promised_date=timezone.localdate(), amount=Decimal("101"))
    assert not PromiseToPay.objects.exists()


def test_the_policy_defaults_apply_when_no_row_exists_and_the_newest_row_wins():
    assert services.negotiation_policy_current().max_installments == 6
    NegotiationPolicy.objects.create(max_installments=3)
    NegotiationPolicy.objects.create(max_installments=4)
    assert services.negotiation_policy_current().max_installments == 4


def test_agreement_terms_put_the_rounding_cents_in_the_last_installment():
    terms = services.agreement_terms(amount=Decimal("150.50"), installments=3)
    assert terms.installment_amount == Decimal("50.17")
    assert terms.last_installment_amount == Decimal("50.16")
    assert terms.installment_amount * 2 + terms.last_installment_amount == Decimal("150.50")


def test_an_agreement_within_the_policy_is_recorded_and_the_charge_is_negotiating():
    charge = ChargeFactory(amount=Decimal("300"))
    services.promise_create(charge=charge, promised_date=timezone.localdate())
    agreement = services.agreement_create(charge=charge, installments=3, first_due_date=timezone.localdate())
    charge.refresh_from_db()
    assert charge.status == S.NEGOTIATING
    assert (agreement.installments, agreement.installment_amount, agreement.total_amount) == (
        3,
        Decimal("100.00"),
        Decimal("300.00"),
    )
    assert not charge.promises.filter(status=PromiseToPay.Status.PENDING).exists()


def test_a_single_payment_gets_the_discount():
    charge = ChargeFactory(amount=Decimal("200"))
    agreement = services.agreement_create(
        charge=charge, installments=1, discount_percent=Decimal("10"), first_due_date=timezone.localdate()
    )
    assert agreement.total_amount == Decimal("180.00")


@pytest.mark.parametrize(
    ("installments", "discount"),
    [(7, "0"), (5, "0"), (1, "15"), (2, "5")],
    ids=["above-max", "below-minimum-installment", "discount-above-max", "discount-with-installments"],
)
def test_an_agreement_outside_the_policy_is_refused(installments, discount):
    # R$ 200 with a R$ 50 minimum allows at most 4 installments; the default policy caps at 6x and 10%.
    charge = ChargeFactory(amount=Decimal("200"))
    with pytest.raises(ApplicationError):
        services.agreement_create(
            charge=charge,
            installments=installments,
            discount_percent=Decimal(discount),
            first_due_date=timezone.localdate(),
        )
    assert not Agreement.objects.exists()
    charge.refresh_from_db()
    assert charge.status == S.OPEN


def test_opting_out_is_idempotent_and_keeps_the_first_time():
    client = ClientFactory()
    services.client_opt_out(client=client)
    first = client.opted_out_at
    services.client_opt_out(client=client)
    client.refresh_from_db()
    assert client.opted_out_at == first and client.is_suppressed


def test_a_wrong_number_suppresses_the_client():
    client = ClientFactory()
    services.client_mark_wrong_number(client=client)
    client.refresh_from_db()
    assert client.wrong_number and client.is_suppressed
