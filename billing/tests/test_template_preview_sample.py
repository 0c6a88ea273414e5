"""The preview's sample charge is dated from the project's clock (cobranca.clock): due in a few days, never a
fixed date that reads as long overdue a year later."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.templating import SAMPLE_DUE_IN_DAYS, sample_context, template_preview
from cobranca import clock

BODY = "{vencimento}|{dias_atraso}|{data_atual}|{descricao}\n{lista_cobrancas}"


def _preview_at(tmp_path, settings, at: dt.datetime) -> str:
    settings.CLOCK_FILE = str(tmp_path / "clock")
    clock.set_clock(settings.CLOCK_FILE, at)
    return template_preview(body=BODY).text


@pytest.mark.parametrize(
    ("at", "due", "month"),
    [
        (dt.datetime(2031, 3, 10, 10, 0, tzinfo=dt.UTC), "13/03/2031", "março"),
        # 23:30 in São Paulo on 31/12 is already 1 January in UTC: the date is the local one.
        (dt.datetime(2032, 1, 1, 2, 30, tzinfo=dt.UTC), "03/01/2032", "janeiro"),
    ],
)
def test_the_sample_charge_is_due_a_few_days_after_the_clocks_today(tmp_path, settings, at, due, month):
    assert SAMPLE_DUE_IN_DAYS == 3
    first, *lines = _preview_at(tmp_path, settings, at).split("\n")
    due_on, days_overdue, today, description = first.split("|")
    assert due_on == due
    assert days_overdue == "0"  # the same charge: not overdue yet
    today_local = at.astimezone(dt.timezone(dt.timedelta(hours=-3))).date()
    assert today == f"{today_local:%d/%m/%Y}"
    assert description == f"Mensalidade de {month}"
    assert lines[0] == f"• Mensalidade de {month}: R$ 150,50, vence em {due}"
    assert "venceu" not in "\n".join(lines)


def test_the_sample_follows_the_clock_when_it_moves(tmp_path, settings):
    before = _preview_at(tmp_path, settings, dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC))
    after = _preview_at(tmp_path, settings, dt.datetime(2030, 7, 1, 12, tzinfo=dt.UTC))
    assert before.startswith("04/06/2030|") and after.startswith("04/07/2030|")


def test_an_explicit_now_still_wins_over_the_clock(settings):
    settings.CLOCK_FILE = ""
    context = sample_context(dt.datetime(2029, 2, 26, 15, tzinfo=dt.UTC))
    assert (context["due_date"], context["current_date"]) == ("01/03/2029", "26/02/2029")
