"""The driver against a fake WAHA client: sends, skip rules, caps, retries, failures, session pauses."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from billing.dispatch import services
from billing.dispatch.driver import dispatch_drive
from billing.models import Campaign, Charge, Client, Dispatch
from billing.tests import dispatch_support as support
from billing.tests.dispatch_support import drive, make_charges, start_campaign, waha_error
from billing.tests.factories import ChargeFactory, ClientFactory

fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture

pytestmark = pytest.mark.django_db
DS = Dispatch.Status


def test_it_sends_every_dispatch_once_and_completes_the_campaign(fake_waha):
    campaign = start_campaign(make_charges(3))

    stats = drive()

    assert stats.sent == 3
    assert len(fake_waha.sent) == 3
    assert len({m["chat_id"] for m in fake_waha.sent}) == 3
    rows = list(Dispatch.objects.filter(campaign=campaign))
    assert {d.status for d in rows} == {DS.SENT}
    assert all(d.waha_message_id and d.sent_at and d.body.startswith("Olá") for d in rows)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.finished_at is not None


def test_a_second_run_sends_nothing_more(fake_waha):
    start_campaign(make_charges(2))
    drive()
    drive()
    assert len(fake_waha.sent) == 2


def test_sent_campaign_messages_are_recorded_in_the_conversation(fake_waha):
    from conversations.models import Message

    campaign = start_campaign(make_charges(1))
    drive()

    dispatch = Dispatch.objects.get(campaign=campaign)
    message = Message.objects.get(waha_id=dispatch.waha_message_id)
    assert message.author == Message.Author.CAMPAIGN
    assert message.direction == Message.Direction.OUT
    assert message.dispatch_id == dispatch.pk
    assert message.conversation.client_id == dispatch.client_id


@pytest.mark.parametrize("delay", ["0", "0.05"], ids=["batched", "paced"])
def test_early_acks_reach_the_dispatch_even_when_the_conversation_write_fails(fake_waha, monkeypatch, delay):
    from loguru import logger

    from conversations import services as conversations
    from conversations.models import Message
    from whatsapp.models import WebhookEvent

    client = ClientFactory(phone="+5511977776666", chat_id="5511977776666@c.us")
    campaign = start_campaign([ChargeFactory(client=client)], delay=delay)
    # WAHA's DEVICE ack for the id the fake will return, stored before the driver stored that id.
    early_id = "true_5511977776666@c.us_FAKE000001"
    WebhookEvent.objects.create(
        event_id="evt_early_ack",
        event="message.ack",
        payload_id=early_id,
        payload={"event": "message.ack", "payload": {"id": early_id, "ack": 2}},
    )

    def broken(**kwargs):
        raise RuntimeError("conversation write failed")

    monkeypatch.setattr(conversations, "messages_record_outbound_bulk", broken)
    lines: list[str] = []
    handler = logger.add(lambda message: lines.append(str(message)), level="ERROR")
    try:
        stats = drive()
    finally:
        logger.remove(handler)

    assert stats.sent == 1
    dispatch = Dispatch.objects.get(campaign=campaign)
    assert dispatch.waha_message_id == early_id
    assert dispatch.status == DS.DELIVERED
    assert dispatch.delivered_at is not None
    assert not Message.objects.exists()
    assert any("messages_sent_receiver_failed" in line for line in lines)


def test_it_resolves_the_chat_id_once_per_client_and_stores_it(fake_waha, settings):
    settings.DISPATCH_PER_DEBTOR_DAILY_CAP = 5
    client = ClientFactory(phone="+5511988887777")
    start_campaign([ChargeFactory(client=client), ChargeFactory(client=client)])

    drive()

    assert fake_waha.checks == ["+5511988887777"]
    assert [m["chat_id"] for m in fake_waha.sent] == ["5511988887777@c.us"] * 2
    client.refresh_from_db()
    assert client.chat_id == "5511988887777@c.us"
    assert client.whatsapp_checked_at is not None


def test_a_number_without_whatsapp_is_skipped_and_flagged(fake_waha):
    charge = ChargeFactory()
    fake_waha.unknown_phones.add(charge.client.phone)
    start_campaign([charge])

    drive()

    dispatch = Dispatch.objects.get(charge=charge)
    assert (dispatch.status, dispatch.reason) == (DS.SKIPPED, services.REASON_NOT_ON_WHATSAPP)
    charge.client.refresh_from_db()
    assert charge.client.not_on_whatsapp is True
    assert fake_waha.sent == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"opted_out_at": "now"}, services.REASON_OPTED_OUT),
        ({"wrong_number": True}, services.REASON_WRONG_NUMBER),
        ({"not_on_whatsapp": True}, services.REASON_NOT_ON_WHATSAPP),
        ({"forgotten_at": "now"}, services.REASON_FORGOTTEN),
    ],
)
def test_suppressed_clients_are_skipped_with_the_reason(fake_waha, change, reason):
    charge = ChargeFactory()
    campaign = start_campaign([charge])
    values = {k: (timezone.now() if v == "now" else v) for k, v in change.items()}
    Client.objects.filter(pk=charge.client_id).update(**values)

    drive()

    dispatch = Dispatch.objects.get(campaign=campaign)
    assert (dispatch.status, dispatch.reason) == (DS.SKIPPED, reason)
    assert fake_waha.sent == []


@pytest.mark.parametrize(
    "status",
    [Charge.Status.PAID, Charge.Status.CANCELLED, Charge.Status.DISPUTED, Charge.Status.PAYMENT_CLAIMED],
)
def test_charges_that_take_no_reminders_are_skipped_with_the_reason(fake_waha, status):
    charge = ChargeFactory()
    start_campaign([charge])
    Charge.objects.filter(pk=charge.pk).update(status=status)

    drive()

    dispatch = Dispatch.objects.get(charge=charge)
    assert (dispatch.status, dispatch.reason) == (DS.SKIPPED, services.REASON_CHARGE[status])
    assert fake_waha.sent == []


def test_the_per_debtor_cap_makes_the_second_message_wait_for_the_next_day(fake_waha):
    client = ClientFactory()
    first, second = ChargeFactory(client=client), ChargeFactory(client=client)
    campaign = start_campaign([first, second])

    drive()

    assert len(fake_waha.sent) == 1
    waiting = Dispatch.objects.get(campaign=campaign, status=DS.PENDING)
    assert waiting.reason == services.REASON_DEBTOR_CAP
    assert waiting.next_attempt_at == services.next_day_start()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_the_per_debtor_cap_counts_other_campaigns(fake_waha):
    client = ClientFactory()
    start_campaign([ChargeFactory(client=client)])
    drive()
    other = start_campaign([ChargeFactory(client=client)])

    drive()

    assert len(fake_waha.sent) == 1
    assert Dispatch.objects.get(campaign=other).status == DS.PENDING


def test_a_transient_error_retries_with_backoff(fake_waha):
    fake_waha.errors = [waha_error("server_error", status=500)]
    charge = ChargeFactory()
    start_campaign([charge])
    before = timezone.now()

    drive(budget=0.5)

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.PENDING
    assert dispatch.attempts == 1
    assert "server_error" in dispatch.reason
    assert dispatch.next_attempt_at >= before + dt.timedelta(seconds=29)
    assert fake_waha.sent == []


def test_backoff_doubles_per_attempt(settings):
    settings.DISPATCH_RETRY_BASE_SECONDS = 10
    settings.DISPATCH_RETRY_MAX_SECONDS = 60
    assert [services.backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_a_retried_dispatch_is_sent_once_it_comes_due(fake_waha, settings):
    settings.DISPATCH_RETRY_BASE_SECONDS = 0.1
    fake_waha.errors = [waha_error("connection")]
    charge = ChargeFactory()
    start_campaign([charge])

    stats = drive(budget=3)

    dispatch = Dispatch.objects.get(charge=charge)
    # WAHA was never reached, so that try does not count against the message's retries.
    assert (dispatch.status, dispatch.attempts, dispatch.reason) == (DS.SENT, 1, "")
    assert stats.retried == 1
    assert len(fake_waha.sent) == 1


def test_a_connection_lost_after_the_request_went_out_is_unknown_and_not_resent(fake_waha, settings):
    settings.DISPATCH_RETRY_BASE_SECONDS = 0.1
    lost = waha_error("connection")
    lost.maybe_delivered = True  # reset after sending: WAHA may have accepted the message
    fake_waha.errors = [lost]
    charge = ChargeFactory()
    start_campaign([charge])

    drive(budget=2)

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.UNKNOWN
    assert "connection" in dispatch.reason
    assert fake_waha.sent == []


def test_an_unreachable_waha_does_not_burn_the_retries(fake_waha, settings):
    settings.DISPATCH_MAX_RETRIES = 1
    settings.DISPATCH_RETRY_BASE_SECONDS = 0.01
    fake_waha.errors = [waha_error("connection") for _ in range(4)]
    charge = ChargeFactory()
    start_campaign([charge])

    drive(budget=5)

    dispatch = Dispatch.objects.get(charge=charge)
    assert (dispatch.status, dispatch.attempts) == (DS.SENT, 1)
    assert len(fake_waha.sent) == 1


def test_it_fails_after_the_maximum_retries(fake_waha, settings):
    settings.DISPATCH_MAX_RETRIES = 2
    settings.DISPATCH_RETRY_BASE_SECONDS = 0.01
    fake_waha.errors = [waha_error("server_error", status=503) for _ in range(3)]
    charge = ChargeFactory()
    campaign = start_campaign([charge])

    drive(budget=5)

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.FAILED
    assert dispatch.attempts == 3
    assert dispatch.reason.startswith("falhou após 3 tentativas")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_permanent_error_fails_at_once(fake_waha):
    fake_waha.errors = [waha_error("validation", permanent=True, status=400)]
    charge, other = ChargeFactory(), ChargeFactory()
    start_campaign([charge, other])

    drive()

    failed = Dispatch.objects.get(charge=charge)
    assert (failed.status, failed.attempts) == (DS.FAILED, 1)
    assert "validation" in failed.reason
    assert Dispatch.objects.get(charge=other).status == DS.SENT


def test_a_timeout_on_send_is_unknown_not_retried(fake_waha):
    fake_waha.errors = [waha_error("timeout")]
    charge = ChargeFactory()
    start_campaign([charge])

    drive()

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.UNKNOWN
    assert "tempo" in dispatch.reason or "timeout" in dispatch.reason
    assert fake_waha.sent == []


def test_a_session_not_working_pauses_the_sessions_campaigns_and_keeps_the_attempt(fake_waha):
    fake_waha.errors = [waha_error("session_not_working", status=422)]
    charge = ChargeFactory()
    campaign = start_campaign([charge])

    stats = drive()

    assert stats.stop == "session_paused"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason.startswith(services.AUTO_PAUSE_PREFIX)
    dispatch = Dispatch.objects.get(charge=charge)
    assert (dispatch.status, dispatch.attempts) == (DS.PENDING, 0)

    assert services.campaigns_resume_for_session(session_name="default") == 1
    drive()
    assert Dispatch.objects.get(charge=charge).status == DS.SENT


def test_a_reachout_timelock_pauses_and_waits_for_an_operator(fake_waha):
    fake_waha.errors = [waha_error("reachout_timelock", status=500)]
    campaign = start_campaign(make_charges(2))

    drive()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason.startswith(services.TIMELOCK_PAUSE_PREFIX)
    assert services.campaigns_resume_for_session(session_name="default") == 0
    assert fake_waha.sent == []


def test_outside_the_window_dispatches_wait_for_the_next_opening(fake_waha, settings):
    from billing.dispatch.window import DAYS, parse_window

    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    other_day = DAYS[(timezone.localdate().weekday() + 2) % 7]
    window = f"{other_day} 09:00-10:00"
    campaign = start_campaign(make_charges(2), send_window=window)

    stats = drive()

    assert fake_waha.sent == []
    assert stats.stop in ("waiting", "idle")
    opening = parse_window(window).next_opening(timezone.now())
    assert set(Dispatch.objects.filter(campaign=campaign).values_list("status", "next_attempt_at")) == {
        (DS.PENDING, opening)
    }


def test_the_session_daily_cap_defers_the_rest_to_tomorrow(fake_waha, settings):
    settings.DISPATCH_DAILY_CAP = 2
    campaign = start_campaign(make_charges(4))

    stats = drive()

    assert stats.sent == 2
    assert stats.stop == "session_daily_cap"
    pending = Dispatch.objects.filter(campaign=campaign, status=DS.PENDING)
    assert pending.count() == 2
    assert {d.next_attempt_at for d in pending} == {services.next_day_start()}


def test_the_campaign_daily_cap_defers_the_rest(fake_waha):
    campaign = start_campaign(make_charges(3), daily_cap=1)

    drive()

    assert len(fake_waha.sent) == 1
    assert Dispatch.objects.filter(campaign=campaign, status=DS.PENDING).count() == 2


def test_a_paused_campaign_sends_nothing(fake_waha):
    campaign = start_campaign(make_charges(2))
    services.campaign_pause(campaign=campaign)

    drive()

    assert fake_waha.sent == []


def test_a_paced_campaign_keeps_its_interval(fake_waha):
    start_campaign(make_charges(3), delay="0.3", jitter="0")

    drive(budget=5)

    times = [m["at"] for m in fake_waha.sent]
    assert len(times) == 3
    assert all(b - a >= 0.29 for a, b in itertools.pairwise(times))


def test_a_scheduled_campaign_waits_for_its_start(fake_waha):
    starts = timezone.now() + dt.timedelta(hours=2)
    campaign = start_campaign(make_charges(1), starts_at=starts)
    assert campaign.status == Campaign.Status.SCHEDULED

    drive(budget=1)

    assert fake_waha.sent == []
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=timezone.now())
    drive()
    assert len(fake_waha.sent) == 1


def test_a_second_driver_on_the_same_lane_backs_off(fake_waha):
    from django.core.cache import cache

    from billing.dispatch.driver import lease_key

    cache.add(lease_key("default", 0), "someone-else", 30)
    start_campaign(make_charges(1))

    stats = dispatch_drive(session_name="default", budget=1)

    assert stats.stop == "busy"
    assert fake_waha.sent == []


def test_a_crash_leftover_becomes_unknown_and_is_never_resent(fake_waha):
    charge = ChargeFactory()
    campaign = start_campaign([charge])
    Dispatch.objects.filter(charge=charge).update(
        status=DS.SENDING, claimed_at=timezone.now() - dt.timedelta(minutes=10), attempts=1
    )

    drive()

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.UNKNOWN
    assert dispatch.reason == services.REASON_UNKNOWN_STALE
    assert fake_waha.sent == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_template_error_fails_that_message_only(fake_waha, monkeypatch):
    def broken(campaign, dispatch):
        raise KeyError("variavel")

    monkeypatch.setattr("billing.dispatch.driver.sending._render", broken)
    charge = ChargeFactory()
    start_campaign([charge])

    drive()

    dispatch = Dispatch.objects.get(charge=charge)
    assert dispatch.status == DS.FAILED
    assert dispatch.reason.startswith("erro ao montar a mensagem")


# --- unpaced batches (delay 0) ------------------------------------------------------------------------------


def test_unpaced_batches_resolve_chat_ids_in_bulk_and_skip_numbers_without_whatsapp(fake_waha):
    charges = make_charges(4)
    fake_waha.unknown_phones.add(charges[1].client.phone)
    start_campaign(charges)

    stats = drive()

    assert fake_waha.checks == [c.client.phone for c in charges]  # one check per client, none repeated
    assert stats.sent == 3 and stats.skipped == 1
    skipped = Dispatch.objects.get(charge=charges[1])
    assert (skipped.status, skipped.reason) == (DS.SKIPPED, services.REASON_NOT_ON_WHATSAPP)
    assert Client.objects.get(pk=charges[1].client_id).not_on_whatsapp is True
    for charge in (charges[0], charges[2], charges[3]):
        client = Client.objects.get(pk=charge.client_id)
        assert client.chat_id == client.phone.lstrip("+") + "@c.us"
        assert client.whatsapp_checked_at is not None


def test_a_session_error_mid_batch_hands_the_rest_back_untouched(fake_waha, monkeypatch):
    calls = {"n": 0}
    real_send = fake_waha.send_text

    def send_text(chat_id, text, *, session=None, message_id=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise waha_error("session_not_working", status=422)
        return real_send(chat_id, text, session=session)

    monkeypatch.setattr(fake_waha, "send_text", send_text)
    campaign = start_campaign(make_charges(4))

    stats = drive()

    assert stats.stop == "session_paused"
    assert len(fake_waha.sent) == 1
    rows = list(Dispatch.objects.filter(campaign=campaign).order_by("pk"))
    assert [d.status for d in rows] == [DS.SENT, DS.PENDING, DS.PENDING, DS.PENDING]
    assert [d.attempts for d in rows] == [1, 0, 0, 0]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED


def test_a_batch_records_every_message_in_its_conversation(fake_waha):
    from conversations.models import Conversation, Message

    campaign = start_campaign(make_charges(5))

    drive()

    rows = list(Dispatch.objects.filter(campaign=campaign).select_related("client"))
    messages = {m.waha_id: m for m in Message.objects.select_related("conversation")}
    assert len(messages) == 5
    for dispatch in rows:
        message = messages[dispatch.waha_message_id]
        assert (message.author, message.direction, message.dispatch_id) == ("campaign", "out", dispatch.pk)
        assert message.conversation.client_id == dispatch.client_id
        assert message.conversation.chat_id == dispatch.client.chat_id
        assert message.conversation.last_message_at == message.sent_at
    assert Conversation.objects.count() == 5


def test_bulk_recording_reuses_conversations_and_is_idempotent(fake_waha):
    from conversations import services as conversations
    from conversations.models import Conversation, Message

    client = ClientFactory(chat_id="5511911112222@c.us")
    existing = conversations.conversation_get_or_create(
        chat_ids=["5511911112222@c.us"], client=client, session_name="default"
    )
    items = [{"chat_id": "5511911112222@c.us", "client": client, "body": "oi", "waha_id": "W1"}]

    assert (
        conversations.messages_record_outbound_bulk(items=items, author="campaign", session_name="default")
        == 1
    )
    assert (
        conversations.messages_record_outbound_bulk(items=items, author="campaign", session_name="default")
        == 0
    )

    assert Conversation.objects.count() == 1
    assert Message.objects.get(waha_id="W1").conversation_id == existing.pk


def test_unpaced_sending_costs_few_statements_per_message(fake_waha, django_assert_max_num_queries):
    start_campaign(make_charges(40))

    # Per message one UPDATE … sent; per batch of 20 the claim, the chat id step and the conversation records;
    # plus the pace state, the lease, the context and the final completion checks (about 35 in all). One
    # message at a time cost about 12 statements per message.
    with django_assert_max_num_queries(40 * 3):
        stats = drive()

    assert stats.sent == 40
