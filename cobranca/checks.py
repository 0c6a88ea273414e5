"""System checks for configuration that Django itself cannot know is wrong."""

from __future__ import annotations

from pathlib import Path

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


# Consumer fines are capped at 2 % of the amount (CDC, Lei 8.078/1990, art. 52 §1º).
CDC_MAX_FINE_PERCENT = 2
MIN_WEBHOOK_TOKEN_LENGTH = 32


@register("cobranca")
def check_pix(app_configs, **kwargs):
    """PIX_PROVIDER=api_pix needs the PSP's URLs, credentials and webhook token; no fine above the CDC's."""
    problems = []
    if settings.PIX_FINE_PERCENT > CDC_MAX_FINE_PERCENT:
        problems.append(
            Error(
                f"PIX_FINE_PERCENT is {settings.PIX_FINE_PERCENT}: a consumer's fine may not exceed "
                f"{CDC_MAX_FINE_PERCENT} % of the amount (CDC art. 52 §1º).",
                hint=f"Set PIX_FINE_PERCENT to {CDC_MAX_FINE_PERCENT} or less.",
                id="pix.E006",
            )
        )
    if settings.PIX_PROVIDER != "api_pix":
        return problems
    needed = {
        "PIX_API_BASE_URL": ("the PSP's API Pix root, e.g. https://pix.psp.example/api/v2", "pix.E001"),
        "PIX_OAUTH_URL": ("the PSP's OAuth2 token endpoint", "pix.E002"),
        "PIX_CLIENT_ID": ("the OAuth2 client id the PSP issued", "pix.E003"),
        "PIX_CLIENT_SECRET": ("the OAuth2 client secret the PSP issued", "pix.E003"),
        "PIX_WEBHOOK_TOKEN": (
            "a long random value: the secret part of the payment webhook's URL",
            "pix.E004",
        ),
    }
    for name, (what, check_id) in needed.items():
        if not getattr(settings, name):
            problems.append(
                Error(
                    f"{name} is not set but PIX_PROVIDER=api_pix.", hint=f"Set {name} to {what}.", id=check_id
                )
            )
    if 0 < len(settings.PIX_WEBHOOK_TOKEN) < MIN_WEBHOOK_TOKEN_LENGTH:
        problems.append(
            Warning(
                f"PIX_WEBHOOK_TOKEN is shorter than {MIN_WEBHOOK_TOKEN_LENGTH} characters: the webhook's URL "
                "is easier to guess.",
                hint="Use a long random value: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="pix.W001",
            )
        )
    if settings.PIX_API_BASE_URL and settings.PIX_OAUTH_URL:
        problems.extend(_pix_tls_problems())
    return problems


def _pix_tls_problems():
    from billing.pix_api import is_loopback

    cert, key = settings.PIX_CERT_FILE, settings.PIX_KEY_FILE
    remote = not (is_loopback(settings.PIX_API_BASE_URL) and is_loopback(settings.PIX_OAUTH_URL))
    missing = [name for name, value in (("PIX_CERT_FILE", cert), ("PIX_KEY_FILE", key)) if not value]
    if remote and missing:
        return [
            Error(
                f"{' and '.join(missing)} not set: a PSP off the loopback is reached only with mutual TLS.",
                hint="Set PIX_CERT_FILE and PIX_KEY_FILE to the PEM certificate and key the PSP issued.",
                id="pix.E005",
            )
        ]
    unreadable = [
        name
        for name, value in (("PIX_CERT_FILE", cert), ("PIX_KEY_FILE", key))
        if value and not Path(value).is_file()
    ]
    return [
        Error(f"{name} does not name a readable file: {getattr(settings, name)!r}.", id="pix.E005")
        for name in unreadable
    ]
