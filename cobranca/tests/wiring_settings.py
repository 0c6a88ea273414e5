"""Settings for running the security/privacy/metrics tests before the lead wires them into cobranca/settings.py.

Everything below is what docs/security.md ("Wiring") asks the lead to add; each block is conditional so this module
stays correct once settings.py has the lines: `pytest --ds=cobranca.tests.wiring_settings` then changes nothing.
"""

from __future__ import annotations

import importlib.util

from csp.constants import NONE, SELF

from cobranca.settings import *  # noqa: F403
from cobranca.settings import INSTALLED_APPS, MIDDLEWARE, SPECTACULAR_SETTINGS, env_int, env_str

for _app in ("drf_spectacular_sidecar", "csp", "audit"):
    if _app not in INSTALLED_APPS:
        INSTALLED_APPS = [*INSTALLED_APPS, _app]

# Not ours: the dashboard engineer's app (its {% load dashboard %} is in templates/base.html). Added while the lead
# has not wired it, so that pages extending base.html render in these tests.
if "cobranca.dashboard" not in INSTALLED_APPS and importlib.util.find_spec("cobranca.dashboard.apps"):
    INSTALLED_APPS = [*INSTALLED_APPS, "cobranca.dashboard"]

if "cobranca.middleware.RequestMetricsMiddleware" not in MIDDLEWARE:
    # First, so that it times (and counts the 5xx of) everything below it.
    MIDDLEWARE = ["cobranca.middleware.RequestMetricsMiddleware", *MIDDLEWARE]
if "csp.middleware.CSPMiddleware" not in MIDDLEWARE:
    _i = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
    MIDDLEWARE = [*MIDDLEWARE[:_i], "csp.middleware.CSPMiddleware", *MIDDLEWARE[_i:]]

# The inline <style> of drf-spectacular's swagger_ui.html, allowed by hash (test_security checks it still matches).
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

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

METRICS_TOKEN = env_str("METRICS_TOKEN", "")
RETENTION_DAYS_MESSAGES = env_int("RETENTION_DAYS_MESSAGES", 365, minimum=1)
RETENTION_DAYS_WEBHOOKS = env_int("RETENTION_DAYS_WEBHOOKS", 30, minimum=1)
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
ALERT_RESEND_MINUTES = env_int("ALERT_RESEND_MINUTES", 60, minimum=1)
ALERT_CAMPAIGN_STALL_MINUTES = env_int("ALERT_CAMPAIGN_STALL_MINUTES", 15, minimum=1)
ALERT_ERROR_RATE_PERCENT = env_int("ALERT_ERROR_RATE_PERCENT", 5, minimum=1, maximum=100)
ALERT_QUEUE_BACKLOG = env_int("ALERT_QUEUE_BACKLOG", 500, minimum=1)

ROOT_URLCONF = "cobranca.tests.wiring_urls"
