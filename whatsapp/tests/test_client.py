"""The WAHA client against the simulator over real HTTP: every method, every error class, no text leaks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from whatsapp.client import (
    DEFAULT_EVENTS,
    WahaClient,
    WahaError,
    get_client,
    parse_send_text_response,
)
from whatsapp.simulator.testing import running_simulator

SECRET_TEXT = "Olá Maria, sua fatura de R$ 1.234,56 vence amanhã: código SEGREDO-XYZ"


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Everything loguru emits during the test, at every level."""
    lines: list[str] = []
    handler_id = logger.add(lambda message: lines.append(str(message)), level="TRACE")
    try:
        yield lines
    finally:
        logger.remove(handler_id)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- messages -----------------------------------------------------------------------------------------------


def test_send_text_returns_the_serialized_id_and_the_simulator_records_the_message(
    waha_simulator, waha_client
):
    message_id = waha_client.send_text("5511987654321@c.us", "Olá!")

    assert message_id.startswith("true_5511987654321@c.us_")
    [sent] = waha_simulator.outbox()
    assert sent["id"] == message_id
    assert sent["text"] == "Olá!"
    assert sent["chatId"] == "5511987654321@c.us"
    assert sent["linkPreview"] is False


@pytest.mark.parametrize("engine", ["NOWEB", "GOWS", "WEBJS", "WEBJS-empty"])
def test_send_text_understands_each_engine_shaped_answer(waha_simulator, waha_client, engine):
    waha_simulator.set_engine(engine)
    pre_generated = waha_client.new_message_id()

    message_id = waha_client.send_text("5511987654321@c.us", "oi", message_id=pre_generated)

    assert message_id == f"true_5511987654321@c.us_{pre_generated}"
    assert waha_simulator.outbox()[-1]["id"] == message_id


@pytest.mark.parametrize("engine", ["NOWEB", "GOWS", "WEBJS"])
def test_send_text_without_a_pre_generated_id_still_finds_the_id_in_engine_answers(
    waha_simulator, waha_client, engine
):
    waha_simulator.set_engine(engine)

    message_id = waha_client.send_text("5511987654321@c.us", "oi")

    assert message_id == waha_simulator.outbox()[-1]["id"]


def test_an_empty_send_text_answer_without_a_pre_generated_id_is_a_bad_response(waha_simulator, waha_client):
    waha_simulator.set_engine("WEBJS-empty")

    with pytest.raises(WahaError) as raised:
        waha_client.send_text("5511987654321@c.us", "oi")

    assert raised.value.reason == "bad_response"
    assert raised.value.permanent is False


def test_send_text_passes_reply_to_and_link_preview(waha_simulator, waha_client):
    waha_client.send_text(
        "5511987654321@c.us", "veja https://x.example", reply_to="false_5511@c.us_AAA", link_preview=True
    )

    [sent] = waha_simulator.outbox()
    assert sent["reply_to"] == "false_5511@c.us_AAA"
    assert sent["linkPreview"] is True


def test_parse_send_text_response_builds_the_c_us_id_from_a_baileys_key():
    body = {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True, "id": "3EB0ABC"}}

    assert parse_send_text_response(body, "5511987654321@c.us", None) == "true_5511987654321@c.us_3EB0ABC"
    assert parse_send_text_response(b"", "5511@c.us", "BBB") == "true_5511@c.us_BBB"
    assert (
        parse_send_text_response('{"id":{"_serialized":"true_1@c.us_Z"}}', "1@c.us", None) == "true_1@c.us_Z"
    )
    with pytest.raises(WahaError):
        parse_send_text_response("not json", "1@c.us", None)


def test_seen_and_typing_calls_succeed_on_a_working_session(waha_client):
    waha_client.send_seen("5511987654321@c.us", message_ids=["false_5511987654321@c.us_AAA"])
    waha_client.start_typing("5511987654321@c.us")
    waha_client.stop_typing("5511987654321@c.us")


def test_new_message_id_returns_a_fresh_id_each_time(waha_client):
    first, second = waha_client.new_message_id(), waha_client.new_message_id()

    assert first and second and first != second


# --- numbers ------------------------------------------------------------------------------------------------


def test_check_exists_answers_the_chat_id_whatsapp_knows_for_a_brazilian_number_without_the_ninth_digit(
    waha_client,
):
    assert waha_client.check_exists("+55 (21) 98888-7777") == "552188887777@c.us"
    assert waha_client.check_exists("5511987654321") == "5511987654321@c.us"


def test_check_exists_returns_none_for_a_number_not_on_whatsapp(waha_simulator, waha_client):
    waha_simulator.add_contact("5511922223333", None)

    assert waha_client.check_exists("5511911110000") is None
    assert waha_client.check_exists("5511922223333") is None


