from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cobranca import env

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(*drop: str) -> dict[str, str]:
    """The environment of this process minus what would change the settings under test.

    DJANGO_ALLOW_ASYNC_UNSAFE is set by tests/browser/conftest.py (Playwright's sync API runs an event loop)
    and is itself a deploy-check error.
    """
    excluded = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", *drop}
    return {k: v for k, v in os.environ.items() if k not in excluded}


def _settings_in_subprocess(extra_env: dict[str, str], expr: str = "settings.DATABASES['default']['ENGINE']"):
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cobranca.settings');"
        "from django.conf import settings; django.setup(); print(" + expr + ")"
    )
    run_env = _clean_env("DEBUG", "SECRET_KEY")
    run_env.update({"COBRANCA_IGNORE_DOTENV": "1", **extra_env})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True, text=True)


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "sim")
    assert env.env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "talvez")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env.env_bool("X_FLAG")


def test_a_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_REQUESTS", "cem")
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_REQUESTS"):
        env.env_int("RATE_LIMIT_REQUESTS", 100)
    monkeypatch.setenv("RATE_LIMIT_REQUESTS", "0")
    with pytest.raises(ImproperlyConfigured, match=">= 1"):
        env.env_int("RATE_LIMIT_REQUESTS", 100, minimum=1)


def test_urls_are_validated(monkeypatch):
    monkeypatch.setenv("WAHA_BASE_URL", "localhost:3000")
    with pytest.raises(ImproperlyConfigured, match="WAHA_BASE_URL"):
        env.env_url("WAHA_BASE_URL")
    monkeypatch.setenv("WAHA_BASE_URL", "http://waha:3000/")
    assert env.env_url("WAHA_BASE_URL") == "http://waha:3000"


def test_database_url_understands_sqlite_and_postgres(tmp_path):
    sqlite = env.database_from_url("DATABASE_URL", "sqlite:///var/x.db", base_dir=tmp_path)
    assert sqlite["ENGINE"].endswith("sqlite3")
    assert sqlite["NAME"] == str(tmp_path / "var/x.db")
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    absolute = env.database_from_url("DATABASE_URL", "sqlite:////tmp/abs.db", base_dir=tmp_path)
    assert absolute["NAME"] == "/tmp/abs.db"
    pg = env.database_from_url(
        "DATABASE_URL", "postgres://user:p%40ss@db.local:5433/cobranca", base_dir=tmp_path
    )
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "cobranca",
        "user",
        "p@ss",
        "db.local",
        "5433",
    )
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database_from_url("DATABASE_URL", "mysql://x/y", base_dir=tmp_path)


def test_embedded_default_is_sqlite_with_orm_broker_and_database_cache():
    result = _settings_in_subprocess(
        {},
        "settings.DATABASES['default']['ENGINE'], settings.Q_CLUSTER.get('orm'), "
        "settings.CACHES['default']['BACKEND'], settings.TIME_ZONE, settings.LANGUAGE_CODE",
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3 default" in result.stdout
    assert (
        "DatabaseCache" in result.stdout and "America/Sao_Paulo" in result.stdout and "pt-br" in result.stdout
    )


def test_redis_url_switches_broker_and_cache():
    result = _settings_in_subprocess(
        {"REDIS_URL": "redis://127.0.0.1:6379/3"},
        "settings.Q_CLUSTER.get('redis'), 'orm' in settings.Q_CLUSTER, settings.CACHES['default']['BACKEND']",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "redis://127.0.0.1:6379/3" in result.stdout
        and "False" in result.stdout
        and "RedisCache" in result.stdout
    )


def test_it_refuses_to_start_without_a_real_secret_key_when_debug_is_off():
    result = _settings_in_subprocess({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    result = _settings_in_subprocess(
        {"DEBUG": "false", "SECRET_KEY": "dev-insecure-change-me-0123456789abcdefghij"}
    )
    assert result.returncode != 0


def test_a_bad_value_in_the_environment_stops_start_up_naming_it():
    result = _settings_in_subprocess({"MODEL_DEVICE": "tpu"})
    assert result.returncode != 0
    assert "MODEL_DEVICE" in result.stderr


def test_production_settings_pass_the_deploy_check():
    code = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    run_env = _clean_env()
    run_env.update(
        {
            "COBRANCA_IGNORE_DOTENV": "1",
            "DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "-prod-secret-key-0123456789abcdef",
            "JWT_SECRET_KEY": "jwt-" + "y" * 40,
            "WAHA_WEBHOOK_HMAC_KEY": "hmac-" + "z" * 30,
            "SUPPRESSION_HASH_KEY": "suppression-" + "w" * 30,
            "HTTPS": "true",
            "ALLOWED_HOSTS": "cobranca.example.com",
        }
    )
    result = subprocess.run(code, cwd=ROOT, env=run_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_without_hmac_key_is_a_system_check_error():
    code = [sys.executable, "manage.py", "check", "--deploy"]
    run_env = _clean_env()
    run_env.update(
        {
            "COBRANCA_IGNORE_DOTENV": "1",
            "DEBUG": "false",
            "SECRET_KEY": "s" * 50,
            "WAHA_WEBHOOK_HMAC_KEY": "",
            "ALLOWED_HOSTS": "cobranca.example.com",
        }
    )
    result = subprocess.run(code, cwd=ROOT, env=run_env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "whatsapp.E001" in result.stderr + result.stdout


def test_dispatch_settings_are_declared_with_derived_defaults():
    result = _settings_in_subprocess(
        {"Q_WORKERS": "3", "Q_TIMEOUT": "60"},
        "settings.DISPATCH_DRIVER_LANES, settings.DISPATCH_DRIVER_BUDGET_SECONDS, "
        "settings.DISPATCH_PACING_BACKEND",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "24.0", "db"]
    result = _settings_in_subprocess(
        {"REDIS_URL": "redis://127.0.0.1:6379/3"}, "settings.DISPATCH_PACING_BACKEND"
    )
    assert result.stdout.strip() == "redis", result.stderr


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"DISPATCH_PACING_BACKEND": "memcached"}, "DISPATCH_PACING_BACKEND"),
        ({"DISPATCH_PACING_BACKEND": "redis"}, "REDIS_URL"),
        ({"Q_TIMEOUT": "60", "DISPATCH_DRIVER_BUDGET_SECONDS": "60"}, "DISPATCH_DRIVER_BUDGET_SECONDS"),
        ({"DISPATCH_DRIVER_LANES": "0"}, "DISPATCH_DRIVER_LANES"),
    ],
)
def test_a_bad_dispatch_setting_stops_start_up_naming_it(extra, named):
    result = _settings_in_subprocess(extra)
    assert result.returncode != 0
    assert named in result.stderr


def test_deploy_without_a_suppression_hash_key_is_a_system_check_error():
    code = [sys.executable, "manage.py", "check", "--deploy"]
    run_env = _clean_env("SUPPRESSION_HASH_KEY")
    run_env.update(
        {
            "COBRANCA_IGNORE_DOTENV": "1",
            "DEBUG": "false",
            "SECRET_KEY": "s" * 50,
            "WAHA_WEBHOOK_HMAC_KEY": "hmac-" + "z" * 30,
            "ALLOWED_HOSTS": "cobranca.example.com",
        }
    )
    result = subprocess.run(code, cwd=ROOT, env=run_env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "billing.E001" in result.stderr + result.stdout
