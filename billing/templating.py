"""Safe message templates: `{name}`-style variables, nothing else.

Templates are written by operators and rendered for thousands of debtors, so `str.format` is never called on
them: `{name.__class__}`, `{name[0]}`, `{amount!r}` or `{amount:>99999}` would reach Python objects or blow up
memory. The body is parsed with `string.Formatter().parse` and only the whitelisted names below are accepted,
without attribute/index access, conversions or format specs. Values are plain strings built here.

Portuguese aliases from the original system ({nome}, {valor}, {data}, …) render like their English names.

A variable may carry a fallback for debtors where it is empty: `{description|"sua mensalidade"}` (double
quotes, no braces, quotes or '!' inside, at most FALLBACK_MAX characters). Without a fallback, a variable that
renders empty for a recipient blocks the campaign (`empty_variables_q`, counted by campaign validation).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import string
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import format_date
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from billing.compliance import template_compliance_warnings
from billing.models import Charge, Client, MessageTemplate
from billing.money import format_brl
from billing.payments.owed import amount_now
from billing.payments.pix_charges import PAYABLE_STATUSES, amount_owed, message_pix_code, static_code
from billing.payments.schedule import add_months
from billing.phones import format_phone
from chatbot.pix import PixError, pix_payload
from cobranca import clock, text
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_phone

VARIABLES: dict[str, str] = {
    "name": "Nome do cliente",
    "first_name": "Primeiro nome do cliente",
    "amount": "Valor em aberto agora (R$ 150,50): o saldo, ou a próxima parcela do acordo (o valor do {pix})",
    "phone": "Telefone (+55 11 98765-4321)",
    "due_date": "Vencimento (15/01/2026)",
    "description": "Descrição da cobrança",
    "current_date": "Data atual (dd/mm/aaaa)",
    "current_time": "Hora atual (HH:MM, horário de Brasília)",
    "days_overdue": "Dias em atraso (0 se não venceu)",
    "creditor_name": "Nome do credor",
    "creditor_document": "CNPJ/CPF do credor",
    "creditor_address": "Endereço do credor",
    "charges_list": "Lista das cobranças da mensagem, uma por linha (régua: várias cobranças do devedor)",
    "charges_total": "Soma das cobranças da mensagem (R$)",
    "pix": "Código PIX copia e cola do valor em aberto (a parcela do acordo, se houver)",
}
ALIASES: dict[str, str] = {
    "nome": "name",
    "primeiro_nome": "first_name",
    "valor": "amount",
    "telefone": "phone",
    "vencimento": "due_date",
    "data": "due_date",
    "descricao": "description",
    "data_atual": "current_date",
    "hora_atual": "current_time",
    "dias_atraso": "days_overdue",
    "credor": "creditor_name",
    "cnpj_credor": "creditor_document",
    "lista_cobrancas": "charges_list",
    "total_cobrancas": "charges_total",
}
MAX_BODY = 4096
FALLBACK_MAX = 60
# name|"fallback": the part after '|' is a double-quoted literal.
_FALLBACK = re.compile(r'^(?P<name>[^|]*)\|\s*"(?P<fallback>[^"{}!]*)"\s*$')
# What makes a variable render empty for one audience charge (lookups from Charge); variables missing here
# never render empty for a charge (amount, due date, phone, clock, lists) or come from settings (creditor_*).
_EMPTY_LOOKUPS: dict[str, Q] = {
    "name": Q(client__name=""),
    "first_name": Q(client__name=""),
    "description": Q(description=""),
}
_SETTINGS_VARIABLES = {
    "creditor_name": "CREDITOR_NAME",
    "creditor_document": "CREDITOR_DOCUMENT",
    "creditor_address": "CREDITOR_ADDRESS",
}


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, [*VARIABLES, *ALIASES], n=1, cutoff=0.6)
    return f" Você quis dizer {{{close[0]}}}?" if close else ""


Piece = tuple[str, "str | None", "str | None"]


def _split_fallback(raw: str) -> tuple[str, str | None, str | None]:
    """`name|"text"` → (name, "text", None); (raw, None, None) without '|'; an error for a bad fallback."""
    if "|" not in raw:
        return raw, None, None
    match = _FALLBACK.match(raw)
    if not match or not match["name"].strip():
        return (
            raw,
            None,
            (
                f"{{{raw}}}: o valor padrão vai entre aspas duplas depois de '|', sem chaves, aspas ou '!', "
                'por exemplo {description|"sua mensalidade"}.'
            ),
        )
    fallback = match["fallback"].strip()
    if not fallback:
        return raw, None, f"{{{raw}}}: o valor padrão entre aspas não pode ficar vazio."
    if len(fallback) > FALLBACK_MAX:
        return raw, None, f"{{{raw}}}: o valor padrão pode ter até {FALLBACK_MAX} caracteres."
    return match["name"].strip(), fallback, None


def _parse(body: str, extra: tuple[str, ...] = ()) -> tuple[list[Piece], list[str]]:
    """(literal, canonical variable or None, fallback or None) pieces and the errors found. `extra` names
    variables a caller adds to the standard ones (the inbox's canned replies add {pix})."""
    errors: list[str] = []
    pieces: list[Piece] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        text = str(exc)
        if "Single '}'" in text:
            errors.append(
                "Há um '}' sem o '{' correspondente. Para escrever chaves literais use '{{' e '}}'."
            )
        elif "Single '{'" in text or "expected '}'" in text:
            errors.append(
                "Há um '{' sem o '}' correspondente. Para escrever chaves literais use '{{' e '}}'."
            )
        else:
            errors.append("Chaves '{ }' mal formadas no texto.")
        return [], errors
    for literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            pieces.append((literal, None, None))
            continue
        fallback = None
        if "|" in field_name or "|" in (format_spec or ""):
            # A ':' inside the quoted fallback reaches Formatter as a format spec: put the text back together.
            raw = field_name + (f":{format_spec}" if format_spec else "")
            field_name, fallback, error = _split_fallback(raw)
            if error:
                errors.append(error)
                pieces.append((literal, None, None))
                continue
            format_spec = ""
        shown = (
            "{"
            + field_name
            + (f"!{conversion}" if conversion else "")
            + (f":{format_spec}" if format_spec else "")
            + "}"
        )
        if field_name == "" or field_name.isdigit():
            errors.append(f"Variável vazia ou numérica {shown}: use um nome, por exemplo {{name}}.")
        elif any(c in field_name for c in ".[]"):
            errors.append(
                f"{shown}: acesso a atributos ou índices não é permitido; use só o nome da variável."
            )
        elif conversion or format_spec:
            errors.append(f"{shown}: formatação (':' ou '!') não é permitida; use apenas {{{field_name}}}.")
        elif field_name not in VARIABLES and field_name not in ALIASES and field_name not in extra:
            errors.append(
                f"Variável desconhecida {shown}.{_suggest(field_name)} "
                f"Disponíveis: {', '.join('{' + v + '}' for v in dict.fromkeys((*VARIABLES, *extra)))}."
            )
        else:
            pieces.append((literal, ALIASES.get(field_name, field_name), fallback))
            continue
        pieces.append((literal, None, None))
    return pieces, errors


def template_validate(body: str, *, extra: tuple[str, ...] = ()) -> list[str]:
    """Errors (pt-BR) that make a template body unusable; empty when it is fine."""
    if not isinstance(body, str) or not body.strip():
        return ["O texto do modelo não pode ficar vazio."]
    if len(body) > MAX_BODY:
        return [f"O texto do modelo é longo demais ({len(body)} caracteres; máximo {MAX_BODY})."]
    return _parse(body, extra)[1]


def template_variables(body: str) -> list[str]:
    """Canonical names of the variables a valid body uses, in order of first appearance."""
    pieces, _errors = _parse(body)
    return list(dict.fromkeys(name for _literal, name, _fallback in pieces if name))


def variables_without_fallback(body: str, *, extra: tuple[str, ...] = ()) -> list[str]:
    """Canonical names used at least once without a fallback: the ones that can reach a debtor empty."""
    pieces, _errors = _parse(body, extra)
    return list(dict.fromkeys(name for _literal, name, fallback in pieces if name and fallback is None))


def empty_variables_q(body: str) -> tuple[Q | None, list[str]]:
    """Which audience charges would get a message with an empty variable, for a valid body.

    Returns (a Q on Charge matching them, or None when no charge can; the variables that can be empty, in
    body order). A creditor variable whose setting is blank is empty for every charge."""
    q: Q | None = None
    names: list[str] = []
    for name in variables_without_fallback(body):
        setting = _SETTINGS_VARIABLES.get(name)
        if setting is not None:
            if not str(getattr(settings, setting) or "").strip():
                names.append(name)
                q = Q(pk__isnull=False)  # every charge
            continue
        lookup = _EMPTY_LOOKUPS.get(name)
        if lookup is not None:
            names.append(name)
            q = lookup if q is None else q | lookup
    return q, names


def _creditor_context() -> dict[str, str]:
    return {
        "creditor_name": settings.CREDITOR_NAME,
        "creditor_document": settings.CREDITOR_DOCUMENT,
        "creditor_address": settings.CREDITOR_ADDRESS,
    }


def _clock_context(now: dt.datetime | None) -> dict[str, str]:
    local = (now or timezone.now()).astimezone(timezone.get_default_timezone())
    return {"current_date": local.strftime("%d/%m/%Y"), "current_time": local.strftime("%H:%M")}


def charge_line(
    *, description: str, amount: Decimal, due_date: dt.date, today: dt.date, note: str = ""
) -> str:
    """One line of the {charges_list} variable: what, how much, and when it is or was due (or `note`)."""
    if note:
        when = note
    elif due_date > today:
        when = f"vence em {due_date:%d/%m/%Y}"
    elif due_date == today:
        when = f"vence hoje ({due_date:%d/%m/%Y})"
    else:
        when = f"venceu em {due_date:%d/%m/%Y}"
    return f"• {description or 'Cobrança'}: {format_brl(amount)}, {when}"


def template_context(
    *, charge: Charge | None = None, client: Client | None = None, now: dt.datetime | None = None
) -> dict[str, str]:
    """Every variable as display text for one charge (and its client) or a client alone. Variables that need a
    charge are empty when there is none."""
    now = now or timezone.now()
    client = client or (charge.client if charge is not None else None)
    context = {name: "" for name in VARIABLES}
    context.update(_creditor_context())
    context.update(_clock_context(now))
    if client is not None:
        context["name"] = client.name
        context["first_name"] = client.first_name
        context["phone"] = format_phone(client.phone)
    if charge is not None:
        today = now.astimezone(timezone.get_default_timezone()).date()
        context["amount"] = format_brl(amount_now(charge))  # what {pix} charges (billing.payments.owed)
        context["due_date"] = charge.due_date.strftime("%d/%m/%Y")
        context["description"] = charge.description or ""
        context["days_overdue"] = str(charge.days_overdue(today))
        context["charges_list"] = charge_line(
            description=charge.description, amount=charge.amount, due_date=charge.due_date, today=today
        )
        context["charges_total"] = format_brl(charge.amount)
    # {pix} is filled only where a body uses it (template_render, template_preview): it costs queries.
    return context


def _static_pix(charge: Charge) -> str:
    """The static code for what the charge owes now, for previews (no PSP call, no cobv created)."""
    amount = amount_owed(charge)[1] if charge.status in PAYABLE_STATUSES else Decimal("0")
    if amount <= 0:
        return ""
    try:
        return static_code(charge, amount)
    except PixError:
        return ""


SAMPLE_DUE_IN_DAYS = 3  # previews' sample charge is due this long after the clock's today (never a dated day)


def sample_context(now: dt.datetime | None = None) -> dict[str, str]:
    """Sample values for previews in the template editor, dated from `now` (default: cobranca.clock)."""
    now = now or clock.now()
    today = now.astimezone(timezone.get_default_timezone()).date()
    due = today + dt.timedelta(days=SAMPLE_DUE_IN_DAYS)
    months = (due, add_months(due, 1))
    charges = [(f"Mensalidade de {format_date(d, 'MMMM', locale='pt_BR')}", d) for d in months]
    amount = Decimal("150.50")
    lines = [charge_line(description=d, amount=amount, due_date=when, today=today) for d, when in charges]
    context = {
        "name": "Maria da Silva",
        "first_name": "Maria",
        "amount": format_brl(amount),
        "phone": format_phone("+5511987654321"),
        "due_date": f"{due:%d/%m/%Y}",
        "description": charges[0][0],
        "days_overdue": "0",  # the same sample charge: not due yet
        "charges_list": "\n".join(lines),
        "charges_total": format_brl(amount * 2),
        # A well-formed static BR Code (a made-up CPF key) standing in for a debtor's code.
        "pix": pix_payload(
            key="12345678909", name="Credor Exemplo", city="SAO PAULO", amount=amount, txid="EXEMPLO"
        ),
    }
    context.update(_creditor_context())
    context.update(_clock_context(now))
    return context


def template_render(
    *,
    body: str,
    charge: Charge | None = None,
    client: Client | None = None,
    context: dict[str, str] | None = None,
    now: dt.datetime | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """Render a body. Values come from `template_context(charge, client)`; `context` overrides them (canonical
    names) and gives the `extra` variables theirs. Raises ApplicationError when the body is invalid (it should
    have been rejected when saved)."""
    errors = template_validate(body, extra=extra)
    if errors:
        raise ApplicationError("Modelo de mensagem inválido.", {"errors": errors})
    values = template_context(charge=charge, client=client, now=now)
    if context:
        values.update({ALIASES.get(k, k): "" if v is None else str(v) for k, v in context.items()})
    pieces, _ = _parse(text.normalize_newlines(body), extra)  # LF only, as WhatsApp and the bot write
    if charge is not None and "pix" not in (context or {}) and any(name == "pix" for _l, name, _f in pieces):
        # A message that leaves (campaign, régua, single send; never a preview, which passes its context):
        # the PSP's code with PIX_PROVIDER=api_pix, the static one otherwise or when the PSP cannot give one.
        pix = message_pix_code(charge)
        values["pix"] = pix.code if pix is not None else ""
    return "".join(
        literal + ((values.get(name, "").strip() and values.get(name, "")) or fallback or "" if name else "")
        for literal, name, fallback in pieces
    )


# --- preview ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplatePreview:
    """A body rendered for a preview: `text` is empty when `errors` says why it cannot be rendered."""

    text: str
    errors: list[str]
    warnings: list[str]
    variables: list[str]
    charge: Charge | None = None
    client: Client | None = None


def preview_charge_for(client: Client) -> Charge | None:
    """The charge a preview for this client shows: the next open one (earliest due), else the latest one."""
    return (
        client.charges.filter(status__in=Charge.OPEN_STATUSES).order_by("due_date", "pk").first()
        or client.charges.order_by("-due_date", "-pk").first()
    )


def template_preview(
    *,
    body: str,
    client: Client | None = None,
    charge: Charge | None = None,
    now: dt.datetime | None = None,
    full_contact: bool = True,
) -> TemplatePreview:
    """Validate a body and render it for one debtor: the API's preview, the editor's and the campaign page's.

    With `charge`, its values (and its client's); with only `client`, `preview_charge_for(client)`; with
    neither, the sample data. Variables with no real value (a client without charges) keep the sample.
    `full_contact=False` (a reader without cobranca.masking.sees_full_contact) renders {phone} masked.
    """
    errors = template_validate(body)
    warnings = template_compliance_warnings(body) if isinstance(body, str) else []
    if charge is not None:
        client = charge.client
    elif client is not None:
        charge = preview_charge_for(client)
    if errors:
        return TemplatePreview(text="", errors=errors, warnings=warnings, variables=[], client=client)
    context = sample_context(now)
    if client is not None:
        real = template_context(charge=charge, client=client, now=now)
        if charge is not None and "pix" in template_variables(body):
            real["pix"] = _static_pix(charge)  # never the PSP's: a preview creates no cobv
        if not full_contact:
            real["phone"] = mask_phone(client.phone)
        context.update({k: v for k, v in real.items() if v or charge is not None})
    return TemplatePreview(
        text=template_render(body=body, context=context, now=now),
        errors=[],
        warnings=warnings,
        variables=template_variables(body),
        charge=charge,
        client=client,
    )


# --- services
# ----------------------------------------------------------------------------------------------------

RESERVED_NAMES = frozenset({"preview"})


def _check_template(*, name: str, body: str, instance: MessageTemplate | None = None) -> None:
    fields: dict[str, list[str]] = {}
    if name in RESERVED_NAMES:
        fields["name"] = [f"O nome {name!r} é reservado."]
    elif MessageTemplate.objects.filter(name=name).exclude(pk=instance.pk if instance else None).exists():
        fields["name"] = [f"Já existe um modelo chamado {name!r}."]
    body_errors = template_validate(body)
    if body_errors:
        fields["body"] = body_errors
    if fields:
        raise ApplicationError("Modelo de mensagem inválido.", {"fields": fields})


def template_slug_for(title: str) -> str:
    """A free slug for a template named in words: "Cobrança à vista" → cobranca-a-vista, else -2, -3…"""
    base = slugify(title)[:90].strip("-") or "modelo"
    names = MessageTemplate.objects.filter(name__startswith=base).values_list("name", flat=True)
    taken = RESERVED_NAMES | set(names)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def template_create(*, body: str, name: str = "", title: str = "", is_active: bool = True) -> MessageTemplate:
    """Create a template after checking its body (see template_validate). Compliance warnings do not block.
    Without a `name` (slug) one is derived from `title`; one of the two is required."""
    if not name:
        if not title.strip():
            raise ApplicationError(
                "Modelo de mensagem inválido.", {"fields": {"name": ["Dê um nome ao modelo."]}}
            )
        name = template_slug_for(title)
    _check_template(name=name, body=body)
    template = MessageTemplate(name=name, title=title, body=body, is_active=is_active)
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def template_update(
    *,
    template: MessageTemplate,
    name: str | None = None,
    body: str | None = None,
    title: str | None = None,
    is_active: bool | None = None,
) -> MessageTemplate:
    new_name = template.name if name is None else name
    new_body = template.body if body is None else body
    _check_template(name=new_name, body=new_body, instance=template)
    template.name, template.body = new_name, new_body
    if title is not None:
        template.title = title
    if is_active is not None:
        template.is_active = is_active
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def template_delete(*, template: MessageTemplate) -> None:
    """Delete a template no campaign uses; one in use can only be deactivated (campaigns keep history)."""
    if template.campaigns.exists():
        raise ApplicationError(
            "Este modelo é usado por campanhas e não pode ser excluído; desative-o.",
            {"campaigns": template.campaigns.count()},
            status_code=409,
        )
    template.delete()
