"""Rate limiting shared by every process (the cache is the database or Redis, never process memory)."""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit import ALL
from django_ratelimit.core import _get_window, _make_cache_key, _split_rate, get_usage, is_ratelimited
from loguru import logger
from rest_framework.throttling import BaseThrottle

from cobranca.audit import client_ip


def _period_seconds(rate: str) -> int:
    _, _, period = rate.partition("/")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    period = period.strip() or "m"
    number = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(number) :] or "s"
    return int(number or 1) * units.get(unit[0], 1)


def too_many_requests(
    request, rate: str, *, group: str, message: str = "Muitas requisições. Tente novamente mais tarde."
) -> JsonResponse:
    retry_after = _period_seconds(rate)
    logger.bind(security=True).warning(
        "security.rate_limited group={} path={} ip={}",
        group,
        request.path,
        client_ip(request),
    )
    response = JsonResponse(
        {"message": message, "extra": {"retry_after": retry_after}},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(request, *, group: str, key, rate: str, method, increment: bool = True) -> bool:
    """django-ratelimit's `is_ratelimited`, except that a cache that cannot count (its table missing, Redis
    down) never turns the request into a 500: the request goes through unlimited and the failure is logged as
    a security event, so an outage of the cache does not lock every operator out."""
    try:
        limited = is_ratelimited(request, group=group, key=key, rate=rate, method=method, increment=increment)
    except Exception as exc:  # noqa: BLE001 - each cache backend raises its own errors (database, Redis, socket)
        logger.bind(security=True).error(
            "security.ratelimit_unavailable group={} path={} error={}",
            group,
            request.path,
            type(exc).__name__,
        )
        return False
    return bool(limited)


# --- logins -------------------------------------------------------------------------------------------------

# One counter group for /auth/login, /accounts/login/ and /admin/login/: guesses spread over the three add up.
LOGIN_GROUP = "auth.login"
LOGIN_LOCKED_MESSAGE = (
    "Muitas tentativas de login. Aguarde alguns minutos e tente novamente; se esqueceu a senha, redefina-a."
)


def _login_keys(request, username: str) -> dict[str, object]:
    """The two counters of a login attempt: the caller's IP and the username (lower-cased)."""
    name = (username or "").strip().lower() or "-"
    ip = client_ip(request) or ""
    return {
        "ip": lambda group, req: f"ip:{ip}",
        "user": lambda group, req: f"user:{name}",
    }


def _login_usage(request, key) -> dict | None:
    try:
        return get_usage(request, group=LOGIN_GROUP, key=key, rate=settings.LOGIN_RATE_LIMIT, method=ALL)
    except Exception as exc:  # noqa: BLE001 - see rate_limited: an unavailable cache never locks anyone out
        logger.bind(security=True).error(
            "security.ratelimit_unavailable group={} path={} error={}",
            LOGIN_GROUP,
            request.path,
            type(exc).__name__,
        )
        return None


def login_attempt_limited(request, username: str) -> bool:
    """Say whether a login attempt must be refused before its password is checked: the caller's IP or the
    username already has LOGIN_RATE_LIMIT failed attempts in the current window (in the shared cache, so every
    web worker sees the same counters).

    Only failures count (`login_attempt_failed`): a user who types the right password is never locked out by
    their own logins. Once the limit is reached even the right password is refused until the window ends, so
    guessing cannot go on in parallel with a successful login.
    """
    keys = _login_keys(request, username)
    if _known_address(request, username):
        del keys["user"]  # the username's lock is for strangers (see KNOWN_ADDRESS_SECONDS)
    for key in keys.values():
        usage = _login_usage(request, key)
        if usage is not None and usage["count"] >= usage["limit"]:
            return True
    return False


# A successful login remembers (username, address) this long: from there the username's lock does not apply,
# so strangers who know a username cannot lock its owner out of the address the owner uses. The address's own
# limit still applies to everyone, so guessing from a known address is as limited as from any other.
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600


def _known_address_key(request, username: str) -> str:
    name = (username or "").strip().lower()
    digest = hashlib.sha256(f"{name}\x00{client_ip(request) or ''}".encode()).hexdigest()
    return f"login-known:{digest}"


def _known_address(request, username: str) -> bool:
    if not client_ip(request) or not (username or "").strip():
        return False
    try:
        return bool(caches[settings.RATELIMIT_USE_CACHE].get(_known_address_key(request, username)))
    except Exception:  # noqa: BLE001 - an unavailable cache: the ordinary rule (both counters)
        return False


def login_attempt_failed(request, username: str) -> None:
    """Count one failed login against the caller's IP and against the username."""
    for key in _login_keys(request, username).values():
        rate_limited(request, group=LOGIN_GROUP, key=key, rate=settings.LOGIN_RATE_LIMIT, method=ALL)


def login_attempt_succeeded(request, username: str) -> None:
    """A successful login clears the username's failures (the typos of its owner), never the IP's: one
    account an attacker owns must not buy more guesses at the others from the same address."""
    if not settings.RATELIMIT_ENABLE:
        return
    rate = settings.LOGIN_RATE_LIMIT
    key = _login_keys(request, username)["user"]
    value = key(LOGIN_GROUP, request)
    _, period = _split_rate(rate)
    # django-ratelimit's own key for this counter (its window and hashing), so the next check reads zero.
    cache_key = _make_cache_key(LOGIN_GROUP, _get_window(value, period), rate, value, ALL)
    try:
        caches[settings.RATELIMIT_USE_CACHE].delete(cache_key)
        if client_ip(request):
            caches[settings.RATELIMIT_USE_CACHE].set(
                _known_address_key(request, username), 1, KNOWN_ADDRESS_SECONDS
            )
    except Exception as exc:  # noqa: BLE001 - the cache backends raise their own errors
        logger.bind(security=True).error(
            "security.ratelimit_unavailable group={} path={} error={}",
            LOGIN_GROUP,
            request.path,
            type(exc).__name__,
        )


def login_locked_page(request) -> HttpResponse:
    """The 429 page of a page login (dashboard, admin): the message and the link to reset the password."""
    rate = settings.LOGIN_RATE_LIMIT
    retry_after = _period_seconds(rate)
    logger.bind(security=True).warning(
        "security.rate_limited group={} path={} ip={}",
        LOGIN_GROUP,
        request.path,
        client_ip(request),
    )
    response = render(
        request,
        "registration/login_locked.html",
        {"message": LOGIN_LOCKED_MESSAGE, "retry_minutes": max(1, -(-retry_after // 60))},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def login_attempts_limited(view):
    """Wrap a login view (a form posting `username`): over the limit, answer the 429 page instead; otherwise
    count the attempt as a failure or a success by the view's answer."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = request.POST.get("username", "")
        if login_attempt_limited(request, username):
            return login_locked_page(request)
        response = view(request, *args, **kwargs)
        # Django's login views redirect after a login and answer the form again (200) after a failure.
        if response.status_code in (301, 302) and request.user.is_authenticated:
            login_attempt_succeeded(request, username)
        else:
            login_attempt_failed(request, username)
        return response

    return wrapped


# --- API ----------------------------------------------------------------------------------------------------


def _user_or_ip(group, request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request) or ''}"


class ApiUserRateThrottle(BaseThrottle):
    """RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD per user, counted with django-ratelimit in the shared
    cache."""

    def allow_request(self, request, view) -> bool:
        if not settings.RATELIMIT_ENABLE:
            return True
        rate = f"{settings.RATE_LIMIT_REQUESTS}/{settings.RATE_LIMIT_PERIOD}s"
        limited = rate_limited(request, group="api", key=_user_or_ip, rate=rate, method=ALL)
        if limited:
            logger.bind(security=True).warning(
                "security.rate_limited group=api path={} ip={}",
                request.path,
                client_ip(request),
            )
        return not limited

    def wait(self) -> float:
        return float(settings.RATE_LIMIT_PERIOD)
