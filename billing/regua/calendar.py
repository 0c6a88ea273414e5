"""The régua's calendar: open days (window, national holidays, Carnival), the shift of a step to the next open
day, and the plan-time view of réguas and steps (plain values, read once per run)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings

from billing.dispatch.window import SendWindow, parse_window
from billing.regua.models import Regua, StepKind

# How many closed days in a row the shift looks back over (a long holiday run plus a weekend fits easily).
_MAX_CLOSED_RUN = 14


@functools.lru_cache(maxsize=16)
def _carnival_days(year: int) -> frozenset[dt.date]:
    import holidays

    optional = holidays.country_holidays("BR", years=year, categories=("optional",))
    return frozenset(day for day, name in optional.items() if "carnival" in name.lower())


def is_carnival(day: dt.date) -> bool:
    return day in _carnival_days(day.year)


@dataclass(frozen=True)
class StepInfo:
    id: int
    regua_id: int
    kind: str
    offset: int
    label: str
    template_id: int
    template_name: str
    statuses: frozenset[str]

    @property
    def code(self) -> str:
        prefix = {StepKind.DUE: "D", StepKind.PROMISE: "P", StepKind.INSTALLMENT: "A"}[StepKind(self.kind)]
        return f"{prefix}{self.offset:+d}" if self.offset else f"{prefix}0"

    @property
    def before_due(self) -> bool:
        return self.offset < 0 and self.kind in (StepKind.DUE, StepKind.INSTALLMENT)

    def priority(self) -> tuple:
        """Higher first when one charge has several steps on one day: a promise follow-up, then the step
        furthest along."""
        return (self.kind == StepKind.PROMISE, self.offset)


@dataclass
class ReguaInfo:
    id: int
    slug: str
    name: str
    is_default: bool
    status: str
    window: SendWindow
    skip_carnival: bool
    steps: list[StepInfo]

    def is_open_day(self, day: dt.date) -> bool:
        """Whether the régua's window opens at all on `day` (weekday spans, holidays, Carnival)."""
        if self.skip_carnival and is_carnival(day):
            return False
        if self.window.always:
            return True
        start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=self.window.tz)
        return self.window.next_opening(start).astimezone(self.window.tz).date() == day

    def nominal_days(self, day: dt.date) -> list[dt.date]:
        """The nominal step days that land on `day`: `day` itself and the closed days right before it; none
        when `day` is closed (its steps move to the next open day)."""
        if not self.is_open_day(day):
            return []
        days = [day]
        for back in range(1, _MAX_CLOSED_RUN + 1):
            previous = day - dt.timedelta(days=back)
            if self.is_open_day(previous):
                break
            days.append(previous)
        return days

    def send_day(self, nominal: dt.date) -> dt.date:
        """The open day a step with this nominal day goes out on."""
        day = nominal
        for _ in range(_MAX_CLOSED_RUN * 3):
            if self.is_open_day(day):
                return day
            day += dt.timedelta(days=1)
        return day

    def opening(self, day: dt.date, now: dt.datetime | None = None) -> dt.datetime:
        """When sending can start on `day`: the window's first opening that day, or `now` when later."""
        start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=self.window.tz)
        if now is not None and now > start:
            start = now
        return self.window.next_opening(start)


def regua_info(regua: Regua) -> ReguaInfo:
    steps = [
        StepInfo(
            id=s.pk,
            regua_id=regua.pk,
            kind=s.kind,
            offset=s.offset_days,
            label=s.label,
            template_id=s.template_id,
            template_name=s.template.name,
            statuses=frozenset(s.charge_statuses or ()),
        )
        for s in regua.steps.filter(is_active=True).select_related("template").order_by("kind", "offset_days")
    ]
    return ReguaInfo(
        id=regua.pk,
        slug=regua.slug,
        name=regua.name,
        is_default=regua.is_default,
        status=regua.status,
        window=parse_window(regua.send_window or settings.SEND_WINDOW),
        skip_carnival=regua.skip_carnival,
        steps=steps,
    )
