"""Contract tests: what the simulator answers and emits validates against WAHA's official OpenAPI spec."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from whatsapp.simulator.webhooks import sign
from whatsapp.tests import contract

HMAC_VECTOR_KEY = "my-secret-key"
HMAC_VECTOR_BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'
HMAC_VECTOR_DIGEST = (
    "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
    "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
)


def test_the_spec_is_waha_2026_7_1_with_the_webhooks_we_rely_on():
    spec = contract.load_spec()

    assert spec["info"]["version"] == "2026.7.1"
    assert {"message", "message.any", "message.ack", "session.status"} <= set(spec["webhooks"])


def test_the_hmac_test_vector_from_the_waha_docs_matches_our_signing():
    assert sign(HMAC_VECTOR_BODY, HMAC_VECTOR_KEY) == HMAC_VECTOR_DIGEST
    assert (
        hmac.new(HMAC_VECTOR_KEY.encode(), HMAC_VECTOR_BODY, hashlib.sha512).hexdigest() == HMAC_VECTOR_DIGEST
    )


def test_the_contract_rejects_what_the_spec_forbids():
    assert contract.schema_errors({"numberExists": "yes"}, "WANumberExistResult")
    assert contract.schema_errors({"name": "x"}, "SessionDTO")
    bad_envelope = {
        "id": "evt_1",
        "timestamp": 1,
        "session": "default",
        "engine": "GOWS",
        "event": "message",
        "environment": {},
        "payload": {"id": "x"},
    }
    with pytest.raises(AssertionError):
        contract.assert_valid_webhook(bad_envelope)


def test_every_leniency_is_documented():
    assert len(contract.LENIENCIES) >= 8
    assert all(len(entry) == 3 and all(entry) for entry in contract.LENIENCIES)


def test_session_answers_validate_against_the_spec(waha_simulator):
    call = waha_simulator.request
    contract.assert_valid_response("GET", "/api/sessions", 200, call("GET", "/api/sessions?all=true"))
    contract.assert_valid_response(
        "GET", "/api/sessions/{session}", 200, call("GET", "/api/sessions/default")
    )
    created = call(
        "POST",
        "/api/sessions",
        {
            "name": "s2",
            "start": True,
            "config": {"webhooks": [{"url": "http://127.0.0.1:9/h", "events": ["message"]}]},
        },
    )
    contract.assert_valid_response("POST", "/api/sessions", 201, created)
    waha_simulator.wait_for_status("SCAN_QR_CODE", session="s2")
    contract.assert_valid_response("GET", "/api/sessions", 200, call("GET", "/api/sessions"))
    qr_json = call("GET", "/api/s2/auth/qr", headers={"Accept": "application/json"})
    contract.assert_valid_response("GET", "/api/{session}/auth/qr", 200, qr_json)
    contract.assert_valid_response(
        "GET", "/api/{session}/auth/qr", 200, call("GET", "/api/s2/auth/qr?format=raw")
    )
    contract.assert_valid_response(
        "GET", "/api/sessions/{session}/me", 200, call("GET", "/api/sessions/s2/me")
    )
    contract.assert_valid_response(
        "GET", "/api/sessions/{session}/me", 200, call("GET", "/api/sessions/default/me")
    )
    for action in ("stop", "start", "restart", "logout"):
        answer = call("POST", f"/api/sessions/s2/{action}")
        contract.assert_valid_response("POST", f"/api/sessions/{{session}}/{action}", 201, answer)
    updated = call("PUT", "/api/sessions/s2", {"config": {"metadata": {"a": "b"}}})
    contract.assert_valid_response("PUT", "/api/sessions/{session}", 200, updated)


def test_server_answers_validate_against_the_spec(waha_simulator):
    contract.assert_valid_response("GET", "/ping", 200, waha_simulator.request("GET", "/ping"))
    version = waha_simulator.request("GET", "/api/server/version")
    contract.assert_valid_response("GET", "/api/server/version", 200, version)


def test_number_answers_validate_against_the_spec(waha_simulator):
    call = waha_simulator.request
    for phone in ("5521988887777", "5511911110000", "5511987654321"):
        answer = call("GET", f"/api/contacts/check-exists?phone={phone}&session=default")
        contract.assert_valid_response("GET", "/api/contacts/check-exists", 200, answer)
    assert call("GET", "/api/contacts/check-exists?phone=5511911110000&session=default") == {
        "numberExists": False
    }
    inbound = waha_simulator.inbound("5511987654321", "oi", lid=True)
    lid = inbound["lid"].replace("@", "%40")
    contract.assert_valid_response(
        "GET", "/api/{session}/lids/{lid}", 200, call("GET", f"/api/default/lids/{lid}")
    )
    contract.assert_valid_response(
        "GET", "/api/{session}/lids/{lid}", 200, call("GET", "/api/default/lids/1%40lid")
    )
    answer = call("GET", "/api/default/lids/pn/5511987654321")
    contract.assert_valid_response("GET", "/api/{session}/lids/pn/{phone}", 200, answer)
    new_id = call("GET", "/api/default/new-message-id")
    contract.assert_valid_response("GET", "/api/{session}/new-message-id", 200, new_id)


@pytest.mark.parametrize("engine", ["NOWEB", "GOWS", "WEBJS", "WEBJS-empty"])
def test_send_text_answers_have_the_engine_specific_shape(waha_simulator, engine):
    waha_simulator.set_engine(engine)

    answer = waha_simulator.request(
        "POST", "/api/sendText", {"session": "default", "chatId": "5511987654321@c.us", "text": "oi"}
    )

    contract.assert_valid_response("POST", "/api/sendText", 201, answer, engine=engine)


@pytest.mark.parametrize("engine", ["GOWS", "NOWEB", "WEBJS"])
def test_every_webhook_body_the_simulator_emits_validates_against_the_spec(
    waha_simulator, waha_client, webhook_receiver, engine
):
    waha_simulator.set_engine(engine)
    waha_simulator.set_webhook(webhook_receiver.url, "k")
    waha_client.logout_session()  # session.status with me=null (STOPPED, STARTING, SCAN_QR_CODE)
    waha_simulator.wait_for_status("SCAN_QR_CODE")
    waha_simulator.scan()
    waha_simulator.wait_for_status("WORKING")
    message_id = waha_client.send_text("5511987654321@c.us", "Olá", reply_to="false_5511987654321@c.us_AAA")
    waha_simulator.inbound("5511987654321", "oi")
    waha_simulator.inbound("5511987654322", "oi", lid=True)
    waha_simulator.inbound(
        "5511987654321", "", media=b"%PDF-1.4 x", mimetype="application/pdf", filename="a.pdf"
    )
    waha_simulator.reply_from_phone("5511987654321", "eu")
    waha_simulator.wait_for_ack(message_id, 3)
    waha_simulator.wait_until_idle()

    bodies = webhook_receiver.bodies()
    assert {b["event"] for b in bodies} == {"session.status", "message", "message.any", "message.ack"}
    for body in bodies:
        contract.assert_valid_webhook(body)
        assert body["engine"] == engine
