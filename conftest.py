"""Project-wide pytest configuration."""

from __future__ import annotations

import contextlib

import pytest

pytest_plugins = ["whatsapp.simulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default PBKDF2 iterations dominate test time for anything that logs in.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters live in the shared cache (database or Redis): start every test from zero."""
    from django.core.cache import cache

    # The cache table may not exist in tests without database access.
    with contextlib.suppress(Exception):
        cache.clear()
    yield
