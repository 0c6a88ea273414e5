"""django-q2 tasks of the dashboard."""

from __future__ import annotations

from cobranca.dashboard.regua_forecast import forecast_refresh
from cobranca.dashboard.rollup import outcomes_rollup_recent


def outcomes_rollup_task() -> int:
    """Schedule "painel-outcomes-rollup": recompute the Painel's rollup of the last days whose reminders'
    results can still change. Safe to run twice (each day is rewritten whole). Returns the days done."""
    return outcomes_rollup_recent()


def regua_forecast_task() -> bool:
    """Schedule "painel-regua-forecast": recompute the régua page's 7-day forecast while the page is in use,
    so its views read it instead of running the planner. Safe to run twice."""
    return forecast_refresh()
