"""System checks for configuration that Django itself cannot know is wrong."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register


@register("cobranca")
def check_secrets(app_configs, **kwargs):
    problems = []
    if not settings.DEBUG and not settings.WAHA_WEBHOOK_HMAC_KEY:
        problems.append(
            Error(
                "WAHA_WEBHOOK_HMAC_KEY is not set: with DEBUG=False unsigned webhooks would be refused.",
                hint="Set WAHA_WEBHOOK_HMAC_KEY to the key configured in WAHA (webhooks[].hmac.key).",
                id="whatsapp.E001",
            )
        )
    if not settings.DEBUG and len(settings.SUPPRESSION_HASH_KEY) < 32:
        problems.append(
            Error(
                "SUPPRESSION_HASH_KEY is not set (or shorter than 32 characters): the suppression list of "
                "opted-out and forgotten numbers cannot be kept safely.",
                hint="Set SUPPRESSION_HASH_KEY to a random value (32+ characters) and never change it.",
                id="billing.E001",
            )
        )
    if not settings.WAHA_API_KEY:
        problems.append(Warning("WAHA_API_KEY is empty: WAHA will reject the calls.", id="whatsapp.W001"))
    if not settings.WAHA_BASE_URL:
        problems.append(Warning("WAHA_BASE_URL is empty: nothing can be sent.", id="whatsapp.W002"))
    if not settings.DEBUG and settings.JWT_SECRET_KEY == settings.SECRET_KEY:
        problems.append(
            Warning(
                "JWT_SECRET_KEY is not set; tokens are signed with SECRET_KEY.",
                hint="Use a separate JWT_SECRET_KEY so rotating one does not invalidate the other.",
                id="cobranca.W001",
            )
        )
    return problems
