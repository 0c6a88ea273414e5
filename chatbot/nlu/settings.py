"""Chatbot settings read from Django when it is configured, with defaults otherwise.

The NLU must also run in plain pytest, scripts and the benchmark, where no settings module
is configured; touching ``django.conf.settings`` there would raise ImproperlyConfigured.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS", "get_setting"]

DEFAULTS: dict[str, Any] = {
    "CHATBOT_BACKEND": "torch",
    "CHATBOT_MODEL_PATH": None,
    "CHATBOT_CONFIDENCE_THRESHOLD": 0.3,
    "CHATBOT_MARGIN": 0.03,
    "MODEL_DEVICE": "cpu",
    "MODEL_MAX_LENGTH": 128,
}


def get_setting(name: str) -> Any:
    default = DEFAULTS.get(name)
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a runtime dependency, kept for scripts
        return default
    if not settings.configured:
        return default
    return getattr(settings, name)
