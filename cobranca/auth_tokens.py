"""JWTs do not outlive the credentials they were issued for.

- Access tokens carry simplejwt's `hash_password` claim (SIMPLE_JWT["CHECK_REVOKE_TOKEN"]): the authentication
  class compares it with the user's current password hash, so every access token issued before a password
  change answers 401, whatever changed the password (API, admin, reset by e-mail, `manage.py changepassword`).
- Refresh tokens are blacklisted (simplejwt's token_blacklist) when the password changes and when the user is
  deactivated: a refresh token never mints a new access token afterwards, even once the user is active again.

The signal handlers compare the saved row with the one being saved, so they see every path that saves a User.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from loguru import logger


def revoke_refresh_tokens(user) -> int:
    """Blacklist every outstanding refresh token of `user`; returns how many were newly blacklisted."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(created)


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
