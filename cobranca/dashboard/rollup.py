"""Keeps the Painel's per-day rollup of the reminders' results (models.OutcomeRollup) equal to what
cobranca.dashboard.outcomes computes from the dispatches.

Each day is recomputed whole with outcomes' own query (so the figures cannot drift from its definitions)
and rewritten in one transaction with its mark row: running it twice leaves the same rows. A reminder's
results keep changing for FOLLOW_DAYS after it went out (a payment within 30 days, a promise or an agreement
made, an opt-out), so the schedule recomputes the last FOLLOW_DAYS + 1 whole days; today is never rolled up
(the Painel computes it live). Older days are kept as last computed: what still changes them (a reply or a
wrong-number mark months later, a promise settled late, a debtor forgotten) shows after
`manage.py outcomes_rollup --days N` recomputes them.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from cobranca.dashboard.models import OutcomeRollup
from cobranca.dashboard.outcomes import AMOUNTS, COUNTS, FOLLOW_DAYS, per_campaign_rows
from cobranca.dashboard.selectors import day_start

REFRESH_DAYS = FOLLOW_DAYS + 1


def outcomes_rollup_day(*, day: dt.date) -> int:
    """Recompute one local day (it must be over: before today). Returns its number of campaign rows."""
    if day >= timezone.localdate():
        raise ValueError(f"{day} is not over yet: only past days are rolled up")
    rows = per_campaign_rows(day_start(day), day_start(day + dt.timedelta(days=1)))
    now = timezone.now()
    with transaction.atomic():
        OutcomeRollup.objects.filter(day=day).delete()
        OutcomeRollup.objects.bulk_create(
            [
                OutcomeRollup(day=day, campaign=None, computed_at=now),
                *(
                    OutcomeRollup(
                        day=day,
                        campaign_id=row["campaign_id"],
                        computed_at=now,
                        **{name: row[name] for name in (*COUNTS, *AMOUNTS)},
                    )
                    for row in rows
                ),
            ]
        )
    return len(rows)


def outcomes_rollup_recent(*, days: int = REFRESH_DAYS) -> int:
    """Recompute the `days` whole days before today (the schedule's job). Returns the days done."""
    today = timezone.localdate()
    for back in range(days, 0, -1):
        outcomes_rollup_day(day=today - dt.timedelta(days=back))
    return days
