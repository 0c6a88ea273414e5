"""The régua page's 7-day forecast and results per step, computed off the request.

The forecast runs the planner once per day over every open charge (~65 queries and seconds of Python at
100,000 charges, docs/benchmarks.md). The schedule "painel-regua-forecast" recomputes it every
REFRESH_MINUTES while someone has looked at the page in the last WANTED_SECONDS, into the shared cache; the
page shows an entry up to SHOW_SECONDS old and computes it itself only when there is none (the first view
of an idle instance or of a new day, or right after a régua changed). The key changes with the day and with
any change of a régua (status, settings: `updated_at`), so pausing one or turning it on shows at once.
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

from billing.regua import selectors

REFRESH_MINUTES = 2
SHOW_SECONDS = 5 * 60  # two refreshes missed (a busy worker) before the page computes it itself
WANTED_SECONDS = 30 * 60
_WANTED_KEY = "dashboard:regua-forecast-wanted"

Forecast = tuple[list[dict], dict[int, list[dict]], dt.datetime]


def _key(reguas) -> str:
    return "dashboard:regua-calendar:" + ":".join(
        [timezone.localdate().isoformat(), *(f"{r.pk}-{r.status}-{r.updated_at.timestamp()}" for r in reguas)]
    )


def forecast_compute(reguas) -> Forecast:
    """Compute the 7-day calendar and each régua's results per step now, and keep them for the page."""
    results = {regua.pk: selectors.regua_step_results(regua=regua) for regua in reguas}
    forecast = (selectors.regua_calendar(days=7), results, timezone.now())
    cache.set(_key(reguas), forecast, SHOW_SECONDS)
    return forecast


def forecast_for_page(reguas) -> Forecast:
    """The calendar, the results per step and when they were computed: the kept ones, else computed now."""
    key, now = _key(reguas), timezone.now()
    found = cache.get_many([key, _WANTED_KEY])  # one query with the database cache
    # Each write to the database cache is several queries: renew the mark only every few minutes.
    wanted_at = found.get(_WANTED_KEY)
    if wanted_at is None or now - wanted_at > dt.timedelta(seconds=SHOW_SECONDS):
        cache.set(_WANTED_KEY, now, WANTED_SECONDS)
    kept = found.get(key)
    if kept is not None and now - kept[2] <= dt.timedelta(seconds=SHOW_SECONDS):
        return kept
    return forecast_compute(reguas)


def forecast_refresh() -> bool:
    """The schedule's job: recompute when the page was viewed lately. Safe to run twice. True if it ran."""
    if not cache.get(_WANTED_KEY):
        return False
    forecast_compute(list(selectors.regua_list()))
    return True
