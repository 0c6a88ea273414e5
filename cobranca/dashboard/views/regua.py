"""Régua de cobrança (/painel/regua/): the next 7 days as a calendar (messages per day and step, who and why
the others stop), a charge's "próximos lembretes", pause/resume/turn on, and the results per step."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing.models import Charge
from billing.regua import selectors, services
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required

# Button (URL slug) → (service, flash text).
ACTIONS = {
    "ligar": (services.regua_enable, "ligada"),
    "pausar": (services.regua_pause, "pausada"),
    "retomar": (services.regua_resume, "retomada"),
}


# The 7-day forecast runs the planner once per day over every open charge: ~60 queries and seconds of
# Python at 100,000 charges (docs/benchmarks.md). It is a forecast, so it is computed at most once per
# CALENDAR_SECONDS and shared by every operator, with the results per step (4 queries per régua). The key
# changes with the day and with any change of a régua (status, settings: `updated_at`), so pausing or
# turning one on shows at once.
CALENDAR_SECONDS = 120


def _forecast(reguas) -> tuple[list[dict], dict[int, list[dict]], dt.datetime]:
    """The 7-day calendar, each régua's results per step, and when they were computed (cached together)."""
    key = "dashboard:regua-calendar:" + ":".join(
        [timezone.localdate().isoformat(), *(f"{r.pk}-{r.status}-{r.updated_at.timestamp()}" for r in reguas)]
    )
    cached = cache.get(key)
    if cached is None:
        results = {regua.pk: selectors.regua_step_results(regua=regua) for regua in reguas}
        cached = (selectors.regua_calendar(days=7), results, timezone.now())
        cache.set(key, cached, CALENDAR_SECONDS)
    return cached


@operator_required
@require_GET
def regua_page(request: HttpRequest) -> HttpResponse:
    reguas = list(selectors.regua_list())
    calendar, results, calendar_at = _forecast(reguas)
    for regua in reguas:
        regua.results = results[regua.pk]
    lookup = (request.GET.get("cobranca") or "").strip()
    chosen = (request.GET.get("escolha") or "").strip()
    charge, reminders, matches, total = None, None, [], 0
    if chosen.isdigit():
        charge = (
            Charge.objects.select_related("client", "regua", "import_batch__regua")
            .filter(pk=int(chosen))
            .first()
        )
    elif lookup:
        matches, total = selectors.charge_search(text=lookup)
        if total == 1:
            charge, matches = matches[0], []
        elif total == 0:
            messages.warning(
                request,
                f"Nenhuma cobrança encontrada para “{lookup}”. Busque pelo nome do devedor, pelo telefone "
                "ou pelo id da cobrança.",
            )
    if charge is not None:
        reminders = selectors.charge_reminders(charge=charge)
    elif chosen:
        messages.warning(request, "Cobrança não encontrada.")
    context = {
        "nav": "regua",
        "reguas": reguas,
        "calendar": calendar,
        "calendar_at": calendar_at,
        "lookup": lookup,
        "charge": charge,
        "reminders": reminders,
        "matches": matches,
        "total": total,
    }
    return render(request, "dashboard/regua.html", context)


@operator_required
@require_POST
def regua_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    if action not in ACTIONS:
        messages.error(request, "Ação desconhecida.")
        return redirect("dashboard:regua")
    service, done = ACTIONS[action]
    try:
        regua = services.regua_get(slug_or_id=slug)
        kwargs = {"confirm_compliance": request.POST.get("confirmar") == "1"} if action == "ligar" else {}
        regua = service(regua=regua, by=request.user, **kwargs)
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"Régua “{regua.name}” {done}.")
    return redirect("dashboard:regua")
