"""Presentation helpers shared by the template filters, the views and the CSV export (pt-BR formats)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from billing.money import format_brl

INTENT_LABELS: dict[str, str] = {
    "saudacao": "Saudação",
    "confirmacao_pagamento": "Confirmação de pagamento",
    "promessa_pagamento": "Promessa de pagamento",
    "negociacao": "Negociação",
    "informacoes_pagamento": "Informações de pagamento",
    "contestacao": "Contestação",
    "dificuldade_financeira": "Dificuldade financeira",
    "falar_humano": "Falar com atendente",
    "opt_out": "Descadastro",
    "pessoa_errada": "Pessoa errada",
    "agradecimento": "Agradecimento",
    "desconhecido": "Desconhecida",
}


def intent_label(code: str | None) -> str:
    if not code:
        return "—"
    return INTENT_LABELS.get(code, code)


def brl(value) -> str:
    """R$ 1.234,56: billing's format (a plain space after R$), with "R$ 0,00" for nothing."""
    if value is None or value == "":
        return "R$ 0,00"
    try:
        return format_brl(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def percent(value, digits: int = 1) -> str:
    """0.8734 → 87,3 % (None → —)."""
    if value is None:
        return "—"
    return (
        format_decimal(
            float(value) * 100, format="#,##0." + "0" * digits if digits else "#,##0", locale="pt_BR"
        )
        + " %"
    )


def local(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localtime(value)


def date_br(value) -> str:
    if not value:
        return "—"
    if isinstance(value, dt.datetime):
        value = local(value)
    return value.strftime("%d/%m/%Y")


def datetime_br(value) -> str:
    if not value:
        return "—"
    if not isinstance(value, dt.datetime):
        return date_br(value)
    return local(value).strftime("%d/%m/%Y %H:%M")


def time_br(value) -> str:
    if not value:
        return "—"
    return local(value).strftime("%H:%M")


def duration_br(seconds) -> str:
    """A rough human duration: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    seconds = int(max(float(seconds), 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


# WhatsApp's markup: a marker must touch a non-space character on its inner side and must not sit inside a
# word on its outer side (WhatsApp ignores 2*3*4). The text is HTML-escaped BEFORE these run, and escaping
# never produces *, _, ~ or `, so a debtor cannot smuggle tags through the markup.
_MONO = re.compile(r"```(.+?)```", re.DOTALL)
_MARKUP = [
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "del"),
]


def whatsapp_html(text: str | None) -> SafeString:
    """Render a message the way WhatsApp shows it: *negrito*, _itálico_, ~tachado~, ```mono```, line breaks.

    Safe for untrusted input: escape first, then add only our own tags (emojis pass through untouched).
    """
    html = escape(text or "")
    html = _MONO.sub(r"<code>\1</code>", html)
    for pattern, tag in _MARKUP:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    html = html.replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - built from escaped text plus our fixed tags only


def whatsapp_plain(text: str | None) -> str:
    """A message as plain text without WhatsApp's markers ("*Material didático*" → "Material didático"): for
    one-line previews such as the inbox's, where the bold/italic would not help."""
    plain = _MONO.sub(r"\1", text or "")
    for pattern, _tag in _MARKUP:
        plain = pattern.sub(r"\1", plain)
    return plain


_DAYS_SHORT = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def send_window_pt(spec: str | None) -> str:
    """A send window in Portuguese: "mon-fri 08:00-20:00; sat 08:00-14:00" → "seg a sex 08:00–20:00; sáb
    08:00–14:00"; empty = the system's default (settings.SEND_WINDOW); "always" → "a qualquer hora"."""
    from django.conf import settings

    from billing.dispatch.window import parse_window
    from cobranca.exceptions import ApplicationError

    try:
        window = parse_window(spec or settings.SEND_WINDOW)
    except ApplicationError:
        return spec or ""
    if window.always:
        return "a qualquer hora"
    groups: list[tuple[list[int], tuple]] = []
    for day in sorted(window.spans):
        spans = window.spans[day]
        if groups and groups[-1][1] == spans and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    parts = []
    for days, spans in groups:
        names = (
            _DAYS_SHORT[days[0]] if len(days) == 1 else f"{_DAYS_SHORT[days[0]]} a {_DAYS_SHORT[days[-1]]}"
        )
        hours = ", ".join(f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}" for s, e in spans)
        parts.append(f"{names} {hours}")
    return "; ".join(parts)


def charge_option(charge) -> str:
    """A charge in a select: its title, what is still owed, its due date."""
    # What is still owed (`owed` from billing.payments.owed.with_owed, else the balance), and what was paid
    # of the amount once something was.
    owed = getattr(charge, "owed", None)
    owed = charge.balance if owed is None else owed
    paid = f" (pago {brl(charge.amount_paid)} de {brl(charge.amount)})" if charge.amount_paid else ""
    return f"{charge.title} · em aberto {brl(owed)}{paid} · vence {date_br(charge.due_date)}"
