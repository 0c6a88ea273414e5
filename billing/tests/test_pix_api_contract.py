"""Contract: what our API Pix client sends and what the PSP simulator answers and posts, against the BCB spec.

Every request body the client sends (as the simulator received it), every answer the simulator gave to the
client (captured from the client's session), and every webhook body the simulator posted are validated against
the schemas of docs/specs/pix/openapi.yaml, with the few corrections listed in ``pix_contract.CORRECTIONS``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from billing.pix_api import PixApiError, PixNotFound
from billing.pix_api.simulator import parse_brcode
from billing.tests import pix_contract

TXID = "cobranca0000000000000000001"
E2EID = re.compile(r"^E\d{8}(\d{12})[a-zA-Z0-9]{11}$")


def cobv_body(amount: str = "150.00") -> dict:
    """A charge as the payments code sends it: due date, debtor, fine, interest and a discount."""
    return {
        "calendario": {"dataDeVencimento": "2026-12-31", "validadeAposVencimento": 30},
        "devedor": {"cpf": "12345678909", "nome": "Francisco da Silva"},
        "valor": {
            "original": amount,
            "multa": {"modalidade": 2, "valorPerc": "2.00"},
            "juros": {"modalidade": 3, "valorPerc": "1.00"},
            "desconto": {"modalidade": 1, "descontoDataFixa": [{"data": "2026-12-20", "valorPerc": "10.00"}]},
        },
        "chave": "pix@cobranca.example",
        "solicitacaoPagador": "Cobrança 123 - Cobrança Inteligente",
    }


@pytest.fixture
def captured(pix_client):
    """Every answer the client receives: (method, API path, status, content type, JSON or None)."""
    answers: list[tuple[str, str, int, str, object]] = []
    api_root = urlsplit(pix_client.base_url).path

    def record(response: requests.Response, *args, **kwargs):
        path = urlsplit(response.request.url).path
        if path.startswith(api_root + "/"):
            body = response.json() if response.content else None
            kind = response.headers.get("Content-Type", "").split(";")[0]
            answers.append((response.request.method, path[len(api_root) :], response.status_code, kind, body))
        return response

    pix_client.http.hooks["response"].append(record)
    return answers


def _assert_answers_follow_the_spec(answers) -> None:
    assert answers, "nothing was captured"
    for method, path, status, kind, body in answers:
        template = pix_contract.template_for(path)
        expected_kind, schema = pix_contract.response_schema(method, template, status)
        if not expected_kind:
            assert body is None, f"{method} {path} {status} should have no body"
            continue
        assert kind == expected_kind, f"{method} {path} {status}: {kind} instead of {expected_kind}"
        pix_contract.assert_valid(body, schema)


def _assert_requests_follow_the_spec(pix_simulator) -> None:
    sent = [r for r in pix_simulator.state.requests if r["body"] is not None]
    assert sent
    for request in sent:
        template = pix_contract.template_for(request["path"].removeprefix("/v2"))
        pix_contract.assert_valid(request["body"], pix_contract.request_schema(request["method"], template))


def test_a_whole_payment_cycle_follows_the_spec(pix_simulator, pix_client, captured, pix_webhook_receiver):
    created = pix_client.put_cobv(TXID, cobv_body())
    assert created["status"] == "ATIVA" and created["revisao"] == 0 and created["txid"] == TXID
    revised = pix_client.patch_cobv(
        TXID, {"valor": {"original": "140.00"}, "calendario": {"dataDeVencimento": "2027-01-15"}}
    )
    assert revised["revisao"] == 1 and revised["valor"]["original"] == "140.00"
    assert revised["valor"]["multa"] == {"modalidade": 2, "valorPerc": "2.00"}
    pix_client.put_webhook("pix@cobranca.example", pix_webhook_receiver.url)

    paid = pix_simulator.pay(TXID, times=2)
    partial = pix_simulator.pay(TXID, partial=True)
    forged = pix_simulator.notify_forged(txid=TXID, valor="140.00")

    assert pix_client.get_pix(paid["pix"]["endToEndId"])["valor"] == "140.00"
    assert pix_client.get_pix(partial["pix"]["endToEndId"])["valor"] == "70.00"
    with pytest.raises(PixNotFound):
        pix_client.get_pix(forged["pix"]["endToEndId"])
    completed = pix_client.get_cobv(TXID)
    assert completed["status"] == "CONCLUIDA" and len(completed["pix"]) == 2
    listed = list(
        pix_client.list_pix(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    )
    assert {p["endToEndId"] for p in listed} == {paid["pix"]["endToEndId"], partial["pix"]["endToEndId"]}

    _assert_answers_follow_the_spec(captured)
    _assert_requests_follow_the_spec(pix_simulator)
    posts = pix_webhook_receiver.wait_for(4)
    assert [path for path, _ in posts] == ["/webhook/pix/test-token/pix"] * 4
    for _, body in posts:
        pix_contract.assert_valid(body, pix_contract.webhook_schema())
        assert body["pix"][0]["txid"] == TXID
    assert posts[0][1] == posts[1][1], "times=2 notifies the same Pix twice"


def test_problem_answers_follow_the_spec(pix_simulator, pix_client, captured):
    pix_client.backoff_base = 0
    with pytest.raises(PixNotFound):
        pix_client.get_cobv(TXID)
    bad = cobv_body()
    bad["devedor"]["cpf"] = "123"
    with pytest.raises(PixApiError) as invalid:
        pix_client.put_cobv(TXID, bad)
    assert invalid.value.status == 400
    pix_client.put_cobv(TXID, cobv_body())
    pix_simulator.pay(TXID, valor="150.00")
    with pytest.raises(PixApiError) as concluded:
        pix_client.patch_cobv(TXID, {"valor": {"original": "1.00"}})
    assert "ATIVA" in concluded.value.detail
    pix_simulator.faults(status_5xx=3)
    with pytest.raises(PixApiError) as unavailable:
        pix_client.get_cobv(TXID)
    assert unavailable.value.status == 503
    kinds = {(status, kind) for _, _, status, kind, _ in captured if status >= 400}
    assert kinds == {
        (404, "application/problem+json"),
        (400, "application/problem+json"),
        (503, "application/problem+json"),
    }
    for _, _, status, _, body in captured:
        if status >= 400:
            pix_contract.assert_valid(body, "Problema")
    _assert_answers_follow_the_spec([a for a in captured if a[2] != 400])


def test_the_copy_and_paste_code_is_a_valid_brcode_for_the_amount(pix_client):
    created = pix_client.put_cobv(TXID, cobv_body("1234.50"))
    fields = parse_brcode(created["pixCopiaECola"])
    assert fields["00"] == "01" and fields["01"] == "12" and fields["26.00"] == "br.gov.bcb.pix"
    assert fields["26.25"] == created["loc"]["location"] and fields["54"] == "1234.50"
    assert fields["53"] == "986" and fields["58"] == "BR" and fields["62.05"] == "***"
    revised = pix_client.patch_cobv(TXID, {"valor": {"original": "99.90"}})
    assert parse_brcode(revised["pixCopiaECola"])["54"] == "99.90"
    assert len(created["pixCopiaECola"]) <= 512


def test_a_brcode_with_a_wrong_crc_is_refused():
    from billing.pix_api.simulator import dynamic_brcode

    code = dynamic_brcode(
        location="psp.example/qr/v2/cobv/1", amount=Decimal("10.00"), name="Credor", city="Recife"
    )
    with pytest.raises(ValueError, match="CRC"):
        parse_brcode(code[:-1] + ("0" if code[-1] != "0" else "1"))


def test_end_to_end_ids_are_well_formed(pix_simulator, pix_client):
    pix_client.put_cobv(TXID, cobv_body())
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    e2e = pix_simulator.pay(TXID)["pix"]["endToEndId"]
    match = E2EID.fullmatch(e2e)
    assert match and len(e2e) == 32
    stamp = datetime.strptime(match.group(1), "%Y%m%d%H%M").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)


def test_a_repeated_put_returns_the_same_charge_and_a_different_one_is_refused(pix_client):
    first = pix_client.put_cobv(TXID, cobv_body())
    assert pix_client.put_cobv(TXID, cobv_body()) == first
    with pytest.raises(PixApiError) as refused:
        pix_client.put_cobv(TXID, cobv_body("1.00"))
    assert (refused.value.reason, refused.value.permanent) == ("invalid_request", True)


# --- the corrections to the spec are each needed ----------------------------------------------------------


def test_the_spec_as_written_refuses_a_real_cpf():
    devedor = {"devedor": {"cpf": "12345678909", "nome": "Fulano"}}
    assert pix_contract.schema_errors(devedor, "DadosDevedor", corrected=False)
    assert pix_contract.schema_errors(devedor, "DadosDevedor") == []
    assert pix_contract.schema_errors({"devedor": {"cpf": "123", "nome": "F"}}, "DadosDevedor")


def test_the_spec_as_written_asks_a_pix_list_for_cobs():
    listing = {
        "parametros": {
            "inicio": "2026-01-01T00:00:00Z",
            "fim": "2026-01-02T00:00:00Z",
            "paginacao": {
                "paginaAtual": 0,
                "itensPorPagina": 100,
                "quantidadeDePaginas": 1,
                "quantidadeTotalDeItens": 0,
            },
        },
        "pix": [],
    }
    assert any("cobs" in e for e in pix_contract.schema_errors(listing, "PixConsultados", corrected=False))
    assert pix_contract.schema_errors(listing, "PixConsultados") == []
    assert pix_contract.schema_errors({"parametros": listing["parametros"]}, "PixConsultados")


def test_the_spec_as_written_wants_the_receivers_address_beside_the_charge(pix_client):
    created = pix_client.put_cobv(TXID, cobv_body())
    assert any("logradouro" in e for e in pix_contract.schema_errors(created, "CobVGerada", corrected=False))
    assert pix_contract.schema_errors(created, "CobVGerada") == []
    del created["recebedor"]["cep"]
    assert pix_contract.schema_errors(created, "CobVGerada"), "the corrected spec still wants it in recebedor"