def test_lid_lookups_resolve_in_both_directions_after_an_inbound_message_from_a_lid(
    waha_simulator, waha_client
):
    inbound = waha_simulator.inbound("5511987654321", "oi", lid=True)

    assert waha_client.lid_to_phone(inbound["lid"]) == "5511987654321@c.us"
    assert waha_client.phone_to_lid("5511987654321") == inbound["lid"]
    assert waha_client.lid_to_phone("999@lid") is None
    assert waha_client.phone_to_lid("5511900001111") is None


# --- sessions -----------------------------------------------------------------------------------------------


def test_session_calls_drive_the_session_lifecycle(waha_simulator, waha_client):
    assert waha_client.get_session()["status"] == "WORKING"
    assert waha_client.me()["id"].endswith("@c.us")

    assert waha_client.stop_session()["status"] == "STOPPED"
    assert waha_client.list_sessions(all=False) == []
    assert [s["name"] for s in waha_client.list_sessions()] == ["default"]

    waha_client.start_session()
    waha_simulator.wait_for_status("WORKING")
    waha_client.restart_session()
    waha_simulator.wait_for_status("WORKING")

    waha_client.logout_session()
    waha_simulator.wait_for_status("SCAN_QR_CODE")
    assert waha_client.me() is None
    assert waha_client.qr_png().startswith(b"\x89PNG")
    assert waha_client.qr_raw().startswith("2@")


def test_upsert_session_creates_a_started_session_with_our_webhook_config(waha_simulator, waha_client):
    waha_client.upsert_session("sales", webhook_url="http://127.0.0.1:9/hook", hmac_key="k1")

    info = waha_simulator.wait_for_status("SCAN_QR_CODE", session="sales")
    [hook] = info["config"]["webhooks"]
    assert hook == {
        "url": "http://127.0.0.1:9/hook",
        "events": DEFAULT_EVENTS,
        "hmac": {"key": "k1"},
        "retries": {"policy": "constant", "delaySeconds": 2, "attempts": 15},
    }


def test_upsert_session_updates_an_existing_session_and_keeps_it_started(waha_simulator, waha_client):
    waha_client.upsert_session(webhook_url="http://127.0.0.1:9/new", hmac_key="", events=["message"])

    info = waha_simulator.wait_for_status("WORKING")
    assert info["config"]["webhooks"][0]["url"] == "http://127.0.0.1:9/new"
    assert info["config"]["webhooks"][0]["events"] == ["message"]
    assert "hmac" not in info["config"]["webhooks"][0]


def test_ping_and_server_version(waha_client):
    assert waha_client.ping() is True
    assert waha_client.server_version()["version"] == "2026.7.1"


def test_get_client_is_one_cached_instance_built_from_settings(settings):
    settings.WAHA_BASE_URL = "http://127.0.0.1:3999"
    settings.WAHA_API_KEY = "from-settings"
    get_client.cache_clear()
    try:
        client = get_client()
        assert client is get_client()
        assert client.base_url == "http://127.0.0.1:3999"
        assert client.http.headers["X-Api-Key"] == "from-settings"
    finally:
        get_client.cache_clear()


def test_the_waha_settings_fixture_points_get_client_at_the_simulator(waha_settings, waha_simulator):
    get_client().send_text("5511987654321@c.us", "via settings")

    assert waha_simulator.outbox()[-1]["text"] == "via settings"


# --- errors -------------------------------------------------------------------------------------------------


def _assert_error(
    raised: pytest.ExceptionInfo[WahaError], reason: str, permanent: bool, status: int | None
) -> None:
    error = raised.value
    assert (error.reason, error.permanent, error.status_code) == (reason, permanent, status)
    assert (
        SECRET_TEXT not in str(error) and SECRET_TEXT not in error.message and SECRET_TEXT not in repr(error)
    )


def test_a_wrong_api_key_is_a_permanent_unauthorized_error(waha_simulator):
    client = waha_simulator.client(api_key="wrong")

    with pytest.raises(WahaError) as raised:
        client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "unauthorized", True, 401)
    assert client.ping() is False


def test_a_session_that_is_not_working_is_a_transient_error(waha_simulator, waha_client):
    waha_simulator.set_session_status("STARTING")

    with pytest.raises(WahaError) as raised:
        waha_client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "session_not_working", False, 422)
    assert "STARTING" in raised.value.message


def test_an_unknown_session_is_a_permanent_error(waha_client):
    with pytest.raises(WahaError) as raised:
        waha_client.send_text("5511987654321@c.us", SECRET_TEXT, session="nope")

    _assert_error(raised, "session_not_found", True, 422)


