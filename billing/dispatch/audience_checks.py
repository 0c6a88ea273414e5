"""Warnings about the audience a campaign's message would reach (shown by the "validate first" dry run): what
the operator should know although nothing blocks the start.

- `{pix}` with PIX_PROVIDER=api_pix: a debtor without CPF/CNPJ gets the static code, which the PSP never
  reports as paid (no automatic payment notice);
- landline numbers (billing.phones flags them at import): most have no WhatsApp;
- a text that speaks of being overdue ({days_overdue}, "vencido", "em atraso"…) sent for charges not yet due:
  the debtor would read "vencido em <a future date> (0 dias)".
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from billing.models import Charge
from billing.suppression import suppressed_clients_q
from billing.templating import template_variables
from cobranca import clock

# Mobiles are +55, DDD, then 9 and eight digits (billing.phones.is_mobile); anything else is a landline.
_MOBILE_REGEX = r"^\+55[1-9][1-9]9[0-9]{8}$"
_OVERDUE_WORDS = re.compile(r"\b(vencid[oa]s?|em atraso|atrasad[oa]s?|inadimplen\w*)\b", re.IGNORECASE)


def _recipients(audience: QuerySet[Charge]) -> QuerySet[Charge]:
    """The audience charges the driver sends to: client not suppressed, charge open for reminders."""
    return audience.exclude(suppressed_clients_q("client__")).exclude(status__in=Charge.NO_REMINDER_STATUSES)


def speaks_of_overdue(body: str) -> bool:
    """Whether a body's text says the charge is overdue (by a variable or by its words)."""
    return "days_overdue" in template_variables(body) or bool(_OVERDUE_WORDS.search(body))


def audience_warnings(*, body: str, audience: QuerySet[Charge]) -> list[str]:
    """The warnings (pt-BR, each with its count) for a valid body sent to `audience`."""
    recipients = _recipients(audience)
    uses_pix = "pix" in template_variables(body)
    overdue = speaks_of_overdue(body)
    today = timezone.localtime(clock.now()).date()
    counts = recipients.aggregate(
        landline=_count(~Q(client__phone__regex=_MOBILE_REGEX)),
        no_document=_count(Q(client__document__regex=r"^\s*$")),
        not_due=_count(Q(due_date__gte=today)),
    )
    warnings: list[str] = []
    if uses_pix and settings.PIX_PROVIDER == "api_pix" and counts["no_document"]:
        warnings.append(
            f"{counts['no_document']} devedor(es) sem CPF/CNPJ receberão um PIX sem baixa automática (código "
            "estático: o pagamento não é avisado pelo banco). Complete o CPF/CNPJ no cadastro."
        )
    if counts["landline"]:
        warnings.append(
            f"{counts['landline']} destinatário(s) com telefone fixo: provavelmente sem WhatsApp. Confira os "
            "números ou tire esses clientes da audiência."
        )
    if overdue and counts["not_due"]:
        warnings.append(
            f"{counts['not_due']} cobrança(s) ainda não venceram, mas o texto fala em atraso "
            '("vencido", "em atraso", {days_overdue}): o devedor leria "vencido" com data futura e 0 dias. '
            "Use outro modelo para elas ou filtre a audiência por vencidas."
        )
    return warnings


def _count(q: Q) -> Count:
    return Count("pk", filter=q)
