"""Régua de cobrança (/painel/regua/): the next 7 days as a calendar (messages per day and step, who and why
the others stop), a charge's "próximos lembretes", pause/resume/turn on, and the results per step."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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


@operator_required
@require_GET
def regua_page(request: HttpRequest) -> HttpResponse:
    reguas = list(selectors.regua_list())
    for regua in reguas:
        regua.results = selectors.regua_step_results(regua=regua)
    lookup = (request.GET.get("cobranca") or "").strip()
    charge, reminders = None, None
    if lookup:
        charge = (
            Charge.objects.select_related("client", "regua", "import_batch__regua")
            .filter(external_id=lookup)
            .first()
        )
        if charge is None and lookup.isdigit():
            charge = (
                Charge.objects.select_related("client", "regua", "import_batch__regua")
                .filter(pk=int(lookup))
                .first()
            )
        if charge is None:
            messages.warning(request, f"Cobrança “{lookup}” não encontrada.")
        else:
            reminders = selectors.charge_reminders(charge=charge)
    context = {
        "nav": "regua",
        "reguas": reguas,
        "calendar": selectors.regua_calendar(days=7),
        "lookup": lookup,
        "charge": charge,
        "reminders": reminders,
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
