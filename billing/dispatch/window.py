"""Send windows: when campaign messages may go out.

Syntax (settings.SEND_WINDOW and Campaign.send_window): clauses separated by ``;``, each ``<days> <ranges>``:

    mon-fri 08:00-20:00; sat 08:00-14:00
    mon,wed,fri 09:00-12:00,14:00-18:00
    daily 09:00-19:00

Days are ``mon tue wed thu fri sat sun`` (single, ``a-b`` ranges, comma lists) or ``daily``; ranges are
``HH:MM-HH:MM`` with ``24:00`` allowed as an end. ``always`` means no window at all (tests and demos). Times
are in settings.TIME_ZONE (America/Sao_Paulo); national holidays (``holidays``, country BR) are closed when
settings.SEND_WINDOW_SKIP_HOLIDAYS is on.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings

from cobranca.exceptions import ApplicationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS_PT = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
ALWAYS = "always"
# Far enough to cross any run of holidays and weekends; a window that never opens in this horizon is a bad
# spec.
_SEARCH_DAYS = 21

_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@functools.lru_cache(maxsize=16)
def _br_holidays(year: int):
    import holidays

    return holidays.country_holidays("BR", years=year)


def is_holiday(day: dt.date) -> bool:
    return day in _br_holidays(day.year)


@dataclass(frozen=True)
class SendWindow:
    """A weekly schedule of open intervals (minutes of the day), minus holidays when `skip_holidays`."""

    spans: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    always: bool = False
    skip_holidays: bool = True
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(settings.TIME_ZONE))

    def _day_spans(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        if self.skip_holidays and is_holiday(day):
            return ()
        return self.spans.get(day.weekday(), ())

    def is_open(self, at: dt.datetime) -> bool:
        if self.always:
            return True
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._day_spans(local.date()))

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """`at` itself when the window is open, else the next moment it opens (aware, in the window's
        zone)."""
        if self.always:
            return at
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, end in self._day_spans(day):
                if offset == 0 and start <= minute < end:
                    return at
                if offset > 0 or start > minute:
                    return self._at(day, start)
        raise ApplicationError(
            "A janela de envio não abre nas próximas semanas.", {"window": self.describe()}
        )

    def closes_at(self, at: dt.datetime) -> dt.datetime | None:
        """End of the open interval containing `at` (None when closed or always open)."""
        if self.always:
            return None
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for start, end in self._day_spans(local.date()):
            if start <= minute < end:
                return self._at(local.date(), end)
        return None

    def _at(self, day: dt.date, minute: int) -> dt.datetime:
        if minute >= 24 * 60:
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=self.tz)
        return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=self.tz)

    def describe(self) -> str:
        if self.always:
            return ALWAYS
        parts = []
        for weekday, spans in sorted(self.spans.items()):
            ranges = ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans)
            parts.append(f"{DAYS[weekday]} {ranges}")
        return "; ".join(parts)


def _parse_days(token: str) -> list[int]:
    if token in ("daily", "*"):
        return list(range(7))
    days: list[int] = []
    for part in token.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"dia desconhecido em {part!r}")
            a, b = DAYS.index(first), DAYS.index(last)
            if a > b:
                raise ValueError(f"intervalo de dias invertido: {part!r}")
            days.extend(range(a, b + 1))
        elif part in DAYS:
            days.append(DAYS.index(part))
        else:
            raise ValueError(f"dia desconhecido: {part!r}")
    return days


def _parse_ranges(token: str) -> list[tuple[int, int]]:
    ranges = []
    for part in token.split(","):
        match = _RANGE_RE.match(part)
        if not match:
            raise ValueError(f"horário inválido: {part!r} (use HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start >= end:
            raise ValueError(f"horário inválido: {part!r}")
        ranges.append((start, end))
    return ranges


def parse_window(spec: str, *, skip_holidays: bool | None = None) -> SendWindow:
    """Parse a window spec; raises ApplicationError (pt-BR message) on bad syntax."""
    if skip_holidays is None:
        skip_holidays = settings.SEND_WINDOW_SKIP_HOLIDAYS
    return _parse_window(spec, skip_holidays)


@functools.lru_cache(maxsize=64)
def _parse_window(spec: str, skip_holidays: bool) -> SendWindow:
    # Cached: the driver asks for the same few specs on every refresh.
    text = " ".join(spec.lower().split())
    if text == ALWAYS:
        return SendWindow(always=True, skip_holidays=False)
    spans: dict[int, list[tuple[int, int]]] = {}
    try:
        for clause in filter(None, (c.strip() for c in text.split(";"))):
            tokens = clause.split(" ")
            if len(tokens) != 2:
                raise ValueError(f"trecho inválido: {clause!r} (use 'dias HH:MM-HH:MM')")
            for weekday in _parse_days(tokens[0]):
                spans.setdefault(weekday, []).extend(_parse_ranges(tokens[1]))
    except ValueError as exc:
        raise ApplicationError(f"Janela de envio inválida: {exc}.", {"send_window": spec}) from None
    if not spans:
        raise ApplicationError("Janela de envio vazia.", {"send_window": spec})
    return SendWindow(
        spans={day: tuple(sorted(ranges)) for day, ranges in spans.items()},
        skip_holidays=skip_holidays,
    )


def window_for_campaign(campaign) -> SendWindow:
    return parse_window(campaign.send_window or settings.SEND_WINDOW)


def describe_opening(at: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """pt-BR for an opening time: "segunda 08:00" within the coming week, "segunda 14/12 08:00" beyond."""
    local = at.astimezone(ZoneInfo(settings.TIME_ZONE))
    text = f"{DAYS_PT[local.weekday()]} {local:%H:%M}"
    if now is not None and (at - now) >= dt.timedelta(days=6):
        text = f"{DAYS_PT[local.weekday()]} {local:%d/%m} {local:%H:%M}"
    return text


def campaign_window_wait(campaign, now: dt.datetime) -> dt.datetime | None:
    """When a running campaign whose send window is closed at `now` may send again; None when it is not
    waiting for its window (open window, another status, a spec that no longer parses)."""
    if campaign.status != "running":
        return None
    try:
        window = window_for_campaign(campaign)
        opens = window.next_opening(now)
    except ApplicationError:
        return None
    return opens if opens > now else None


# The hours a reminder is expected in, used to judge a campaign sent without a window: the configured default
# window, or the usual commercial hours when even that is "always" (tests, demos).
USUAL_HOURS = "mon-fri 08:00-20:00; sat 08:00-14:00"


def off_hours_warning(spec: str, now: dt.datetime) -> str:
    """For a campaign whose own window is `always` (sent at any hour): the warning (pt-BR) when `now` is
    outside the usual hours (night, Sunday, a holiday), else "". CDC art. 42: collection must not expose or
    harass the debtor; Procons treat messages at night and on rest days as abusive."""
    if spec.strip().lower() != ALWAYS:
        return ""
    usual_spec = settings.SEND_WINDOW if settings.SEND_WINDOW.strip().lower() != ALWAYS else USUAL_HOURS
    try:
        usual = parse_window(usual_spec, skip_holidays=True)
    except ApplicationError:
        usual = parse_window(USUAL_HOURS, skip_holidays=True)
    if usual.is_open(now):
        return ""
    return (
        "Campanha sem janela de envio e agora está fora do horário usual da janela padrão: as mensagens "
        "sairiam à noite, de madrugada, num domingo ou feriado. O CDC (art. 42) e os Procons tratam cobrança "
        "fora do horário comercial como constrangimento: confirme explicitamente para iniciar."
    )
