"""Mutual TLS for real: the simulator serving https and requiring a client certificate signed by its CA.

The certificates are made for each run with the openssl command line (skipped where there is none): a CA, a
server certificate for 127.0.0.1 and a client certificate, as a PSP issues them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from billing.pix_api import PixApiClient, PixApiError
from billing.pix_api.simulator import Options
from billing.pix_api.simulator.testing import CLIENT_ID, CLIENT_SECRET, running_pix_simulator
from billing.tests.test_pix_api_contract import TXID, cobv_body

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command is not installed"
)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _signed(name: str, subject: str, extension: str, cwd: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd)
    (cwd / f"{name}.ext").write_text(extension + "\n")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=PSP CA",
        cwd=root,
    )
    _signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1", root)
    _signed("client", "/CN=cobranca", "extendedKeyUsage=clientAuth", root)
    return root


@pytest.fixture
def tls_simulator(pki):
    options = Options(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        tls_cert=str(pki / "server.crt"),
        tls_key=str(pki / "server.key"),
        tls_client_ca=str(pki / "ca.crt"),
    )
    with running_pix_simulator(options) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _trust_the_test_ca(pki, monkeypatch):
    # How an operator trusts a PSP whose server certificate chains to a CA outside Mozilla's bundle
    # (ICP-Brasil, a private CA): requests reads REQUESTS_CA_BUNDLE (docs/payments.md).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "ca.crt"))


def test_the_client_presents_its_certificate_to_the_token_endpoint_and_the_api(pki, tls_simulator):
    assert tls_simulator.base_url.startswith("https://127.0.0.1:")
    client = PixApiClient(
        tls_simulator.base_url,
        tls_simulator.oauth_url,
        CLIENT_ID,
        CLIENT_SECRET,
        cert_file=str(pki / "client.crt"),
        key_file=str(pki / "client.key"),
        timeout=5.0,
    )
    assert client.put_cobv(TXID, cobv_body())["status"] == "ATIVA"
    assert tls_simulator.state.tokens_issued == 1


def test_without_a_client_certificate_the_handshake_fails_as_a_transient_connection_error(pki, tls_simulator):
    client = PixApiClient(
        tls_simulator.base_url, tls_simulator.oauth_url, CLIENT_ID, CLIENT_SECRET, retries=0
    )
    with pytest.raises(PixApiError) as refused:
        client.get_cobv(TXID)
    assert (refused.value.reason, refused.value.permanent) == ("connection", False)
    assert tls_simulator.state.tokens_issued == 0
