"""Settings for Cobrança Inteligente.

Every value comes from the environment (see .env.example) with an embedded default that works with nothing but
Python: SQLite, the django-q2 ORM broker and a database cache. DATABASE_URL and REDIS_URL switch to PostgreSQL
and Redis without code changes.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from cobranca.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Read a local .env when present so `make run` picks up a developer's overrides; real environment wins.
_dotenv = BASE_DIR / ".env"
if _dotenv.exists() and not os.environ.get("COBRANCA_IGNORE_DOTENV"):
    for _line in _dotenv.read_text(encoding="utf-8").splitlines():
        _line = _line.strip()
        if not _line or _line.startswith("#") or "=" not in _line:
            continue
        _key, _, _value = _line.partition("=")
        os.environ.setdefault(_key.strip(), _value.strip().strip('"').strip("'"))

TESTING = "pytest" in sys.modules or env_bool("TESTING", False)

# --- Core ---------------------------------------------------------------------------------------------------

# A deliberately public development default, not a secret: the check below refuses it when DEBUG is off.
DEFAULT_SECRET_KEY = "dev-insecure-change-me-0123456789abcdefghij"  # noqa: S105
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and (not SECRET_KEY or SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters when DEBUG=False "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" + (",testserver" if TESTING else ""))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_q",
    "cobranca",
    "cobranca.dashboard",
    "audit",
    "billing",
    "conversations",
    "chatbot",
    "whatsapp",
]

MIDDLEWARE = [
    # First, so that it times (and counts the 5xx of) everything below it.
    "cobranca.middleware.RequestMetricsMiddleware",
    # Before anything that reads the body (CSRF, DRF parsers): an oversize body is refused unread.
    "cobranca.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cobranca.urls"
WSGI_APPLICATION = "cobranca.wsgi.application"
ASGI_APPLICATION = "cobranca.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cobranca.dashboard.context_processors.inbox_nav",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url("DATABASE_URL", DATABASE_URL, base_dir=BASE_DIR)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": sqlite_database(str(DATA_DIR / "db.sqlite3"))}
DB_IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -----------------------------------------------------------------------------------

REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "cobranca"),
        }
    }
else:
    # A database cache is shared by every process (web workers, qcluster), which rate limits and qinfo need.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cobranca_cache",
        }
    }

Q_WORKERS = env_int("Q_WORKERS", 2, minimum=1, maximum=64)
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "cobranca"),
    "workers": Q_WORKERS,
    # Tasks must finish well before the broker hands them out again (at-least-once delivery).
    "timeout": env_int("Q_TIMEOUT", 120, minimum=5),
    "retry": env_int("Q_RETRY", 300, minimum=10),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3, minimum=1),
    "ack_failures": True,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000, minimum=0),
    "queue_limit": 50,
    "recycle": 500,
    "catch_up": False,
    "label": "Tarefas (django-q2)",
    "orm_poll_interval": env_float("Q_POLL", 0.2, minimum=0.01) if not REDIS_URL else None,
    "poll": env_float("Q_POLL", 0.2, minimum=0.01),
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
Q_CLUSTER = {k: v for k, v in Q_CLUSTER.items() if v is not None}
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("Q_TIMEOUT must be lower than Q_RETRY (django-q2 would run a task twice)")

# --- Auth ---------------------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/painel/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- i18n ---------------------------------------------------------------------------------------------------

LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)")]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
# Project translations: pt-BR for third-party apps that ship none (django-q2's admin).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"
UPLOADS_DIR = Path(env_str("UPLOADS_DIR", str(DATA_DIR / "uploads")))
# One limit for every request body, uploads included: cobranca.middleware.RequestBodyLimitMiddleware answers
# 413 from Content-Length before the body is read. The webhook has its own WAHA_WEBHOOK_MAX_BYTES.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_MB", 50, minimum=1) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
# An XLSX is a ZIP: refuse archives that would inflate past this or hold more parts than this
# (billing.importing.xlsx). 100 MB of sheet XML is about 240,000 rows; bigger imports go as CSV.
XLSX_MAX_UNCOMPRESSED_BYTES = env_int("XLSX_MAX_UNCOMPRESSED_MB", 100, minimum=1) * 1024 * 1024
XLSX_MAX_MEMBERS = env_int("XLSX_MAX_MEMBERS", 200, minimum=10)
# A part over 1 MB that unpacks to more than this many times its packed size is refused (real sheets: 5-30x),
# and the shared-strings table (loaded whole by openpyxl) has its own cap.
XLSX_MAX_RATIO = env_int("XLSX_MAX_RATIO", 100, minimum=10)
XLSX_MAX_SHARED_STRINGS_BYTES = env_int("XLSX_MAX_SHARED_STRINGS_MB", 30, minimum=1) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Bank statements (billing.payments.statements): a credit matches a charge by amount and payer only when
# posted between the charge's creation less the first number of days and its due date (or creation, if
# later) plus the second.
STATEMENT_MATCH_DAYS_BEFORE_CREATION = env_int("STATEMENT_MATCH_DAYS_BEFORE_CREATION", 7, minimum=0)
STATEMENT_MATCH_DAYS_AFTER_DUE = env_int("STATEMENT_MATCH_DAYS_AFTER_DUE", 180, minimum=0)

# --- Security -----------------------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Machine-to-machine calls inside the deployment (docker-compose.yml) are plain HTTP: WAHA's webhook POST to
# http://web:8000/webhook/... and the container health check. A redirect would break them (a POST is not
# replayed over a 301); the webhook is authenticated by its HMAC signature and /health returns no data.
SECURE_REDIRECT_EXEMPT = [r"^webhook/", r"^health$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# HSTS preload is a one-way commitment for the whole domain (README, "Production"): opt in explicitly.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind one reverse proxy that terminates TLS and appends the client's address to X-Forwarded-For: the scheme
# comes from X-Forwarded-Proto and the client's address from the last X-Forwarded-For entry
# (cobranca.audit.client_ip; rate limits and audit rows use it).
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The dashboard needs no inline script or style; the one inline <style> of drf-spectacular's Swagger page is
# allowed by its hash (cobranca/tests/test_security.py recomputes it, so an upgrade that changes it fails
# loudly).
SWAGGER_UI_STYLE_HASH = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, SWAGGER_UI_STYLE_HASH],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- REST API and JWT ---------------------------------------------------------------------------------------

RATE_LIMIT_REQUESTS = env_int("RATE_LIMIT_REQUESTS", 100, minimum=1)
RATE_LIMIT_PERIOD = env_int("RATE_LIMIT_PERIOD", 3600, minimum=1)
LOGIN_RATE_LIMIT = env_str("LOGIN_RATE_LIMIT", "5/m")
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_USE_CACHE = "default"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cobranca.auth_tokens.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "cobranca.permissions.IsApiUser",
        "cobranca.permissions.ApiModelPermissions",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "cobranca.schema.AutoSchema",
    "EXCEPTION_HANDLER": "cobranca.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cobranca.ratelimit.ApiUserRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", "") or SECRET_KEY
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ALGORITHM": "HS256",
    # Tokens carry a digest of the password hash, checked on every request: a password change ends them
    # (cobranca/auth_tokens.py also blacklists the refresh tokens on a password change or a deactivation).
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cobrança Inteligente API",
    "DESCRIPTION": (
        "Importação de devedores, campanhas de cobrança via WhatsApp (WAHA) e assistente de respostas."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["cobranca.permissions.IsApiUser"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc assets from the drf-spectacular-sidecar package: nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- WAHA (WhatsApp HTTP API) -------------------------------------------------------------------------------

WAHA_BASE_URL = env_url("WAHA_BASE_URL", "http://127.0.0.1:3000")
WAHA_API_KEY = env_str("WAHA_API_KEY", "cobranca-dev-waha-key")
WAHA_SESSION_NAME = env_str("WAHA_SESSION_NAME", "default")
WAHA_WEBHOOK_URL = env_url("WAHA_WEBHOOK_URL", f"http://127.0.0.1:{PORT}/webhook/waha")
WAHA_WEBHOOK_HMAC_KEY = env_str("WAHA_WEBHOOK_HMAC_KEY", "" if not DEBUG else "cobranca-dev-hmac-key")
WAHA_WEBHOOK_MAX_BYTES = env_int("WAHA_WEBHOOK_MAX_BYTES", 1024 * 1024, minimum=1024)
WAHA_WEBHOOK_MAX_AGE_SECONDS = env_int("WAHA_WEBHOOK_MAX_AGE_SECONDS", 900, minimum=0)
WAHA_CONNECT_TIMEOUT = env_float("WAHA_CONNECT_TIMEOUT", 5.0, minimum=0.1)
WAHA_READ_TIMEOUT = env_float("WAHA_READ_TIMEOUT", 30.0, minimum=0.1)
# Largest file a debtor may send (picture, PDF, audio) that is downloaded from WAHA and kept, in MB: refused
# from Content-Length, then while reading. Never above MAX_UPLOAD_MB, the limit of everything stored here.
WAHA_MEDIA_MAX_BYTES = min(env_int("WAHA_MEDIA_MAX_MB", 16, minimum=1) * 1024 * 1024, MAX_UPLOAD_BYTES)
WAHA_SIMULATOR = env_bool("WAHA_SIMULATOR", True)

# --- Billing ------------------------------------------------------------------------------------------------

# Key of the HMAC that hashes suppressed numbers (billing/suppression.py). Dedicated, and never rotated: the
# list keeps only hashes, so a new key would forget every number on it.
SUPPRESSION_HASH_KEY = env_str("SUPPRESSION_HASH_KEY", "" if not DEBUG else "cobranca-dev-suppression-key")

CREDITOR_NAME = env_str("CREDITOR_NAME", "Cobrança Inteligente Demo Ltda")
CREDITOR_DOCUMENT = env_str("CREDITOR_DOCUMENT", "00.000.000/0001-91")
CREDITOR_ADDRESS = env_str("CREDITOR_ADDRESS", "Av. Paulista, 1000 - São Paulo/SP")
CREDITOR_CITY = env_str("CREDITOR_CITY", "SAO PAULO")
PIX_KEY = env_str("PIX_KEY", "pix@cobranca.example")
# How a charge's PIX code is made (docs/payments.md): "static" = a BR Code built here, nothing to configure
# and no payment notice; "api_pix" = a cobv at the creditor's PSP (API Pix), each paid Pix confirmed there.
PIX_PROVIDER = env_choice("PIX_PROVIDER", "static", ("static", "api_pix"))
# The PSP's API Pix root with its version path (https://…/v2) and its OAuth2 token endpoint.
PIX_API_BASE_URL = env_url("PIX_API_BASE_URL", "")
PIX_OAUTH_URL = env_url("PIX_OAUTH_URL", "")
PIX_CLIENT_ID = env_str("PIX_CLIENT_ID", "")
PIX_CLIENT_SECRET = env_str("PIX_CLIENT_SECRET", "")
# The client certificate and key (PEM) the PSP issued: mutual TLS, required for any PSP off the loopback.
PIX_CERT_FILE = env_str("PIX_CERT_FILE", "")
PIX_KEY_FILE = env_str("PIX_KEY_FILE", "")
# Secret path segment of the payment webhook (/webhook/pix/<token>/pix) registered at the PSP.
PIX_WEBHOOK_TOKEN = env_str("PIX_WEBHOOK_TOKEN", "")
# Fine after the due date (% of the amount) and default interest (% a month) put in each cobv. A consumer's
# fine is capped at 2 % (CDC art. 52 §1º): the system check pix.E006 refuses more.
PIX_FINE_PERCENT = Decimal(str(env_float("PIX_FINE_PERCENT", 2.0, minimum=0)))
PIX_INTEREST_MONTHLY_PERCENT = Decimal(str(env_float("PIX_INTEREST_MONTHLY_PERCENT", 1.0, minimum=0)))
# A "já paguei" with no payment after this many days goes to the operator queue (docs/payments.md).
PAYMENT_CLAIM_DAYS = env_int("PAYMENT_CLAIM_DAYS", 5, minimum=1)
# An agreement with two installments overdue by more than this many days is broken; the charge reopens.
AGREEMENT_BREAK_DAYS = env_int("AGREEMENT_BREAK_DAYS", 5, minimum=0)
# An overdue charge's cobv is due this many days from the day its code is first sent (fine and interest run
# from there); it keeps that date until it passes (docs/payments.md).
PIX_COBV_OVERDUE_DAYS = env_int("PIX_COBV_OVERDUE_DAYS", 3, minimum=0)
# Largest body the payment webhook accepts (a PSP sends a few Pix per POST).
PIX_WEBHOOK_MAX_BYTES = env_int("PIX_WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024)
# Minutes between runs of the catch-up (GET /pix since the last seen time) that repairs missed webhooks.
PIX_CATCH_UP_MINUTES = env_int("PIX_CATCH_UP_MINUTES", 10, minimum=1)
DISPATCH_DELAY_SECONDS = env_float("DISPATCH_DELAY_SECONDS", 30.0, minimum=0)
DISPATCH_JITTER_SECONDS = env_float("DISPATCH_JITTER_SECONDS", 10.0, minimum=0)
DISPATCH_DAILY_CAP = env_int("DISPATCH_DAILY_CAP", 1000, minimum=1)
DISPATCH_PER_DEBTOR_DAILY_CAP = env_int("DISPATCH_PER_DEBTOR_DAILY_CAP", 1, minimum=1)
DISPATCH_MAX_RETRIES = env_int("DISPATCH_MAX_RETRIES", 5, minimum=0)
DISPATCH_RETRY_BASE_SECONDS = env_float("DISPATCH_RETRY_BASE_SECONDS", 30.0, minimum=0)
DISPATCH_RETRY_MAX_SECONDS = env_float("DISPATCH_RETRY_MAX_SECONDS", 1800.0, minimum=0)
# A dispatch left in "sending" longer than this (a worker died mid-send) becomes "unknown", never resent by
# itself.
DISPATCH_STALE_SECONDS = env_float(
    "DISPATCH_STALE_SECONDS", 2 * (WAHA_CONNECT_TIMEOUT + WAHA_READ_TIMEOUT) + 10, minimum=1
)
# Retry a sendText that timed out (WAHA may have sent it: off by default to never send twice).
DISPATCH_RETRY_TIMEOUTS = env_bool("DISPATCH_RETRY_TIMEOUTS", False)
# Concurrent driver tasks per WAHA session for unpaced campaigns (a paced campaign always uses one: the pace,
# not the sender, is its bottleneck).
DISPATCH_DRIVER_LANES = env_int("DISPATCH_DRIVER_LANES", Q_WORKERS, minimum=1, maximum=64)
# Seconds one driver task runs before handing over to the next: well under Q_TIMEOUT (and so under Q_RETRY).
DISPATCH_DRIVER_BUDGET_SECONDS = env_float(
    "DISPATCH_DRIVER_BUDGET_SECONDS", min(50.0, Q_CLUSTER["timeout"] * 0.4), minimum=1
)
if DISPATCH_DRIVER_BUDGET_SECONDS >= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("DISPATCH_DRIVER_BUDGET_SECONDS must be lower than Q_TIMEOUT")
# Where the per-session pacing slots live: Redis when REDIS_URL is set, else the database.
DISPATCH_PACING_BACKEND = env_str("DISPATCH_PACING_BACKEND", "").strip() or ("redis" if REDIS_URL else "db")
if DISPATCH_PACING_BACKEND not in ("db", "redis"):
    raise ImproperlyConfigured(f"DISPATCH_PACING_BACKEND must be db or redis: {DISPATCH_PACING_BACKEND!r}")
if DISPATCH_PACING_BACKEND == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("DISPATCH_PACING_BACKEND=redis needs REDIS_URL")
SEND_WINDOW = env_str("SEND_WINDOW", "mon-fri 08:00-20:00; sat 08:00-14:00")
SEND_WINDOW_SKIP_HOLIDAYS = env_bool("SEND_WINDOW_SKIP_HOLIDAYS", True)
# A file holding an ISO datetime that sets the send-window clock (cobranca/clock.py); empty = the real clock.
CLOCK_FILE = env_str("COBRANCA_CLOCK_FILE", "")
# Local time (HH:MM, America/Sao_Paulo) the daily "regua-plan" schedule plans the day's régua reminders,
# before the send window opens, so the messages go out from its first minute (docs/regua.md).
REGUA_PLAN_AT = env_str("REGUA_PLAN_AT", "07:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", REGUA_PLAN_AT):
    raise ImproperlyConfigured(f"REGUA_PLAN_AT must be HH:MM (24 h), got {REGUA_PLAN_AT!r}")

# --- Chatbot ------------------------------------------------------------------------------------------------

CHATBOT_BACKEND = env_choice("CHATBOT_BACKEND", "torch", ("torch", "transformers"))
CHATBOT_MODEL_PATH = env_str("CHATBOT_MODEL_PATH", "")
CHATBOT_CONFIDENCE_THRESHOLD = env_float("CHATBOT_CONFIDENCE_THRESHOLD", 0.3, minimum=0, maximum=1)
CHATBOT_MARGIN = env_float("CHATBOT_MARGIN", 0.03, minimum=0, maximum=1)
# The day of the month a debtor's "quando eu receber" / "dia do pagamento" means; 0 = the 5th business day.
CHATBOT_PAYDAY_DAY = env_int("CHATBOT_PAYDAY_DAY", 0, minimum=0, maximum=31)
CHATBOT_ENABLED = env_bool("CHATBOT_ENABLED", True)
# WAHA's advice: show "typing..." for a moment proportional to the reply before sending it.
CHATBOT_TYPING_SECONDS_PER_CHAR = env_float("CHATBOT_TYPING_SECONDS_PER_CHAR", 0.015, minimum=0)
CHATBOT_TYPING_MAX_SECONDS = env_float("CHATBOT_TYPING_MAX_SECONDS", 3.0, minimum=0)
# How long a proposal ("Posso registrar? Responda SIM") waits for the debtor's "sim" (docs/policy.md).
CHATBOT_CONFIRM_TTL_MINUTES = env_int("CHATBOT_CONFIRM_TTL_MINUTES", 30, minimum=1, maximum=7 * 24 * 60)
# An opt-out the classifier is less sure of than this, and that is not spelled out, is confirmed first.
CHATBOT_OPT_OUT_CONFIRM_BELOW = env_float("CHATBOT_OPT_OUT_CONFIRM_BELOW", 0.85, minimum=0, maximum=1)
MODEL_DEVICE = env_choice("MODEL_DEVICE", "cpu", ("cpu", "cuda"))
MODEL_MAX_LENGTH = env_int("MODEL_MAX_LENGTH", 128, minimum=8, maximum=4096)

# --- Operations: metrics, alerts, retention -----------------------------------------------------------------

METRICS_TOKEN = env_str("METRICS_TOKEN", "")
RETENTION_DAYS_MESSAGES = env_int("RETENTION_DAYS_MESSAGES", 365, minimum=1)
RETENTION_DAYS_WEBHOOKS = env_int("RETENTION_DAYS_WEBHOOKS", 30, minimum=1)
ALERT_WEBHOOK_URL = env_url("ALERT_WEBHOOK_URL", "")
ALERT_RESEND_MINUTES = env_int("ALERT_RESEND_MINUTES", 60, minimum=1)
ALERT_CAMPAIGN_STALL_MINUTES = env_int("ALERT_CAMPAIGN_STALL_MINUTES", 15, minimum=1)
ALERT_ERROR_RATE_PERCENT = env_int("ALERT_ERROR_RATE_PERCENT", 5, minimum=1, maximum=100)
# The error-rate alert needs at least this many requests in its window to mean anything.
ALERT_ERROR_RATE_MIN_REQUESTS = env_int("ALERT_ERROR_RATE_MIN_REQUESTS", 20, minimum=1)
ALERT_QUEUE_BACKLOG = env_int("ALERT_QUEUE_BACKLOG", 500, minimum=1)
ADMINS = [("Administrador", addr) for addr in env_list("ADMIN_EMAILS", "")]
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# --- Logging ------------------------------------------------------------------------------------------------

LOG_LEVEL = env_choice(
    "LOG_LEVEL", "INFO", ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
)
LOG_FILE = env_str("LOG_FILE", str(BASE_DIR / "logs" / "app.log"))
# Logging is configured by cobranca.logging (loguru) from CobrancaConfig.ready(); Django's dictConfig stays
# off.
LOGGING_CONFIG = None
