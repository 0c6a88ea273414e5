"""The wall clock of the send-window logic (window checks, deferrals, claims, progress ETAs, stall alerts).

`now()` is `django.utils.timezone.now()` unless settings.CLOCK_FILE (env COBRANCA_CLOCK_FILE) names a file
holding an ISO 8601 datetime: the clock then reads that datetime at the moment the file was last written and
runs on from there (real time elapsed since the file's mtime is added). Every process reading the same file
(the web server, the qcluster workers) shares that clock, and rewriting the file moves it. Meant for demos and
journeys that need "a Sunday evening" on any day; production leaves CLOCK_FILE empty.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from django.conf import settings
from django.utils import timezone

_cache: dict[str, tuple[float, float]] = {}  # path -> (mtime, offset seconds)


def _offset(path: str) -> float:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return 0.0
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
        target = dt.datetime.fromisoformat(text)
    except (OSError, ValueError):
        return 0.0
    if timezone.is_naive(target):
        target = timezone.make_aware(target)
    offset = target.timestamp() - mtime
    _cache[path] = (mtime, offset)
    return offset


def now() -> dt.datetime:
    path = settings.CLOCK_FILE
    if not path:
        return timezone.now()
    return dt.datetime.fromtimestamp(time.time() + _offset(path), tz=dt.UTC)


def set_clock(path: str | os.PathLike, at: dt.datetime) -> None:
    """Write `at` to a clock file (atomically): from now on `now()` reads `at` plus the time elapsed."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(at.isoformat())
    os.replace(tmp, path)
