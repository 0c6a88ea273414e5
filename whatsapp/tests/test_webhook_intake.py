"""The webhook endpoint: signature, size, freshness, parsing, storage and dedupe of deliveries."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from whatsapp.models import WebhookEvent
from whatsapp.webhooks import WebhookRejected, check_freshness, verify_signature

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "test-hmac-key"
URL = "/webhook/waha"


def load_fixture(name: str, *, fresh: bool = True, **overrides) -> dict:
    """A WAHA envelope from tests/fixtures; `fresh` moves its timestamp to now (the stored ones are old)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    if fresh:
        data["timestamp"] = int(time.time() * 1000)
    data.update(overrides)
    return data


def sign(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def post_webhook(client, envelope: dict | bytes, *, key: str | None = KEY, headers: dict | None = None):
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    all_headers = {"X-Webhook-Timestamp": str(int(time.time() * 1000)), "X-Webhook-Request-Id": "01REQ"}
    if key is not None:
        all_headers["X-Webhook-Hmac"] = sign(body, key)
        all_headers["X-Webhook-Hmac-Algorithm"] = "sha512"
    all_headers.update(headers or {})
    return client.post(URL, data=body, content_type="application/json", headers=all_headers)


@pytest.fixture
def webhook_settings(settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    settings.WAHA_WEBHOOK_MAX_BYTES = 64 * 1024
    return settings


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """Record django-q enqueues instead of writing them to the broker."""
    calls: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: calls.append((func, *args)))
    return calls


def test_the_documented_hmac_test_vector_verifies():
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    expected = (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a"
        "63f6752c2c1631777076153fa89"
    )
    assert verify_signature(body, expected, "my-secret-key")
    assert not verify_signature(body, expected, "other-key")
    assert not verify_signature(body, None, "my-secret-key")


@pytest.mark.django_db
def test_it_stores_a_signed_message_and_enqueues_its_processing_on_commit(
    client, webhook_settings, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, load_fixture("message"))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    event = WebhookEvent.objects.get()
    assert event.event_id == "evt_01jnkq4h5y0000000000000001"
    assert event.event == "message"
    assert event.session_name == "default"
    assert event.payload_id == "false_5511987654321@c.us_3A0000000000000000A1"
    assert event.state == WebhookEvent.State.PENDING
    assert event.payload["payload"]["body"] == "Oi, já paguei o boleto ontem"
    assert enqueued == [("whatsapp.tasks.process_webhook_event", event.pk)]


@pytest.mark.django_db
def test_it_rejects_a_bad_signature_and_logs_a_security_event(client, webhook_settings, enqueued):
    from loguru import logger

    records: list[dict] = []
    sink = logger.add(lambda m: records.append(m.record), level="WARNING")
    try:
        response = post_webhook(client, load_fixture("message"), key="wrong-key")
    finally:
        logger.remove(sink)

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert enqueued == []
    security = [r for r in records if r["extra"].get("security")]
    assert security and "security.webhook_bad_signature" in security[0]["message"]
    assert security[0]["extra"]["ip"] == "127.0.0.1"


@pytest.mark.django_db
def test_it_rejects_an_unsigned_request(client, webhook_settings):
    response = post_webhook(client, load_fixture("message"), key=None)
    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_signature_over_a_reserialized_body_does_not_verify(client, webhook_settings):
    envelope = load_fixture("message")
    body = json.dumps(envelope, indent=2).encode()
    response = post_webhook(client, body, headers={"X-Webhook-Hmac": sign(json.dumps(envelope).encode())})
    assert response.status_code == 401


@pytest.mark.django_db
def test_without_a_key_it_accepts_unsigned_requests_only_in_debug(client, settings, enqueued):
    settings.WAHA_WEBHOOK_HMAC_KEY = ""
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 0
    settings.DEBUG = True
    assert post_webhook(client, load_fixture("message"), key=None).status_code == 200
    settings.DEBUG = False
    response = post_webhook(client, load_fixture("message_lid"), key=None)
    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_it_answers_400_to_malformed_json(client, webhook_settings):
    response = post_webhook(client, b'{"event": "message", ')
    assert response.status_code == 400
    assert response.json()["reason"] == "malformed_json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"), [(b"[1, 2]", "not_an_object"), (b'{"session": "default"}', "missing_event")]
)
def test_it_answers_400_to_json_that_is_not_an_event(client, webhook_settings, body, reason):
    response = post_webhook(client, body)
    assert response.status_code == 400
    assert response.json()["reason"] == reason
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_it_answers_413_to_an_oversize_body_even_when_signed(client, webhook_settings):
    envelope = load_fixture("message")
    envelope["payload"]["body"] = "x" * (70 * 1024)
    response = post_webhook(client, envelope)
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_it_answers_413_on_the_declared_length_before_reading_the_body(client, webhook_settings):
    response = client.post(URL, data=b"{}", content_type="application/json", CONTENT_LENGTH=str(10**9))
    assert response.status_code == 413


