"""Webhook bodies that are signed and valid JSON but hostile to the database or the parser (issue #10,
item 8): each is stored and processed, or refused with a 4xx that says why; never a 500, never silently
lost. Run on SQLite and on PostgreSQL (DATABASE_URL): the two fail differently without the intake's
sanitising."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings

from conversations.models import Message
from whatsapp.models import WebhookEvent
from whatsapp.services import webhook_event_process
from whatsapp.tests.test_webhook_intake import load_fixture, post_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook(settings, monkeypatch):
    settings.WAHA_WEBHOOK_HMAC_KEY = "test-hmac-key"
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    settings.CHATBOT_ENABLED = False
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: None)


def _message_body(text_json: str, event_id: str = "evt_edge_1") -> bytes:
    """The fixture message with `payload.body` replaced by raw JSON text (escapes kept as sent)."""
    envelope = load_fixture("message", id=event_id)
    envelope["payload"]["body"] = "__BODY__"
    return json.dumps(envelope).encode().replace(b'"__BODY__"', text_json.encode())


def _backend() -> str:
    return django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def test_a_nul_escape_is_stripped_at_intake_and_the_message_is_processed(client):
    body = _message_body(r'"Oi\u0000 paguei"')

    response = post_webhook(client, body)

    assert response.status_code == 200, (_backend(), response.content)
    assert response.json() == {"status": "accepted"}
    event = WebhookEvent.objects.get()
    assert event.payload["payload"]["body"] == "Oi paguei"
    assert bytes(event.raw_body) == body
    assert webhook_event_process(event_id=event.pk) == "processed"
    assert Message.objects.get().body == "Oi paguei"


def test_a_lone_surrogate_is_replaced_at_intake_and_the_message_is_processed(client):
    body = _message_body(r'"Oi \ud83d paguei"')

    response = post_webhook(client, body)

    assert response.status_code == 200, (_backend(), response.content)
    event = WebhookEvent.objects.get()
    assert event.payload["payload"]["body"] == "Oi \ufffd paguei"
    assert webhook_event_process(event_id=event.pk) == "processed"
    assert Message.objects.get().body == "Oi \ufffd paguei"


def test_a_valid_surrogate_pair_is_kept(client):
    response = post_webhook(client, _message_body(r'"pago \ud83d\ude00"'))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["payload"]["body"] == "pago \U0001f600"


def test_nul_and_surrogates_in_keys_are_sanitised_too(client):
    envelope = load_fixture("message", id="evt_edge_keys")
    body = json.dumps(envelope).encode().replace(b'"metadata"', b'"meta\\u0000\\udc00data"')

    response = post_webhook(client, body)

    assert response.status_code == 200, response.content
    assert "meta\ufffddata" in WebhookEvent.objects.get().payload


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_a_400_that_says_why(client, constant):
    body = _message_body(constant)

    response = post_webhook(client, body)

    assert response.status_code == 400, (_backend(), response.content)
    assert response.json() == {"status": "error", "reason": "non_standard_json"}
    assert WebhookEvent.objects.count() == 0


def test_json_nested_a_thousand_deep_is_refused_with_a_400(client):
    body = _message_body("[" * 1000 + "]" * 1000)

    response = post_webhook(client, body)

    assert response.status_code == 400, response.content
    assert response.json() == {"status": "error", "reason": "too_deep"}
    assert WebhookEvent.objects.count() == 0


def test_json_nested_a_hundred_thousand_deep_is_refused_with_a_400(client, settings):
    settings.WAHA_WEBHOOK_MAX_BYTES = 1024 * 1024
    body = _message_body("[" * 100_000 + "]" * 100_000)

    response = post_webhook(client, body)

    assert response.status_code == 400
    assert response.json()["reason"] == "too_deep"


def test_moderate_nesting_is_accepted(client):
    body = _message_body("[" * 30 + '"ok"' + "]" * 30)

    response = post_webhook(client, body)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_number_too_large_for_a_float_is_refused_with_a_400(client):
    response = post_webhook(client, _message_body("1e400"))

    assert response.status_code == 400
    assert response.json() == {"status": "error", "reason": "number_out_of_range"}


def test_the_raw_body_is_kept_byte_for_byte(client):
    body = _message_body('"Oi, j\\u00e1 paguei"')

    assert post_webhook(client, body).status_code == 200

    event = WebhookEvent.objects.get()
    assert bytes(event.raw_body) == body
    assert event.payload["payload"]["body"] == "Oi, já paguei"


def test_an_integrity_error_that_is_not_a_duplicate_id_is_not_answered_duplicate(monkeypatch):
    from django.db import IntegrityError

    from whatsapp import webhooks

    def refuse(**kwargs):
        raise IntegrityError("CHECK constraint failed: JSON_VALID")

    monkeypatch.setattr(WebhookEvent.objects, "create", refuse)

    with pytest.raises(IntegrityError):
        webhooks.webhook_store(envelope=load_fixture("message"), event_id="evt_never_stored")


# --- item 9: dedupe without an envelope id, and the timestamp header ---------------------------------------


def test_one_signed_body_without_an_id_is_stored_once_whatever_its_request_ids(client):
    envelope = load_fixture("message")
    del envelope["id"]
    body = json.dumps(envelope).encode()

    answers = [
        post_webhook(client, body, headers={"X-Webhook-Request-Id": f"01JREQ{i}"}).json() for i in range(3)
    ]

    assert answers == [{"status": "accepted"}, {"status": "duplicate"}, {"status": "duplicate"}]
    event = WebhookEvent.objects.get()
    assert event.event_id.startswith("sha_")


def test_the_timestamp_header_is_required_when_hmac_is_configured(client):
    envelope = load_fixture("message")
    del envelope["timestamp"]  # and no envelope timestamp either: nothing would be age-checked

    response = post_webhook(client, envelope, headers={"X-Webhook-Timestamp": ""})

    assert response.status_code == 400
    assert response.json() == {"status": "error", "reason": "missing_timestamp"}
    assert WebhookEvent.objects.count() == 0


def test_without_a_key_in_debug_the_timestamp_header_stays_optional(client, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = ""
    settings.DEBUG = True

    response = post_webhook(client, load_fixture("message"), key=None, headers={"X-Webhook-Timestamp": ""})

    assert response.status_code == 200
