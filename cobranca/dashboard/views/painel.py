"""Painel (/painel/): the numbers and charts of a period."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cobranca.dashboard import forms, outcomes, selectors
from cobranca.roles import operator_required


@operator_required
@require_GET
def painel(request: HttpRequest) -> HttpResponse:
    form = forms.PeriodForm(request.GET or None)
    period = selectors.DateRange.last_days(30)
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("inicio") or period.start
        end = form.cleaned_data.get("fim") or period.end
        period = selectors.DateRange(start=start, end=end)
    elif not form.is_bound:
        form = forms.PeriodForm(initial={"inicio": period.start, "fim": period.end})
    results = outcomes.reminder_outcomes(period.start_at, period.end_at)
    numbers = selectors.overview(period, funnel=results["funnel"])
    charts = selectors.painel_charts(period, numbers["funnel"], recovery=results["recovery_chart"])
    context = {
        "form": form,
        "period": period,
        "n": numbers,
        "charts": charts,
        "outcomes": results,
        "deals": outcomes.deals_in_period(period.start_at, period.end_at),
        "nav": "painel",
    }
    return render(request, "dashboard/painel.html", context)
