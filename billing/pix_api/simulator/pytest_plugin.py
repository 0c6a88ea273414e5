"""pytest fixtures for the PSP simulator, registered for the whole project by the root conftest.py.

- ``pix_simulator``: a running simulator (function scope) that knows the test client credentials.
- ``pix_client``: a ``PixApiClient`` aimed at it (short back-off so retries cost little).
- ``pix_settings``: the ``PIX_*`` settings aimed at it (PIX_PROVIDER=api_pix), the ``get_pix_client()`` cache
  cleared before and after, so code under test that calls ``get_pix_client()`` talks to the simulator.
- ``pix_webhook_receiver``: a loopback endpoint that records the simulator's webhook posts.

Imports are lazy so that registering the plugin costs nothing for test runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def pix_simulator() -> Iterator[Any]:
    from billing.pix_api.simulator.testing import running_pix_simulator

    with running_pix_simulator() as handle:
        yield handle


@pytest.fixture
def pix_client(pix_simulator: Any) -> Iterator[Any]:
    client = pix_simulator.client(timeout=2.0)
    client.backoff_base = 0.01
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pix_settings(pix_simulator: Any, settings: Any) -> Iterator[Any]:
    from billing.pix_api import get_pix_client

    settings.PIX_PROVIDER = "api_pix"
    settings.PIX_API_BASE_URL = pix_simulator.base_url
    settings.PIX_OAUTH_URL = pix_simulator.oauth_url
    settings.PIX_CLIENT_ID = pix_simulator.client_id
    settings.PIX_CLIENT_SECRET = pix_simulator.client_secret
    settings.PIX_CERT_FILE = ""
    settings.PIX_KEY_FILE = ""
    get_pix_client.cache_clear()
    try:
        yield settings
    finally:
        get_pix_client.cache_clear()


@pytest.fixture
def pix_webhook_receiver() -> Iterator[Any]:
    from billing.pix_api.simulator.testing import running_webhook_receiver

    with running_webhook_receiver() as receiver:
        yield receiver
