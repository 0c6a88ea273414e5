"""Test support shared by every app's end-to-end tests."""

from __future__ import annotations

from urllib.parse import quote

from django.db import connection


def subprocess_database_url() -> str:
    """DATABASE_URL of the database this test process uses, for the real processes an e2e test starts.

    Under pytest-django that is the test database (a file for SQLite, `test_<name>` on PostgreSQL); the test
    must use `transactional_db` so the subprocess sees committed rows.
    """
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(settings.get("USER") or "", safe="")
        password = quote(settings.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings.get("HOST") or "127.0.0.1"
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{settings['NAME']}"
    raise RuntimeError(f"unsupported database vendor for subprocesses: {connection.vendor}")