def test_an_unknown_session_in_the_sessions_api_is_not_found(waha_client):
    with pytest.raises(WahaError) as raised:
        waha_client.get_session("nope")

    _assert_error(raised, "not_found", True, 404)


def test_error_463_on_a_cold_contact_is_a_transient_reachout_timelock(waha_simulator, waha_client, log_lines):
    waha_simulator.set_faults(timelock_cold_contacts=True)

    with pytest.raises(WahaError) as raised:
        waha_client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "reachout_timelock", False, 500)
    assert not any(SECRET_TEXT in line for line in log_lines)
    assert any("/api/sendText" in line and "500" in line for line in log_lines)


def test_a_contact_that_wrote_first_is_not_timelocked(waha_simulator, waha_client):
    waha_simulator.set_faults(timelock_cold_contacts=True)
    waha_simulator.inbound("5511987654321", "oi")

    assert waha_client.send_text("5511987654321@c.us", "resposta")


def test_a_generic_500_is_a_transient_server_error_that_never_leaks_the_echoed_text(
    waha_simulator, waha_client, log_lines
):
    waha_simulator.set_faults(error_rate=1.0)

    with pytest.raises(WahaError) as raised:
        waha_client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "server_error", False, 500)
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert log_lines, "the failure is logged"
    assert not any(SECRET_TEXT in line or "SEGREDO" in line for line in log_lines)


def test_a_slow_waha_is_a_transient_timeout(waha_simulator):
    waha_simulator.set_faults(latency_ms=400)
    client = waha_simulator.client(read_timeout=0.1)

    with pytest.raises(WahaError) as raised:
        client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "timeout", False, None)
    assert raised.value.maybe_delivered is True  # the request went out: WAHA may have sent it


def test_a_connection_dropped_after_the_request_may_have_been_delivered():
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def read_then_hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.close()

    threading.Thread(target=read_then_hang_up, daemon=True).start()
    client = WahaClient(
        base_url=f"http://127.0.0.1:{server.getsockname()[1]}", api_key="k", connect_timeout=1, read_timeout=2
    )
    try:
        with pytest.raises(WahaError) as raised:
            client.send_text("5511987654321@c.us", SECRET_TEXT)
    finally:
        server.close()

    assert raised.value.reason == "connection"
    assert raised.value.maybe_delivered is True
    assert SECRET_TEXT not in raised.value.message


def test_a_closed_port_is_a_transient_connection_error(log_lines):
    client = WahaClient(
        base_url=f"http://127.0.0.1:{_free_port()}", api_key="k", connect_timeout=1, read_timeout=1
    )

    with pytest.raises(WahaError) as raised:
        client.send_text("5511987654321@c.us", SECRET_TEXT)

    _assert_error(raised, "connection", False, None)
    assert raised.value.maybe_delivered is False  # nothing reached WAHA: safe to try again
    assert client.ping() is False
    assert not any(SECRET_TEXT in line for line in log_lines)


def test_a_request_missing_fields_is_a_permanent_validation_error(waha_client):
    with pytest.raises(WahaError) as raised:
        waha_client.send_text("", SECRET_TEXT)

    _assert_error(raised, "validation", True, 400)


def test_qr_outside_scan_state_is_reported_as_not_working(waha_client):
    with pytest.raises(WahaError) as raised:
        waha_client.qr_png()

    _assert_error(raised, "session_not_working", False, 422)


def test_a_simulator_without_a_default_session_reports_it_missing():
    with running_simulator(default_session=None) as handle:
        client: Any = handle.client()
        with pytest.raises(WahaError) as raised:
            client.check_exists("5511987654321")
        _assert_error(raised, "session_not_found", True, 422)


def test_project_code_reaches_waha_through_the_one_accessor():
    """`whatsapp.client.get_client` is the one accessor: project code calls it through the module at call time
    (`waha_api.get_client()`), never binds it with a from-import nor wraps it in its own seam, so a test
    replaces WAHA by patching that one target."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if (
            rel.parts[0] in (".venv", "node_modules")
            or "tests" in rel.parts
            or rel.parts[:2]
            == (
                "whatsapp",
                "simulator",
            )
        ):
            continue
        if rel.parts[:2] == ("whatsapp", "client"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "whatsapp.client":
                if any(alias.name in ("get_client", "WahaClient") for alias in node.names):
                    offenders.append(f"{rel}:{node.lineno} imports {node.module}.get_client/WahaClient")
            elif isinstance(node, ast.FunctionDef) and node.name == "waha_client":
                offenders.append(f"{rel}:{node.lineno} defines its own waha_client()")
    assert offenders == []
