"""Project-wide pytest configuration."""

from __future__ import annotations

import contextlib

import pytest

pytest_plugins = ["whatsapp.simulator.pytest_plugin", "billing.pix_api.simulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default PBKDF2 iterations dominate test time for anything that logs in.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _quiet_metrics_window(monkeypatch):
    """The request-metrics window flushes its counters to the cache every FLUSH_SECONDS of wall time. In a
    long suite that flush lands in whichever request comes next and adds cache queries to a page's query-count
    assertion (it failed CI that way). Each test starts with an empty window that flushes only on a 5xx or
    when read (`error_window`); a test of the timed flush sets FLUSH_SECONDS itself."""
    from cobranca import middleware

    monkeypatch.setattr(middleware, "FLUSH_SECONDS", 10**9)
    with middleware.WINDOW.lock:
        middleware.WINDOW.counts = {}


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters live in the shared cache (database or Redis): start every test from zero."""
    from django.core.cache import cache

    # The cache table may not exist in tests without database access.
    with contextlib.suppress(Exception):
        cache.clear()
    yield
