"""The WAHA simulator over HTTP: session state machine, webhook signing and retries, inbound, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request

import pytest

from whatsapp.simulator.testing import SimulatorError, running_simulator, wait_for
from whatsapp.simulator.webhooks import WebhookTarget


def _statuses(handle, session: str = "default") -> list[str]:
    return [e["payload"]["status"] for e in handle.events("session.status") if e["session"] == session]


# --- auth and server ----------------------------------------------------------------------------------------


def test_requests_without_the_api_key_get_waha_401(waha_simulator):
    request = urllib.request.Request(waha_simulator.base_url + "/api/sessions")

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)

    assert raised.value.code == 401
    assert json.loads(raised.value.read()) == {"message": "Unauthorized", "statusCode": 401}


def test_the_api_key_may_come_as_a_query_parameter(waha_simulator):
    url = f"{waha_simulator.base_url}/ping?x-api-key={waha_simulator.api_key}"

    with urllib.request.urlopen(url, timeout=5) as response:
        assert json.loads(response.read()) == {"message": "pong"}


def test_unknown_routes_answer_nest_style_404(waha_simulator):
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request("GET", "/api/nothing")

    assert raised.value.status == 404
    assert raised.value.body["message"] == "Cannot GET /api/nothing"


# --- session state machine ----------------------------------------------------------------------------------


def test_a_new_session_goes_starting_then_scan_qr_code_then_working_when_scanned(waha_simulator):
    created = waha_simulator.request("POST", "/api/sessions", {"name": "s2", "start": True})
    assert created["status"] == "STARTING"

    waha_simulator.wait_for_status("SCAN_QR_CODE", session="s2")
    assert waha_simulator.request("GET", "/api/sessions/s2/me") is None
    waha_simulator.scan("s2")

    info = waha_simulator.wait_for_status("WORKING", session="s2")
    assert info["me"]["id"].endswith("@c.us")
    wait_for(lambda: _statuses(waha_simulator, "s2") == ["STARTING", "SCAN_QR_CODE", "WORKING"])


def test_a_session_created_without_start_stays_stopped_like_waha_controller_code(waha_simulator):
    created = waha_simulator.request("POST", "/api/sessions", {"name": "s2"})

    assert created["status"] == "STOPPED"
    assert [s["name"] for s in waha_simulator.request("GET", "/api/sessions")] == ["default"]
    names = [s["name"] for s in waha_simulator.request("GET", "/api/sessions?all=true")]
    assert names == ["default", "s2"]


def test_creating_an_existing_session_is_422_and_put_updates_it(waha_simulator):
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request("POST", "/api/sessions", {"name": "default", "start": True})
    assert raised.value.status == 422
    assert "already exists" in raised.value.body["message"]

    config = {"metadata": {"tenant": "1"}}
    updated = waha_simulator.request("PUT", "/api/sessions/default", {"config": config})
    assert updated["config"] == config
    waha_simulator.wait_for_status("WORKING")


def test_the_session_scans_itself_after_the_configured_delay():
    with running_simulator(default_session_mode="scan", auto_scan_seconds=0.05) as handle:
        handle.wait_for_status("WORKING")

        assert _statuses(handle) == ["STARTING", "SCAN_QR_CODE", "WORKING"]


def test_a_qr_left_unscanned_fails_the_session():
    with running_simulator(default_session_mode="scan", qr_timeout_seconds=0.05) as handle:
        handle.wait_for_status("FAILED")


def test_the_qr_is_a_real_png_base64_json_or_raw_value_only_while_scanning(waha_simulator):
    waha_simulator.request("POST", "/api/sessions/default/logout")
    waha_simulator.wait_for_status("SCAN_QR_CODE")

    as_json = waha_simulator.request("GET", "/api/default/auth/qr", headers={"Accept": "application/json"})
    raw = waha_simulator.request("GET", "/api/default/auth/qr?format=raw")

    assert as_json["mimetype"] == "image/png"
    assert base64.b64decode(as_json["data"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert raw["value"].startswith("2@")
    waha_simulator.scan()
    waha_simulator.wait_for_status("WORKING")
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request("GET", "/api/default/auth/qr?format=raw")
    assert raised.value.status == 422
    assert raised.value.body["expected"] == ["SCAN_QR_CODE"]


def test_stop_start_and_delete_emit_status_changes_and_delete_is_idempotent(waha_simulator):
    waha_simulator.request("POST", "/api/sessions/default/stop")
    waha_simulator.request("POST", "/api/sessions/default/start")
    waha_simulator.wait_for_status("WORKING")
    waha_simulator.request("DELETE", "/api/sessions/default")
    waha_simulator.request("DELETE", "/api/sessions/default")

    wait_for(lambda: _statuses(waha_simulator)[-4:] == ["STOPPED", "STARTING", "WORKING", "STOPPED"])
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.session("default")
    assert raised.value.status == 404


def test_a_forced_failed_status_blocks_sending_until_forced_back_to_working(waha_simulator, waha_client):
    waha_simulator.set_faults(session_status="FAILED")

    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request(
            "POST", "/api/sendText", {"session": "default", "chatId": "5511987654321@c.us", "text": "x"}
        )
    assert raised.value.status == 422
    assert raised.value.body["status"] == "FAILED"

    waha_simulator.set_session_status("WORKING")
    assert waha_client.send_text("5511987654321@c.us", "ok")


# --- sending, acks and inbound ------------------------------------------------------------------------------


def test_send_text_emits_message_any_then_acks_server_device_read(waha_simulator, waha_client):
    message_id = waha_client.send_text("5511987654321@c.us", "Olá")

    waha_simulator.wait_for_ack(message_id, 3)
    any_event = waha_simulator.wait_for_event("message.any", lambda e: e["payload"]["id"] == message_id)
    assert any_event["payload"]["fromMe"] is True
    assert any_event["payload"]["source"] == "api"
    acks = [
        e["payload"]["ack"] for e in waha_simulator.events("message.ack") if e["payload"]["id"] == message_id
    ]
    assert acks == [1, 2, 3]


@pytest.mark.parametrize(("mode", "expected"), [("server_only", [1]), ("error", [-1]), ("none", [])])
def test_ack_faults_stop_short_or_fail(waha_simulator, waha_client, mode, expected):
    waha_simulator.set_faults(acks=mode)

    message_id = waha_client.send_text("5511987654321@c.us", "x")

    waha_simulator.wait_until_idle()
    acks = [
        e["payload"]["ack"] for e in waha_simulator.events("message.ack") if e["payload"]["id"] == message_id
    ]
    assert acks == expected


def test_out_of_order_fault_shuffles_the_acks(waha_simulator, waha_client):
    waha_simulator.set_faults(out_of_order=True)

    message_id = waha_client.send_text("5511987654321@c.us", "x")

    waha_simulator.wait_until_idle()
    acks = [
        e["payload"]["ack"] for e in waha_simulator.events("message.ack") if e["payload"]["id"] == message_id
    ]
    assert sorted(acks) == [1, 2, 3]
    assert acks != [1, 2, 3]


def test_inbound_emits_message_and_message_any_from_the_debtor(waha_simulator):
    result = waha_simulator.inbound("5511987654321", "quero pagar")

    message = waha_simulator.wait_for_event("message")
    any_event = waha_simulator.wait_for_event("message.any")
    assert message["payload"] == any_event["payload"]
    assert message["payload"]["id"] == result["id"]
    assert message["payload"]["from"] == "5511987654321@c.us"
    assert message["payload"]["fromMe"] is False
    assert message["payload"]["body"] == "quero pagar"
    assert message["id"] != any_event["id"]


def test_inbound_media_is_announced_like_waha_and_served_at_its_url_with_the_api_key(waha_simulator):
    picture = b"\xff\xd8\xff\xe0fake-jpeg"
    waha_simulator.inbound("5511987654321", "segue", media=picture, mimetype="image/jpeg", filename="r.jpg")

    payload = waha_simulator.wait_for_event("message")["payload"]
    assert payload["hasMedia"] is True
    assert payload["body"] == "segue"
    media = payload["media"]
    assert media["mimetype"] == "image/jpeg" and media["filename"] == "r.jpg" and "error" not in media
    assert media["url"].startswith(waha_simulator.base_url + "/api/files/default/")
    assert media["url"].endswith(".jpeg")
    assert payload["_data"]["Message"]["imageMessage"]["caption"] == "segue"

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(media["url"], timeout=5)
    assert refused.value.code == 401
    request = urllib.request.Request(media["url"], headers={"X-Api-Key": waha_simulator.api_key})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read() == picture
        assert response.headers["Content-Type"] == "image/jpeg"
    with pytest.raises(SimulatorError) as unknown:
        waha_simulator.request("GET", "/api/files/default/nope.pdf")
    assert unknown.value.status == 404


def test_inbound_without_text_needs_media(waha_simulator):
    with pytest.raises(SimulatorError) as refused:
        waha_simulator.inbound("5511987654321", "")
    assert refused.value.status == 400
    payload = waha_simulator.inbound("5511987654321", "oi")
    assert waha_simulator.wait_for_event("message")["payload"]["hasMedia"] is False
    assert payload["id"]


def test_inbound_from_a_lid_uses_the_lid_as_sender_and_registers_the_mapping(waha_simulator):
    result = waha_simulator.inbound("5511987654321", "oi", lid=True)

    event = waha_simulator.wait_for_event("message")
    assert event["payload"]["from"] == result["lid"]
    assert result["lid"].endswith("@lid")
    found = waha_simulator.request("GET", f"/api/default/lids/{result['lid'].replace('@', '%40')}")
    assert found == {"lid": result["lid"], "pn": "5511987654321@c.us"}


def test_reply_from_phone_is_a_message_any_from_me_with_source_app(waha_simulator):
    waha_simulator.reply_from_phone("5511987654321", "respondo eu")

    event = waha_simulator.wait_for_event("message.any")
    assert event["payload"]["fromMe"] is True
    assert event["payload"]["source"] == "app"
    assert event["payload"]["to"] == "5511987654321@c.us"
    assert waha_simulator.events("message") == []


def test_send_text_validation_errors_are_nest_style_400(waha_simulator):
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request("POST", "/api/sendText", {"chatId": "5511987654321@c.us"})

    assert raised.value.status == 400
    assert raised.value.body["error"] == "Bad Request"
    assert "text must be a string" in raised.value.body["message"]
    assert "session must be a string" in raised.value.body["message"]


def test_timelock_500_echoes_the_request_like_waha(waha_simulator):
    waha_simulator.set_faults(timelock_cold_contacts=True)
    body = {"session": "default", "chatId": "5511987654321@c.us", "text": "hello"}

    with pytest.raises(SimulatorError) as raised:
        waha_simulator.request("POST", "/api/sendText", body)

    assert raised.value.status == 500
    assert raised.value.body["exception"]["message"] == "2 UNKNOWN: server returned error 463"
    assert raised.value.body["request"]["body"] == body


def test_reset_returns_to_a_fresh_working_default_session(waha_simulator, waha_client):
    waha_client.send_text("5511987654321@c.us", "x")
    waha_simulator.set_faults(acks="none")

    waha_simulator.reset()

    assert waha_simulator.outbox() == []
    assert waha_simulator.request("GET", "/simulator/faults")["acks"] == "normal"
    assert waha_simulator.session()["status"] == "WORKING"


# --- webhooks -----------------------------------------------------------------------------------------------


def test_webhooks_are_signed_with_hmac_sha512_of_the_raw_body(waha_simulator, webhook_receiver):
    waha_simulator.set_webhook(webhook_receiver.url, "segredo")

    waha_simulator.inbound("5511987654321", "Olá, ção")

    [request] = webhook_receiver.wait_for("message")
    expected = hmac.new(b"segredo", request.raw, hashlib.sha512).hexdigest()
    assert request.headers["X-Webhook-Hmac"] == expected
    assert request.headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    assert request.headers["X-Webhook-Timestamp"] == str(request.json["timestamp"])
    assert len(request.headers["X-Webhook-Request-Id"]) == 26
    assert request.headers["User-Agent"] == "WAHA/2026.7.1"
    assert "Olá, ção".encode() in request.raw, "non-ASCII is sent unescaped, as JSON.stringify does"


def test_webhooks_without_a_key_carry_no_hmac_headers(waha_simulator, webhook_receiver):
    waha_simulator.set_webhook(webhook_receiver.url)

    waha_simulator.inbound("5511987654321", "oi")

    [request] = webhook_receiver.wait_for("message")
    assert "X-Webhook-Hmac" not in request.headers


def test_a_failing_receiver_gets_the_same_event_again_until_it_accepts(waha_simulator, webhook_receiver):
    waha_simulator.set_webhook(webhook_receiver.url, "k", events=["message"])
    webhook_receiver.fail_next = 2

    waha_simulator.inbound("5511987654321", "oi")

    requests = webhook_receiver.wait_for("message", count=3)
    waha_simulator.wait_until_idle()
    assert len(webhook_receiver.requests("message")) == 3
    assert len({r.json["id"] for r in requests}) == 1
    assert len({r.raw for r in requests}) == 1
    attempts = [(d["attempt"], d["status_code"], d["ok"]) for d in waha_simulator.webhooks("message")]
    assert attempts == [(1, 500, False), (2, 500, False), (3, 200, True)]


def test_delivery_to_an_unreachable_receiver_gives_up_after_the_configured_attempts(waha_simulator):
    waha_simulator.request(
        "PUT",
        "/api/sessions/default",
        {
            "config": {
                "webhooks": [
                    {
                        "url": "http://127.0.0.1:9/x",
                        "events": ["message"],
                        "retries": {"policy": "constant", "delaySeconds": 0, "attempts": 3},
                    }
                ]
            }
        },
    )
    waha_simulator.wait_for_status("WORKING")

    waha_simulator.inbound("5511987654321", "oi")

    waha_simulator.wait_until_idle()
    deliveries = waha_simulator.webhooks("message")
    assert [d["attempt"] for d in deliveries] == [1, 2, 3]
    assert all(d["status_code"] is None and d["error"] for d in deliveries)


def test_the_duplicate_fault_delivers_each_event_twice_with_the_same_id(waha_simulator, webhook_receiver):
    waha_simulator.set_webhook(webhook_receiver.url, events=["message"])
    waha_simulator.set_faults(duplicate_webhooks=True)

    waha_simulator.inbound("5511987654321", "oi")

    first, second = webhook_receiver.wait_for("message", count=2)
    assert first.raw == second.raw


def test_session_webhooks_only_get_their_events_and_star_excludes_engine_events(
    waha_simulator, webhook_receiver
):
    waha_simulator.request(
        "PUT",
        "/api/sessions/default",
        {"config": {"webhooks": [{"url": webhook_receiver.url, "events": ["message"]}]}},
    )
    waha_simulator.wait_for_status("WORKING")

    waha_simulator.inbound("5511987654321", "oi")

    webhook_receiver.wait_for("message")
    waha_simulator.wait_until_idle()
    assert {b["event"] for b in webhook_receiver.bodies()} == {"message"}
    star = WebhookTarget(url="http://x", events=("*",))
    assert star.wants("message.ack") and not star.wants("engine.event") and not star.wants("state.change")


def test_retry_policies_follow_waha_defaults():
    default = WebhookTarget.from_config({"url": "http://x", "events": ["*"]})
    linear = WebhookTarget.from_config({"url": "http://x", "events": ["*"], "retries": {"policy": "linear"}})
    exponential = WebhookTarget.from_config(
        {"url": "http://x", "events": ["*"], "retries": {"policy": "exponential", "delaySeconds": 2}}
    )

    assert (default.policy, default.delay_seconds, default.attempts) == ("constant", 2.0, 15)
    assert [default.retry_delay(n) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
    assert [linear.retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 6.0]
    assert 8.0 <= exponential.retry_delay(3) <= 9.6


def test_the_envelope_carries_waha_fields_and_session_metadata(waha_simulator):
    waha_simulator.request("PUT", "/api/sessions/default", {"config": {"metadata": {"tenant": "7"}}})
    waha_simulator.wait_for_status("WORKING")

    waha_simulator.inbound("5511987654321", "oi")

    event = waha_simulator.wait_for_event("message")
    assert event["id"].startswith("evt_") and event["id"] == event["id"].lower() and len(event["id"]) == 30
    assert event["metadata"] == {"tenant": "7"}
    assert event["engine"] == "GOWS"
    assert event["environment"]["worker"] == {"id": "waha"}
    assert event["me"]["id"].endswith("@c.us")


def test_control_endpoints_reject_unknown_faults_and_config(waha_simulator):
    with pytest.raises(SimulatorError) as raised:
        waha_simulator.set_faults(explode=True)
    assert raised.value.status == 400
    with pytest.raises(SimulatorError):
        waha_simulator.configure(engine="WPP")


# --- management command -------------------------------------------------------------------------------------


def test_the_management_command_serves_with_settings_defaults_and_starts_the_default_session(
    settings, monkeypatch
):
    from django.core.management import call_command

    from whatsapp.simulator.server import WahaSimulatorServer

    settings.WAHA_API_KEY = "cmd-key"
    settings.WAHA_WEBHOOK_URL = "http://127.0.0.1:9/webhook/waha"
    settings.WAHA_WEBHOOK_HMAC_KEY = "cmd-hmac"
    seen = {}

    def serve_once(server: WahaSimulatorServer, poll_interval: float = 0.5) -> None:
        sim = server.simulator
        seen.update(
            key=sim.options.api_key,
            url=sim.options.webhook_url,
            hmac=sim.options.hmac_key,
            engine=sim.options.engine,
            status=sim.sessions["default"].status,
        )
        raise KeyboardInterrupt

    monkeypatch.setattr(WahaSimulatorServer, "serve_forever", serve_once)
    call_command("waha_simulator", "--port", "0", "--engine", "NOWEB")

    assert seen == {
        "key": "cmd-key",
        "url": "http://127.0.0.1:9/webhook/waha",
        "hmac": "cmd-hmac",
        "engine": "NOWEB",
        "status": "STARTING",
    }
