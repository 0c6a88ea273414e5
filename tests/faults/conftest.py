"""Fixtures of the fault tests: the simulator wired to the real webhook (live_server), tasks run inline."""

from __future__ import annotations

import collections

import pytest
from django.utils.module_loading import import_string

KEY = "faults-hmac-key"


@pytest.fixture
def processing_calls(monkeypatch):
    """django-q tasks run inline in the request thread (as in whatsapp/tests/test_e2e_webhooks.py); every
    call is counted: {(task path, args): n}."""
    calls: collections.Counter = collections.Counter()

    def run_inline(func, *args, **kwargs):
        calls[(func, args)] += 1
        return import_string(func)(*args, **kwargs)

    monkeypatch.setattr("django_q.tasks.async_task", run_inline)
    return calls


@pytest.fixture
def wired(live_server, waha_settings, waha_simulator, processing_calls):
    """Simulator → live_server `/webhook/waha`, signed with HMAC."""
    waha_settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    waha_settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    waha_settings.CHATBOT_ENABLED = False  # another module with its own tests; here it would only add noise
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=KEY)
    return waha_simulator
