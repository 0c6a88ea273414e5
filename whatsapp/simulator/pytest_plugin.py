"""pytest fixtures for the WAHA simulator, registered for the whole project by the root conftest.py.

- ``waha_simulator``: a running simulator (function scope) whose session "default" is already WORKING;
  point its webhooks with ``waha_simulator.set_webhook(url, hmac_key)``.
- ``waha_client``: a ``WahaClient`` aimed at that simulator.
- ``waha_settings``: Django settings (``WAHA_BASE_URL``, ``WAHA_API_KEY``) aimed at that simulator, with the
  process-wide ``get_client()`` cache cleared before and after, so code under test that calls ``get_client()``
  talks to the simulator.
- ``webhook_receiver``: a loopback endpoint that records webhook posts (``fail_next`` makes it answer 500).

Imports are lazy so that merely registering the plugin costs nothing for test runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def waha_simulator() -> Iterator[Any]:
    from whatsapp.simulator.testing import running_simulator

    with running_simulator() as handle:
        yield handle


@pytest.fixture
def waha_client(waha_simulator: Any) -> Iterator[Any]:
    client = waha_simulator.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def waha_settings(waha_simulator: Any, settings: Any) -> Iterator[Any]:
    from whatsapp.client import get_client

    settings.WAHA_BASE_URL = waha_simulator.base_url
    settings.WAHA_API_KEY = waha_simulator.api_key
    settings.WAHA_SESSION_NAME = "default"
    get_client.cache_clear()
    try:
        yield settings
    finally:
        get_client.cache_clear()


@pytest.fixture
def webhook_receiver() -> Iterator[Any]:
    from whatsapp.simulator.testing import running_webhook_receiver

    with running_webhook_receiver() as receiver:
        yield receiver
