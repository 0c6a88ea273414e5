"""Rate limiting shared by every process (the cache is the database or Redis, never process memory)."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited
from loguru import logger
from rest_framework.throttling import BaseThrottle


def _period_seconds(rate: str) -> int:
    _, _, period = rate.partition("/")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    period = period.strip() or "m"
    number = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(number) :] or "s"
    return int(number or 1) * units.get(unit[0], 1)


def too_many_requests(request, rate: str, *, group: str) -> JsonResponse:
    retry_after = _period_seconds(rate)
    logger.bind(security=True).warning(
        "security.rate_limited group={} path={} ip={}",
        group,
        request.path,
        request.META.get("REMOTE_ADDR", ""),
    )
    response = JsonResponse(
        {"message": "Muitas requisições. Tente novamente mais tarde.", "extra": {"retry_after": retry_after}},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def _user_or_ip(group, request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class ApiUserRateThrottle(BaseThrottle):
    """RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD per user, counted with django-ratelimit in the shared
    cache."""

    def allow_request(self, request, view) -> bool:
        if not settings.RATELIMIT_ENABLE:
            return True
        rate = f"{settings.RATE_LIMIT_REQUESTS}/{settings.RATE_LIMIT_PERIOD}s"
        limited = is_ratelimited(request, group="api", key=_user_or_ip, rate=rate, method=ALL, increment=True)
        if limited:
            logger.bind(security=True).warning(
                "security.rate_limited group=api path={} ip={}",
                request.path,
                request.META.get("REMOTE_ADDR", ""),
            )
        return not limited

    def wait(self) -> float:
        return float(settings.RATE_LIMIT_PERIOD)
