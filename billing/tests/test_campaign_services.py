"""Campaign lifecycle services, acks, recovery and session pauses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.dispatch import campaigns, services
from billing.models import Campaign, Dispatch, ImportBatch
from billing.tests import dispatch_support as support
from billing.tests.dispatch_support import make_charges, plain_template, start_campaign
from billing.tests.factories import ChargeFactory, DispatchFactory, MessageTemplateFactory
from cobranca.exceptions import ApplicationError

fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture

pytestmark = pytest.mark.django_db
DS = Dispatch.Status
CS = Campaign.Status


def _batch_with(charges):
    batch = ImportBatch.objects.create(filename="x.json", file_format="json")
    for charge in charges:
        charge.import_batch = batch
        charge.save(update_fields=["import_batch"])
    return batch


def test_create_needs_an_audience(sibling_modules):
    with pytest.raises(ApplicationError, match="audiência"):
        services.campaign_create(template=plain_template())


def test_create_refuses_jitter_above_delay(sibling_modules):
    batch = _batch_with(make_charges(1))
    with pytest.raises(ApplicationError, match="variação"):
        services.campaign_create(
            template=plain_template(), import_batch=batch, delay_seconds=1, jitter_seconds=2
        )


def test_create_refuses_a_bad_window(sibling_modules):
    batch = _batch_with(make_charges(1))
    with pytest.raises(ApplicationError, match="Janela"):
        services.campaign_create(template=plain_template(), import_batch=batch, send_window="seg 8-20")


def test_create_uses_the_default_pace_and_session(sibling_modules, settings):
    settings.DISPATCH_DELAY_SECONDS = 30.0
    settings.DISPATCH_JITTER_SECONDS = 10.0
    campaign = services.campaign_create(template=plain_template(), import_batch=_batch_with(make_charges(1)))
    assert (campaign.delay_seconds, campaign.jitter_seconds) == (Decimal("30"), Decimal("10"))
    assert campaign.session_name == settings.WAHA_SESSION_NAME
    assert campaign.status == CS.DRAFT


def test_start_builds_one_dispatch_per_charge_and_sets_the_total(
    sibling_modules, django_capture_on_commit_callbacks
):
    charges = make_charges(3)
    campaign = services.campaign_create(template=plain_template(), import_batch=_batch_with(charges))

    with django_capture_on_commit_callbacks() as callbacks:
        started = services.campaign_start(campaign=campaign)

    assert started.status == CS.RUNNING
    assert started.total == 3
    assert set(Dispatch.objects.filter(campaign=campaign).values_list("charge_id", flat=True)) == {
        c.pk for c in charges
    }
    assert len(callbacks) == 1  # the driver is enqueued once the rows are committed


def test_starting_twice_is_refused_and_builds_nothing_more(sibling_modules):
    campaign = start_campaign(make_charges(2))
    with pytest.raises(ApplicationError) as exc:
        services.campaign_start(campaign=campaign)
    assert exc.value.status_code == 409
    assert Dispatch.objects.filter(campaign=campaign).count() == 2


def test_start_from_a_segment_uses_the_segment_service(sibling_modules, monkeypatch):
    from billing.models import Charge

    wanted = make_charges(2)
    make_charges(1)
    from billing import segments

    monkeypatch.setattr(
        segments, "charges_for_segment", lambda segment: Charge.objects.filter(pk__in=[c.pk for c in wanted])
    )

    campaign = services.campaign_create(template=plain_template(), segment={"statuses": ["open"]})
    started = services.campaign_start(campaign=campaign)

    assert started.total == 2


def test_start_with_compliance_warnings_needs_confirmation(sibling_modules, monkeypatch):
    monkeypatch.setattr(campaigns, "template_compliance_warnings", lambda body: ["ameaça: 'protesto'"])
    campaign = services.campaign_create(template=plain_template(), import_batch=_batch_with(make_charges(1)))

    with pytest.raises(ApplicationError) as exc:
        services.campaign_start(campaign=campaign)
    assert exc.value.extra["warnings"] == ["ameaça: 'protesto'"]
    assert Dispatch.objects.filter(campaign=campaign).count() == 0

    started = services.campaign_start(campaign=campaign, confirm_compliance=True)
    assert started.compliance_confirmed is True
    assert started.status == CS.RUNNING


def test_start_refuses_a_template_with_errors(sibling_modules, monkeypatch):
    monkeypatch.setattr(campaigns, "template_validate", lambda body: ["variável desconhecida: {foo}"])
    campaign = services.campaign_create(template=plain_template(), import_batch=_batch_with(make_charges(1)))

    with pytest.raises(ApplicationError, match="erros"):
        services.campaign_start(campaign=campaign)


def test_start_with_a_future_start_time_is_scheduled(sibling_modules):
    campaign = start_campaign(make_charges(1), starts_at=timezone.now() + dt.timedelta(hours=1))
    assert campaign.status == CS.SCHEDULED
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.campaigns_promote_scheduled() == [("default", 0.0)]
    campaign.refresh_from_db()
    assert campaign.status == CS.RUNNING


def test_pause_resume_and_cancel_follow_the_allowed_transitions(sibling_modules):
    campaign = start_campaign(make_charges(2))
    campaign = services.campaign_pause(campaign=campaign)
    assert campaign.status == CS.PAUSED
    with pytest.raises(ApplicationError):
        services.campaign_pause(campaign=campaign)
    campaign = services.campaign_resume(campaign=campaign)
    assert (campaign.status, campaign.pause_reason) == (CS.RUNNING, "")
    campaign = services.campaign_cancel(campaign=campaign)
    assert campaign.status == CS.CANCELLED
    assert set(Dispatch.objects.filter(campaign=campaign).values_list("status", "reason")) == {
        (DS.SKIPPED, services.REASON_CAMPAIGN_CANCELLED)
    }
    with pytest.raises(ApplicationError):
        services.campaign_resume(campaign=campaign)


def test_session_pause_and_resume_only_touch_automatic_pauses(sibling_modules):
    auto = start_campaign(make_charges(1))
    manual = start_campaign(make_charges(1))
    services.campaign_pause(campaign=manual)

    assert services.campaigns_pause_for_session(session_name="default", reason="Sessão falhou.") == 1
    assert services.campaigns_pause_for_session(session_name="default") == 0  # idempotent
    assert services.campaigns_resume_for_session(session_name="default") == 1

    auto.refresh_from_db()
    manual.refresh_from_db()
    assert auto.status == CS.RUNNING
    assert manual.status == CS.PAUSED


def test_a_timelock_pause_resumes_once_the_session_says_the_lock_expired(sibling_modules):
    from whatsapp.models import WahaSession

    campaign = start_campaign(make_charges(1))
    services.campaigns_pause_for_session(session_name="default", timelock=True)
    session = WahaSession.objects.create(
        name="default", reachout_locked_until=timezone.now() + dt.timedelta(hours=1)
    )
    assert services.campaigns_resume_for_session(session_name="default") == 0
    session.reachout_locked_until = timezone.now() - dt.timedelta(minutes=1)
    session.save()
    assert services.campaigns_resume_for_session(session_name="default") == 1
    campaign.refresh_from_db()
    assert campaign.status == CS.RUNNING


# --- acks ---------------------------------------------------------------------------------------------------


def _sent_dispatch(waha_id="true_5511@c.us_ABC"):
    return DispatchFactory(status=DS.SENT, waha_message_id=waha_id, sent_at=timezone.now())


def test_acks_move_a_dispatch_forward():
    dispatch = _sent_dispatch()
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=2) is True
    dispatch.refresh_from_db()
    assert dispatch.status == DS.DELIVERED and dispatch.delivered_at
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=3) is True
    dispatch.refresh_from_db()
    assert dispatch.status == DS.READ and dispatch.read_at


def test_late_or_repeated_acks_never_move_a_dispatch_back():
    dispatch = _sent_dispatch()
    services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=3)
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=2) is False
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=1) is False
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=3) is False
    dispatch.refresh_from_db()
    assert dispatch.status == DS.READ
    assert dispatch.delivered_at is not None


def test_an_error_ack_fails_a_sent_dispatch_but_not_a_delivered_one():
    sent = _sent_dispatch("true_a@c.us_1")
    delivered = _sent_dispatch("true_b@c.us_2")
    services.dispatch_record_ack(waha_message_id=delivered.waha_message_id, ack=2)

    assert services.dispatch_record_ack(waha_message_id=sent.waha_message_id, ack=-1) is True
    assert services.dispatch_record_ack(waha_message_id=delivered.waha_message_id, ack=-1) is False
    sent.refresh_from_db()
    delivered.refresh_from_db()
    assert (sent.status, sent.reason) == (DS.FAILED, services.REASON_ACK_ERROR)
    assert delivered.status == DS.DELIVERED


def test_an_ack_for_an_unknown_dispatch_proves_it_was_sent():
    dispatch = DispatchFactory(status=DS.UNKNOWN, waha_message_id="true_c@c.us_3")
    assert services.dispatch_record_ack(waha_message_id="true_c@c.us_3", ack=1) is True
    dispatch.refresh_from_db()
    assert dispatch.status == DS.SENT and dispatch.sent_at


def test_acks_for_unknown_ids_or_pending_value_change_nothing():
    assert services.dispatch_record_ack(waha_message_id="nope", ack=3) is False
    dispatch = _sent_dispatch()
    assert services.dispatch_record_ack(waha_message_id=dispatch.waha_message_id, ack=0) is False


# --- recovery and resend ------------------------------------------------------------------------------------


def test_recovery_marks_only_old_sending_rows_unknown(settings):
    settings.DISPATCH_STALE_SECONDS = 60
    old = DispatchFactory(status=DS.SENDING, claimed_at=timezone.now() - dt.timedelta(seconds=120))
    fresh = DispatchFactory(status=DS.SENDING, claimed_at=timezone.now())

    assert services.dispatch_recover_stale() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, old.reason) == (DS.UNKNOWN, services.REASON_UNKNOWN_STALE)
    assert fresh.status == DS.SENDING


def test_the_default_stale_threshold_outlives_a_slow_send(settings):
    settings.WAHA_CONNECT_TIMEOUT = 5
    settings.WAHA_READ_TIMEOUT = 30
    assert services.stale_after_seconds() > 2 * 35


def test_an_operator_can_resend_an_unknown_dispatch_and_the_campaign_reopens(sibling_modules, fake_waha):
    from billing.tests.dispatch_support import drive

    campaign = start_campaign(make_charges(1))
    Dispatch.objects.filter(campaign=campaign).update(status=DS.UNKNOWN, reason="x")
    services.campaigns_complete_finished()
    campaign.refresh_from_db()
    assert campaign.status == CS.COMPLETED

    dispatch = services.dispatch_resend_unknown(dispatch=Dispatch.objects.get(campaign=campaign))
    assert dispatch.status == DS.PENDING
    campaign.refresh_from_db()
    assert campaign.status == CS.RUNNING
    drive()
    assert len(fake_waha.sent) == 1


def test_only_unknown_dispatches_can_be_resent():
    dispatch = _sent_dispatch()
    with pytest.raises(ApplicationError) as exc:
        services.dispatch_resend_unknown(dispatch=dispatch)
    assert exc.value.status_code == 409


def test_the_tick_recovers_promotes_and_kicks_drivers(sibling_modules, django_capture_on_commit_callbacks):
    start_campaign(make_charges(1))
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.dispatch_tick_run()
    assert result["sessions"] == ["default"]
    assert len(callbacks) >= 1


def test_templates_exist_for_factories():
    assert MessageTemplateFactory(name="abc").name == "abc"
    assert ChargeFactory().pk


NIGHT = dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)  # Monday 23:00 in São Paulo
MORNING = dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC)  # Monday 10:00 in São Paulo


def test_a_campaign_without_window_started_at_night_needs_an_explicit_confirmation(
    sibling_modules, monkeypatch
):
    from cobranca import clock

    monkeypatch.setattr(clock, "now", lambda: NIGHT)
    anytime = services.campaign_create(
        template=plain_template(), import_batch=_batch_with(make_charges(1)), send_window="always"
    )
    with pytest.raises(ApplicationError, match="fora do horário usual") as exc:
        services.campaign_start(campaign=anytime)
    assert exc.value.extra["confirm_off_hours"] is False
    assert Dispatch.objects.filter(campaign=anytime).count() == 0
    assert services.campaign_start(campaign=anytime, confirm_off_hours=True).status == CS.RUNNING
    # A window keeps the old contract (it waits for its opening); by day no window needs no confirmation.
    windowed = services.campaign_create(
        template=plain_template(),
        import_batch=_batch_with(make_charges(1)),
        send_window="mon-fri 08:00-20:00",
    )
    assert services.campaign_start(campaign=windowed).status == CS.RUNNING
    monkeypatch.setattr(clock, "now", lambda: MORNING)
    by_day = services.campaign_create(
        template=plain_template(), import_batch=_batch_with(make_charges(1)), send_window="always"
    )
    assert services.campaign_start(campaign=by_day).status == CS.RUNNING


def test_the_dry_run_warns_of_a_campaign_without_window_at_night(sibling_modules, monkeypatch):
    from billing.dispatch.selectors import campaign_validate
    from cobranca import clock

    batch = _batch_with(make_charges(1))
    monkeypatch.setattr(clock, "now", lambda: NIGHT)
    night = campaign_validate(template=plain_template(), import_batch=batch, send_window="always")
    assert any("fora do horário usual" in w and "CDC (art. 42)" in w for w in night.warnings)
    monkeypatch.setattr(clock, "now", lambda: MORNING)
    day = campaign_validate(template=plain_template(), import_batch=batch, send_window="always")
    assert not any("fora do horário usual" in w for w in day.warnings)
