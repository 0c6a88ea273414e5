"""Which intent classifier the bot uses: the Django side of ``chatbot.nlu``.

The active ModelVersion wins; without one (or when its file is unusable) the model configured by
CHATBOT_BACKEND / CHATBOT_MODEL_PATH, and without that the shipped weights. The fallback rule's
CHATBOT_CONFIDENCE_THRESHOLD / CHATBOT_MARGIN and the transformers backend's MODEL_DEVICE /
MODEL_MAX_LENGTH come from settings and are passed into the pure package here, in one place. The bot
(`chatbot.services.classify`) and `manage.py classify` both call :func:`active_classifier`, and read
entities with :func:`entities_for` (CHATBOT_PAYDAY_DAY).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from loguru import logger

from chatbot.nlu.classifier import IntentClassifier, load_classifier
from chatbot.nlu.entities import extract_entities
from chatbot.selectors import active_model_version

__all__ = ["active_classifier", "classifier_for", "configured_classifier", "entities_for", "rule_and_device"]


def rule_and_device() -> dict[str, Any]:
    """Keyword arguments for the nlu loaders: the fallback rule and the transformers device from settings."""
    return {
        "threshold": settings.CHATBOT_CONFIDENCE_THRESHOLD,
        "margin": settings.CHATBOT_MARGIN,
        "device": settings.MODEL_DEVICE,
        "max_length": settings.MODEL_MAX_LENGTH,
    }


def classifier_for(path: str | Path | None, backend: str = "torch") -> IntentClassifier:
    """A specific model (cached per process) with the fallback rule and device from settings."""
    return load_classifier(path or None, backend, **rule_and_device())


def configured_classifier() -> IntentClassifier:
    """CHATBOT_BACKEND / CHATBOT_MODEL_PATH, or the shipped torch weights."""
    return classifier_for(settings.CHATBOT_MODEL_PATH or None, settings.CHATBOT_BACKEND)


def active_classifier() -> IntentClassifier:
    """The model the bot answers with: the active ModelVersion, else the configured one.

    Loaded lazily, once per process and model file.
    """
    version = active_model_version()
    if version is not None and version.path:
        try:
            return classifier_for(version.path, version.backend)
        except (OSError, ValueError, RuntimeError) as exc:
            # A stale ModelVersion row must not silence the bot: fall back to the configured model.
            logger.warning("chatbot.model_version_unusable version={} error={}", version.version, exc)
    return configured_classifier()


def entities_for(text: str, now: dt.datetime) -> dict[str, Any]:
    """Amount, installments and date of a message, "quando eu receber" read with CHATBOT_PAYDAY_DAY."""
    return extract_entities(text, now, payday_day=settings.CHATBOT_PAYDAY_DAY or None)
