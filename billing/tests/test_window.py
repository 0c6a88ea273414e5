"""Send windows: parsing, weekdays, Saturday, Sunday, holidays, edges and the next opening."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from billing.dispatch.window import parse_window
from cobranca.exceptions import ApplicationError

SP = ZoneInfo("America/Sao_Paulo")
DEFAULT = "mon-fri 08:00-20:00; sat 08:00-14:00"


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SP)


@pytest.fixture
def window():
    return parse_window(DEFAULT, skip_holidays=True)


# 2026-11-23 is a Monday; 2026-11-20 (Friday) is Black Awareness Day, a national holiday.
@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(2026, 11, 23, 10), True),  # Monday morning
        (at(2026, 11, 23, 7, 59), False),  # before opening
        (at(2026, 11, 23, 8, 0), True),  # opening minute is inside
        (at(2026, 11, 23, 19, 59), True),
        (at(2026, 11, 23, 20, 0), False),  # closing minute is outside
        (at(2026, 11, 28, 13, 59), True),  # Saturday
        (at(2026, 11, 28, 14, 0), False),  # Saturday afternoon
        (at(2026, 11, 29, 10), False),  # Sunday
        (at(2026, 11, 20, 10), False),  # national holiday on a Friday
        (at(2026, 12, 25, 10), False),  # Christmas
    ],
)
def test_it_knows_when_the_window_is_open(window, moment, is_open):
    assert window.is_open(moment) is is_open


def test_it_uses_sao_paulo_time_whatever_the_input_zone(window):
    utc_noon = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)  # 20:30 in São Paulo
    assert window.is_open(utc_noon) is False


def test_the_next_opening_of_an_open_window_is_now(window):
    moment = at(2026, 11, 23, 10)
    assert window.next_opening(moment) == moment


def test_the_next_opening_after_hours_is_the_next_morning(window):
    assert window.next_opening(at(2026, 11, 23, 21)) == at(2026, 11, 24, 8)


def test_the_next_opening_before_hours_is_the_same_morning(window):
    assert window.next_opening(at(2026, 11, 24, 6)) == at(2026, 11, 24, 8)


def test_saturday_afternoon_waits_for_monday(window):
    assert window.next_opening(at(2026, 11, 28, 15)) == at(2026, 11, 30, 8)


def test_a_holiday_is_skipped(window):
    # Thursday evening before the Friday holiday → Saturday morning.
    assert window.next_opening(at(2026, 11, 19, 21)) == at(2026, 11, 21, 8)


def test_holidays_can_be_ignored():
    window = parse_window(DEFAULT, skip_holidays=False)
    assert window.is_open(at(2026, 11, 20, 10)) is True


def test_always_is_always_open():
    window = parse_window("always")
    assert window.is_open(at(2026, 12, 25, 3)) is True
    assert window.next_opening(at(2026, 12, 25, 3)) == at(2026, 12, 25, 3)


def test_several_ranges_and_day_lists():
    window = parse_window("mon,wed 09:00-12:00,14:00-18:00; daily 22:00-24:00", skip_holidays=False)
    assert window.is_open(at(2026, 11, 25, 13)) is False  # Wednesday lunch
    assert window.next_opening(at(2026, 11, 25, 13)) == at(2026, 11, 25, 14)
    assert window.is_open(at(2026, 11, 26, 23, 30)) is True  # Thursday, daily late range
    assert window.closes_at(at(2026, 11, 26, 23)) == at(2026, 11, 27, 0)


@pytest.mark.parametrize(
    "spec",
    ["", "seg 08:00-20:00", "mon 8-20", "mon 20:00-08:00", "fri-mon 08:00-10:00", "mon 08:00-25:00", "mon"],
)
def test_bad_specs_are_refused_in_portuguese(spec):
    with pytest.raises(ApplicationError) as exc:
        parse_window(spec)
    assert "Janela de envio" in exc.value.message


def test_describe_round_trips():
    window = parse_window(DEFAULT, skip_holidays=True)
    assert parse_window(window.describe(), skip_holidays=True).spans == window.spans
