"""The API Pix client against the real PSP simulator on a loopback port: tokens, retries, errors, paging."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from billing.pix_api import PixApiError, PixNotFound
from billing.pix_api import client as client_module
from billing.pix_api.simulator import Options
from billing.pix_api.simulator.testing import CLIENT_ID, CLIENT_SECRET, running_pix_simulator
from billing.tests.test_pix_api_contract import TXID, cobv_body

HOUR = timedelta(hours=1)


def _api_calls(simulator, path_prefix: str = "/v2/") -> list[dict]:
    return [r for r in simulator.state.requests if r["path"].startswith(path_prefix)]


def test_the_token_is_fetched_once_and_reused(pix_simulator, pix_client):
    pix_client.put_cobv(TXID, cobv_body())
    pix_client.get_cobv(TXID)
    pix_client.get_cobv(TXID)
    assert pix_simulator.state.tokens_issued == 1 and pix_simulator.state.unauthorized == 0


def test_a_token_near_its_expiry_is_renewed_before_a_call_fails(pix_simulator, pix_client, monkeypatch):
    pix_client.put_cobv(TXID, cobv_body())
    real = time.monotonic
    # Two hours later for both sides (they share the clock): the token's hour is over.
    monkeypatch.setattr(client_module.time, "monotonic", lambda: real() + 7200)
    pix_client.get_cobv(TXID)
    assert pix_simulator.state.tokens_issued == 2
    assert pix_simulator.state.unauthorized == 0, "the client renewed on its own, without a 401 first"


def test_tokens_the_psp_ends_early_are_renewed_once_and_the_call_retried(pix_simulator, pix_client):
    pix_client.put_cobv(TXID, cobv_body())
    assert pix_simulator.faults(expire_tokens=True)["tokens_expired"] == 1
    assert pix_client.get_cobv(TXID)["txid"] == TXID
    assert pix_simulator.state.tokens_issued == 2 and pix_simulator.state.unauthorized == 1


def test_a_psp_that_refuses_every_token_gives_up_after_one_renewal():
    options = Options(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_ttl=0)
    with running_pix_simulator(options) as simulator:
        client = simulator.client(timeout=2.0)
        with pytest.raises(PixApiError) as refused:
            client.get_cobv(TXID)
    assert (refused.value.reason, refused.value.permanent, refused.value.status) == (
        "unauthorized",
        True,
        401,
    )
    assert simulator.state.tokens_issued == 2 and simulator.state.unauthorized == 2


def test_wrong_credentials_are_a_permanent_error_that_never_shows_the_secret(pix_simulator):
    client = client_module.PixApiClient(
        pix_simulator.base_url, pix_simulator.oauth_url, CLIENT_ID, "wrong-secret-123", timeout=2.0
    )
    with pytest.raises(PixApiError) as refused:
        client.get_cobv(TXID)
    assert (refused.value.reason, refused.value.permanent) == ("unauthorized", True)
    assert "PIX_CLIENT_SECRET" in str(refused.value) and "wrong-secret-123" not in str(refused.value)
    assert _api_calls(pix_simulator) == []


def test_concurrent_calls_with_an_expired_token_renew_it_once(pix_simulator, pix_client):
    pix_client.put_cobv(TXID, cobv_body())
    pix_simulator.faults(expire_tokens=True)
    errors: list[Exception] = []

    def call():
        try:
            pix_client.get_cobv(TXID)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert pix_simulator.state.tokens_issued == 2


def test_server_errors_are_retried_until_the_psp_recovers(pix_simulator, pix_client):
    pix_client.put_cobv(TXID, cobv_body())
    pix_simulator.faults(status_5xx=2)
    assert pix_client.get_cobv(TXID)["txid"] == TXID
    assert len([r for r in _api_calls(pix_simulator) if r["method"] == "GET"]) == 3


def test_a_token_endpoint_that_fails_once_is_retried(pix_simulator, pix_client):
    pix_simulator.faults(oauth_5xx=1)
    with pytest.raises(PixNotFound):
        pix_client.get_cobv(TXID)
    assert pix_simulator.state.tokens_issued == 1 and pix_simulator.state.faults.oauth_5xx == 0


def test_server_errors_beyond_the_retries_are_a_transient_error(pix_simulator, pix_client):
    pix_simulator.faults(status_5xx=3)
    with pytest.raises(PixApiError) as failed:
        pix_client.get_pix("E60701190202612070440aaaaaaaaaaa")
    assert (failed.value.reason, failed.value.permanent, failed.value.status) == ("server_error", False, 503)
    assert failed.value.title == "Serviço Indisponível"
    assert len(_api_calls(pix_simulator)) == 3


def test_a_timeout_is_transient_and_retried(pix_simulator):
    client = pix_simulator.client(timeout=0.3, retries=0)
    client.put_cobv(TXID, cobv_body())
    # The PSP answers only after 3 s; the client gives up at its 0.3 s read timeout. The bound leaves room for
    # a loaded CI machine (a 1.0 s delay against a 0.9 s bound failed there at 1.18 s) and still fails a
    # client that waits for the answer.
    pix_simulator.faults(timeout=1, timeout_seconds=3.0)
    started = time.monotonic()
    with pytest.raises(PixApiError) as slow:
        client.get_cobv(TXID)
    assert (slow.value.reason, slow.value.permanent, slow.value.status) == ("timeout", False, None)
    assert time.monotonic() - started < 2.5
    retrying = pix_simulator.client(timeout=0.3, retries=1)
    retrying.backoff_base = 0
    pix_simulator.faults(timeout=1, timeout_seconds=1.0)
    assert retrying.get_cobv(TXID)["txid"] == TXID


def test_an_unreachable_psp_is_a_transient_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_module.PixApiClient(
        f"http://127.0.0.1:{port}/v2", f"http://127.0.0.1:{port}/oauth/token", "id", "secret", retries=0
    )
    with pytest.raises(PixApiError) as down:
        client.get_cobv(TXID)
    assert (down.value.reason, down.value.permanent) == ("connection", False)


def test_unknown_charges_and_pix_are_pix_not_found(pix_simulator, pix_client):
    with pytest.raises(PixNotFound) as cobv:
        pix_client.get_cobv(TXID)
    with pytest.raises(PixNotFound) as pix:
        pix_client.get_pix("E60701190202612070440bbbbbbbbbbb")
    assert cobv.value.permanent and pix.value.status == 404 and pix.value.title == "Não Encontrado"
    assert len(_api_calls(pix_simulator)) == 2, "a 404 is not retried"


def test_a_problem_json_refusal_is_mapped_and_not_retried(pix_simulator, pix_client):
    body = cobv_body()
    body["devedor"]["cpf"] = "1234567890"
    with pytest.raises(PixApiError) as refused:
        pix_client.put_cobv(TXID, body)
    error = refused.value
    assert (error.reason, error.permanent, error.status) == ("invalid_request", True, 400)
    assert error.title == "Cobrança inválida." and "11 dígitos" in error.detail
    assert error.violacoes == [
        {"razao": "O campo cobv.devedor.cpf não respeita o _schema_.", "propriedade": "cobv.devedor.cpf"}
    ]
    assert "1234567890" not in str(error)
    assert len(_api_calls(pix_simulator)) == 1


def test_list_pix_follows_every_page(pix_simulator, pix_client):
    for n in range(250):
        pix_simulator.state.record_pix(txid=f"{TXID[:-3]}{n:03d}", valor=Decimal("10.00"))
    now = datetime.now(UTC)
    listed = list(pix_client.list_pix(now - HOUR, now + HOUR))
    assert len({p["endToEndId"] for p in listed}) == 250
    pages = [r["query"]["paginacao.paginaAtual"] for r in _api_calls(pix_simulator, "/v2/pix")]
    assert pages == ["0", "1", "2"]


def test_list_pix_with_nothing_received_makes_one_call(pix_simulator, pix_client):
    now = datetime.now(UTC)
    assert list(pix_client.list_pix(now - HOUR, now)) == []
    assert len(_api_calls(pix_simulator, "/v2/pix")) == 1


def test_list_pix_sends_rfc3339_times_and_refuses_naive_ones(pix_simulator, pix_client):
    with pytest.raises(ValueError, match="inicio"):
        list(pix_client.list_pix(datetime(2026, 1, 1), datetime.now(UTC)))
    list(pix_client.list_pix(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, 12, 30, tzinfo=UTC)))
    query = _api_calls(pix_simulator, "/v2/pix")[0]["query"]
    assert (query["inicio"], query["fim"]) == ("2026-01-01T00:00:00Z", "2026-01-02T12:30:00Z")


def test_put_webhook_registers_the_url_the_notifications_go_to(
    pix_simulator, pix_client, pix_webhook_receiver
):
    assert pix_client.put_webhook("pix@cobranca.example", pix_webhook_receiver.url) is None
    assert pix_simulator.snapshot()["webhooks"][0]["webhookUrl"] == pix_webhook_receiver.url
    pix_client.put_cobv(TXID, cobv_body())
    paid = pix_simulator.pay(TXID)
    assert paid["deliveries"][0]["status"] == 200
    path, body = pix_webhook_receiver.wait_for(1)[0]
    assert path == "/webhook/pix/test-token/pix" and body == {"pix": [paid["pix"]]}


def test_a_forged_notification_names_a_pix_the_psp_never_received(
    pix_simulator, pix_client, pix_webhook_receiver
):
    pix_client.put_webhook("pix@cobranca.example", pix_webhook_receiver.url)
    forged = pix_simulator.notify_forged(valor="99.00")
    _, body = pix_webhook_receiver.wait_for(1)[0]
    assert body["pix"][0]["endToEndId"] == forged["pix"]["endToEndId"]
    with pytest.raises(PixNotFound):
        pix_client.get_pix(forged["pix"]["endToEndId"])


def test_the_simulator_accepts_form_credentials_and_refuses_other_grants(pix_simulator):
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert requests.post(pix_simulator.oauth_url, data=form, timeout=5).json()["token_type"] == "Bearer"
    form["grant_type"] = "password"
    assert requests.post(pix_simulator.oauth_url, data=form, timeout=5).status_code == 400


def test_the_simulator_refuses_api_calls_without_a_token(pix_simulator):
    answer = requests.get(pix_simulator.base_url + f"/cobv/{TXID}", timeout=5)
    assert answer.status_code == 401 and answer.headers["Content-Type"].startswith("application/problem+json")
