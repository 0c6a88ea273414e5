"""Régua de cobrança (/painel/regua/): the next 7 days as a calendar (messages per day and step, who and why
the others stop), a charge's "próximos lembretes", pause/resume/turn on, and the results per step."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from billing.models import Charge
from billing.regua import selectors, services
from cobranca.dashboard import regua_forecast
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.roles import operator_required

# Button (URL slug) → (service, flash text).
ACTIONS = {
    "ligar": (services.regua_enable, "ligada"),
    "pausar": (services.regua_pause, "pausada"),
    "retomar": (services.regua_resume, "retomada"),
}


@operator_required
@require_GET
def regua_page(request: HttpRequest) -> HttpResponse:
    reguas = list(selectors.regua_list())
    calendar, results, calendar_at = regua_forecast.forecast_for_page(reguas)
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
        matches, total = selectors.charge_search(text=lookup, full_contact=sees_full_contact(request.user))
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
