"""The API Pix client's configuration: settings, mutual TLS refusal, system checks, error classification."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from billing.pix_api import PixApiClient, PixApiError, PixNotFound, classify_response, get_pix_client

LOCAL = {
    "PIX_API_BASE_URL": "http://127.0.0.1:3200/v2",
    "PIX_OAUTH_URL": "http://127.0.0.1:3200/oauth/token",
    "PIX_CLIENT_ID": "cobranca",
    "PIX_CLIENT_SECRET": "s3cret",
    "PIX_CERT_FILE": "",
    "PIX_KEY_FILE": "",
}


@pytest.fixture(autouse=True)
def _fresh_clients():
    get_pix_client.cache_clear()
    yield
    get_pix_client.cache_clear()


def _response(status: int, body: bytes, content_type: str = "application/problem+json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


def test_it_refuses_a_psp_off_the_loopback_without_certificate_and_key():
    with pytest.raises(ValueError, match="PIX_CERT_FILE and PIX_KEY_FILE"):
        PixApiClient("https://pix.psp.example/api/v2", "https://pix.psp.example/oauth/token", "id", "secret")


def test_it_refuses_a_remote_token_endpoint_without_certificate_even_with_a_local_api():
    with pytest.raises(ValueError, match="PIX_CERT_FILE"):
        PixApiClient("http://127.0.0.1:3200/v2", "https://auth.psp.example/oauth/token", "id", "secret")


def test_it_refuses_a_certificate_without_its_key(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ValueError, match="together"):
        PixApiClient(
            "https://pix.psp.example/v2", "https://pix.psp.example/oauth", "id", "s", cert_file=str(cert)
        )


def test_it_refuses_a_certificate_file_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="PIX_KEY_FILE is not a readable file"):
        PixApiClient(
            "https://pix.psp.example/v2",
            "https://pix.psp.example/oauth",
            "id",
            "s",
            cert_file=__file__,
            key_file=str(tmp_path / "missing.key"),
        )


def test_it_accepts_a_remote_psp_with_certificate_and_key(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("y")
    client = PixApiClient(
        "https://pix.psp.example/api/v2/",
        "https://pix.psp.example/oauth/token",
        "id",
        "s",
        cert_file=str(cert),
        key_file=str(key),
    )
    assert client.mtls and client.http.cert == (str(cert), str(key))
    assert client.base_url == "https://pix.psp.example/api/v2"


def test_the_loopback_simulator_needs_no_certificate():
    client = PixApiClient(LOCAL["PIX_API_BASE_URL"], LOCAL["PIX_OAUTH_URL"], "id", "very-s3cret")
    assert not client.mtls and client.http.cert is None
    assert "very-s3cret" not in repr(client)


def test_get_pix_client_names_the_missing_setting(settings):
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    settings.PIX_CLIENT_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="PIX_CLIENT_SECRET"):
        get_pix_client()


def test_get_pix_client_turns_a_missing_certificate_into_improperly_configured(settings):
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    settings.PIX_API_BASE_URL = "https://pix.psp.example/api/v2"
    with pytest.raises(ImproperlyConfigured, match="PIX_CERT_FILE"):
        get_pix_client()


def test_get_pix_client_keeps_one_client_per_configuration(settings):
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    first = get_pix_client()
    assert get_pix_client() is first
    settings.PIX_CLIENT_ID = "another"
    second = get_pix_client()
    assert second is not first and second.client_id == "another"


def test_a_problem_json_400_is_a_permanent_invalid_request_without_the_echoed_values():
    body = (
        b'{"type": "https://pix.bcb.gov.br/api/v2/error/CobVOperacaoInvalida", "title": "Cobranca invalida",'
        b' "status": 400, "detail": "A requisicao nao respeita o schema.",'
        b' "violacoes": [{"razao": "CPF invalido", "propriedade": "cobv.devedor.cpf",'
        b' "valor": "12345678900"}]}'
    )
    error = classify_response(_response(400, body), "/cobv/abc")
    assert (error.reason, error.permanent, error.status) == ("invalid_request", True, 400)
    assert error.title == "Cobranca invalida" and error.detail == "A requisicao nao respeita o schema."
    assert error.violacoes == [{"razao": "CPF invalido", "propriedade": "cobv.devedor.cpf"}]
    assert "12345678900" not in str(error)


def test_a_404_is_pix_not_found_and_permanent():
    error = classify_response(
        _response(404, b'{"type": "x", "title": "Not found", "status": 404}'), "/pix/E1"
    )
    assert isinstance(error, PixNotFound) and isinstance(error, PixApiError)
    assert (error.reason, error.permanent, error.status, error.title) == ("not_found", True, 404, "Not found")


@pytest.mark.parametrize(
    ("status", "reason", "permanent"),
    [
        (401, "unauthorized", True),
        (403, "forbidden", True),
        (409, "invalid_request", True),
        (408, "timeout", False),
        (429, "rate_limited", False),
        (500, "server_error", False),
        (503, "server_error", False),
    ],
)
def test_statuses_are_classified(status, reason, permanent):
    error = classify_response(_response(status, b"{}"), "/cobv/x")
    assert (error.reason, error.permanent, error.status) == (reason, permanent, status)


def test_a_5xx_body_other_than_a_problem_is_never_read_into_the_error():
    body = b'{"title": "echo", "detail": "devedor Francisco cpf 12345678909"}'
    for content_type in ("application/json", "text/html"):
        error = classify_response(_response(500, body, content_type), "/cobv/x")
        assert "Francisco" not in str(error) and error.detail == "" and error.title == ""


def test_a_503_problem_keeps_its_title():
    body = b'{"type": "x/ServicoIndisponivel", "title": "Servico Indisponivel", "status": 503}'
    error = classify_response(_response(503, body), "/pix")
    assert (error.reason, error.permanent, error.title) == ("server_error", False, "Servico Indisponivel")


def _ids(settings) -> set[str]:
    return {message.id for message in run_checks() if message.id and message.id.startswith("pix.")}


def test_the_default_static_provider_needs_nothing(settings):
    settings.PIX_PROVIDER = "static"
    assert _ids(settings) == set()


def test_api_pix_without_its_settings_is_an_error_naming_each_variable(settings):
    settings.PIX_PROVIDER = "api_pix"
    for name in LOCAL:
        setattr(settings, name, "")
    settings.PIX_WEBHOOK_TOKEN = ""
    messages = [m for m in run_checks() if m.id and m.id.startswith("pix.")]
    text = " ".join(m.msg for m in messages)
    for name in (
        "PIX_API_BASE_URL",
        "PIX_OAUTH_URL",
        "PIX_CLIENT_ID",
        "PIX_CLIENT_SECRET",
        "PIX_WEBHOOK_TOKEN",
    ):
        assert name in text
    assert all(m.is_serious() for m in messages)


def test_api_pix_on_the_loopback_with_its_settings_passes(settings):
    settings.PIX_PROVIDER = "api_pix"
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    settings.PIX_WEBHOOK_TOKEN = "t" * 32
    assert _ids(settings) == set()


def test_api_pix_off_the_loopback_without_certificate_is_an_error(settings):
    settings.PIX_PROVIDER = "api_pix"
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    settings.PIX_API_BASE_URL = "https://pix.psp.example/api/v2"
    settings.PIX_WEBHOOK_TOKEN = "t" * 32
    assert _ids(settings) == {"pix.E005"}


def test_a_short_webhook_token_is_a_warning(settings):
    settings.PIX_PROVIDER = "api_pix"
    for name, value in LOCAL.items():
        setattr(settings, name, value)
    settings.PIX_WEBHOOK_TOKEN = "short"
    assert _ids(settings) == {"pix.W001"}


def test_a_fine_above_two_percent_is_an_error_whatever_the_provider(settings):
    settings.PIX_PROVIDER = "static"
    settings.PIX_FINE_PERCENT = Decimal("2.5")
    assert _ids(settings) == {"pix.E006"}
    settings.PIX_FINE_PERCENT = Decimal("2")
    assert _ids(settings) == set()


def test_make_run_starts_the_psp_simulator_only_for_a_loopback_api_pix(settings):
    from cobranca.management.commands.devserver import pix_simulator_argv, pix_simulator_wanted

    settings.PIX_PROVIDER = "static"
    settings.PIX_API_BASE_URL = "http://127.0.0.1:3211/v2"
    assert not pix_simulator_wanted()
    settings.PIX_PROVIDER = "api_pix"
    assert pix_simulator_wanted()
    settings.PIX_WEBHOOK_TOKEN = "tok" * 11
    settings.PIX_KEY = "pix@cobranca.example"
    argv = pix_simulator_argv(["python", "manage.py"], 8111)
    assert argv[2:] == [
        "pix_simulator",
        "--port",
        "3211",
        "--webhook-url",
        f"http://127.0.0.1:8111/webhook/pix/{'tok' * 11}",
        "--chave",
        "pix@cobranca.example",
    ]
    settings.PIX_API_BASE_URL = "https://pix.psp.example/api/v2"
    assert not pix_simulator_wanted()
