"""Project-wide pytest configuration."""

from __future__ import annotations

import pytest

pytest_plugins = ["whatsapp.simulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default PBKDF2 iterations dominate test time for anything that logs in.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