@pytest.mark.django_db
def test_it_refuses_a_stale_timestamp_header(client, webhook_settings):
    old = str(int((time.time() - 3600) * 1000))
    response = post_webhook(client, load_fixture("message"), headers={"X-Webhook-Timestamp": old})
    assert response.status_code == 401
    assert response.json()["reason"] == "stale_timestamp"


@pytest.mark.django_db
def test_it_refuses_a_stale_signed_envelope_timestamp_even_with_a_fresh_header(client, webhook_settings):
    response = post_webhook(client, load_fixture("message", fresh=False))
    assert response.status_code == 401


@pytest.mark.django_db
def test_max_age_zero_disables_the_freshness_check(client, webhook_settings, enqueued):
    webhook_settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 0
    old = str(int((time.time() - 86400) * 1000))
    response = post_webhook(
        client, load_fixture("message", fresh=False), headers={"X-Webhook-Timestamp": old}
    )
    assert response.status_code == 200


def test_freshness_accepts_seconds_and_rejects_garbage():
    now_ms = 1_741_249_702_485
    check_freshness(header_ts=None, envelope_ts=1_741_249_700, max_age_seconds=60, now_ms=now_ms)
    with pytest.raises(WebhookRejected) as exc:
        check_freshness(header_ts="yesterday", envelope_ts=None, max_age_seconds=60, now_ms=now_ms)
    assert exc.value.status == 400


@pytest.mark.django_db
def test_a_duplicate_envelope_id_is_stored_once_and_enqueued_once(
    client, webhook_settings, enqueued, django_capture_on_commit_callbacks
):
    envelope = load_fixture("message")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_webhook(client, envelope)
        second = post_webhook(client, envelope)

    assert first.json() == {"status": "accepted"}
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate"}
    assert WebhookEvent.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_an_envelope_without_any_id_is_keyed_by_a_hash_of_the_body(client, webhook_settings, enqueued):
    envelope = load_fixture("message")
    del envelope["id"]
    body = json.dumps(envelope).encode()
    headers = {"X-Webhook-Request-Id": ""}
    post_webhook(client, body, headers=headers)
    assert post_webhook(client, body, headers=headers).json() == {"status": "duplicate"}
    assert WebhookEvent.objects.get().event_id.startswith("sha_")


@pytest.mark.django_db
def test_unknown_events_are_acknowledged_but_not_stored(client, webhook_settings, enqueued):
    envelope = load_fixture("message")
    envelope["event"] = "presence.update"
    response = post_webhook(client, envelope)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert WebhookEvent.objects.count() == 0
    assert enqueued == []


@pytest.mark.django_db
def test_the_webhook_only_accepts_post(client, webhook_settings):
    assert client.get(URL).status_code == 405


@pytest.mark.django_db
def test_each_event_fixture_is_accepted(client, webhook_settings, enqueued):
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert len(names) == 11
    for name in names:
        envelope = copy.deepcopy(load_fixture(name))
        assert post_webhook(client, envelope).json() == {"status": "accepted"}, name
    assert WebhookEvent.objects.count() == len(names)
