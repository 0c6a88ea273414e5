"""JWTs do not outlive the credentials they were issued for.

- Access tokens carry simplejwt's `hash_password` claim (SIMPLE_JWT["CHECK_REVOKE_TOKEN"]): the authentication
  class compares it with the user's current password hash, so every access token issued before a password
  change answers 401, whatever changed the password (API, admin, reset by e-mail, `manage.py changepassword`).
- Refresh tokens are blacklisted (simplejwt's token_blacklist) when the password changes and when the user is
  deactivated: a refresh token never mints a new access token afterwards, even once the user is active again.

- Logging out (/auth/logout) also ends the access token it was called with: its `jti` is kept in the shared
  cache until the token would have expired, and `RevocableJWTAuthentication` refuses it.

The signal handlers compare the saved row with the one being saved, so they see every path that saves a User.
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models.signals import post_save, pre_save
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from loguru import logger
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

REVOKED_ACCESS_PREFIX = "jwt-revoked-access:"


def revoke_access_token(token) -> None:
    """Refuse this access token from now until it expires (logout). Needs the shared cache (database or
    Redis), which every process of a deployment uses."""
    jti, exp = token.get("jti"), token.get("exp")
    if not jti or not exp:
        return
    try:
        cache.set(REVOKED_ACCESS_PREFIX + str(jti), 1, timeout=max(int(exp - time.time()), 1))
    except Exception as exc:  # noqa: BLE001 - the refresh token is blacklisted all the same
        logger.bind(security=True).error("security.token_revocation_unavailable error={}", type(exc).__name__)


class RevocableJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, plus the access tokens ended by a logout."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if _logged_out(token):
            raise InvalidToken({"detail": "Token encerrado (logout).", "code": "token_not_valid"})
        return token


def _logged_out(token) -> bool:
    """Whether a logout ended this token. A cache that cannot answer (its table missing, Redis down) lets
    the token through, as the rate limiter does: a signed, unexpired token beats a whole API down."""
    try:
        return bool(cache.get(REVOKED_ACCESS_PREFIX + str(token.get("jti"))))
    except Exception as exc:  # noqa: BLE001 - any cache backend's failure
        logger.bind(security=True).error("security.token_revocation_unavailable error={}", type(exc).__name__)
        return False


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI description of the same bearer scheme (drf-spectacular matches the class exactly)."""

    target_class = "cobranca.auth_tokens.RevocableJWTAuthentication"


def revoke_refresh_tokens(user) -> int:
    """Blacklist every outstanding refresh token of `user`; returns how many were newly blacklisted."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(created)


def refresh_matches_password(raw: str) -> bool:
    """Whether a refresh token carries the current password's claim (the access tokens it mints would be
    refused otherwise: tokens from before the claim existed, or for an older password)."""
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import RefreshToken
    from rest_framework_simplejwt.utils import get_md5_hash_password

    token = RefreshToken(raw, verify=False)
    user = get_user_model().objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    return user is not None and token.get(api_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(
        user.password
    )


def _remember_credentials(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._credentials_before = None
        return
    instance._credentials_before = (
        sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


def _revoke_on_change(sender, instance, created=False, raw=False, **kwargs) -> None:
    before = getattr(instance, "_credentials_before", None)
    instance._credentials_before = None
    if raw or created or before is None:
        return
    password_before, active_before = before
    reasons = []
    if instance.password != password_before:
        reasons.append("password_changed")
    if active_before and not instance.is_active:
        reasons.append("deactivated")
    if reasons:
        count = revoke_refresh_tokens(instance)
        logger.bind(security=True).info(
            "security.tokens_revoked user_id={} reason={} refresh_tokens={}",
            instance.pk,
            ",".join(reasons),
            count,
        )


def connect() -> None:
    user_model = get_user_model()
    pre_save.connect(_remember_credentials, sender=user_model, dispatch_uid="cobranca.tokens.pre_save")
    post_save.connect(_revoke_on_change, sender=user_model, dispatch_uid="cobranca.tokens.post_save")
