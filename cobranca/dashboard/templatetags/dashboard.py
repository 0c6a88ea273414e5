"""Template filters for the dashboard: `{% load dashboard %}` then `|brl`, `|data_br`, `|whatsapp`..."""

from __future__ import annotations

import math

from django import template

from cobranca.dashboard import formatting
from cobranca.masking import mask_document, mask_email, mask_phone

register = template.Library()

register.filter("brl", formatting.brl)
register.filter("opcao_cobranca", formatting.charge_option)
register.filter("pct", formatting.percent)
register.filter("data_br", formatting.date_br)
register.filter("datahora_br", formatting.datetime_br)
register.filter("hora_br", formatting.time_br)
register.filter("duracao", formatting.duration_br)
register.filter("intencao", formatting.intent_label)
register.filter("janela", formatting.send_window_pt)
register.filter("whatsapp", formatting.whatsapp_html, is_safe=True)
register.filter("sem_marcacao", formatting.whatsapp_plain)


@register.filter
def confianca(value) -> str:
    """Classifier confidence 0.873 → 87 %, floored: 0.9998 reads "99,9 %", only a certain 1.0 reads "100 %"
    (rounding made every confident answer of the shipped model look certain)."""
    if value is None:
        return "—"
    tenths = math.floor(min(max(float(value), 0.0), 1.0) * 1000 + 1e-6) / 10
    if tenths >= 99 and tenths < 100:
        return f"{tenths:.1f} %".replace(".", ",")
    return f"{math.floor(tenths)} %"


@register.filter
def nivel_confianca(value) -> str:
    """Bootstrap colour for a confidence badge."""
    if value is None:
        return "secondary"
    value = float(value)
    return "success" if value >= 0.8 else "warning" if value >= 0.5 else "danger"


_STATUS_COLOURS = {
    # campaigns
    "draft": "secondary",
    "scheduled": "info",
    "running": "primary",
    "paused": "warning",
    "completed": "success",
    "cancelled": "dark",
    # dispatches
    "pending": "secondary",
    "sending": "info",
    "sent": "primary",
    "delivered": "primary",
    "read": "success",
    "failed": "danger",
    "skipped": "warning",
    "unknown": "danger",
    # conversations
    "bot": "info",
    "human": "warning",
    "closed": "secondary",
    # charges
    "open": "danger",
    "promised": "info",
    "negotiating": "info",
    "payment_claimed": "primary",
    "disputed": "warning",
    "paid": "success",
}


@register.filter
def cor_status(value) -> str:
    return _STATUS_COLOURS.get(str(value), "secondary")


@register.filter
def estado_campanha(campaign) -> str:
    """The campaign status as the operator reads it: "aguardando janela de envio: segunda 08:00" for a running
    campaign whose send window is closed now (no query: the window comes from the campaign's own fields)."""
    from billing.dispatch.window import campaign_window_wait, describe_opening
    from cobranca import clock

    now = clock.now()
    opens = campaign_window_wait(campaign, now)
    if opens is not None:
        return f"aguardando janela de envio: {describe_opening(opens, now=now)}"
    return campaign.get_status_display()


# Contact data as the reader may see it: `{{ client.phone|contato_telefone:full_contact }}`, where the view
# passes `full_contact = cobranca.masking.sees_full_contact(request.user)` (the one rule of every read).
@register.filter
def contato_telefone(value, full) -> str:
    """ "+55 11 98765-4321" in full (like the inbox), masked otherwise."""
    from billing.phones import format_phone

    return format_phone(value or "") if full else mask_phone(value or "")


@register.filter
def contato_documento(value, full) -> str:
    """ "529.982.247-25" / "11.222.333/0001-81" in full, masked otherwise."""
    from billing.receipts.documents import format_document

    return format_document(value or "") if full else mask_document(value or "")


@register.filter
def contato_email(value, full) -> str:
    return value if full else mask_email(value or "")


@register.filter
def telefone(value: str, full: bool = False) -> str:
    """A debtor's number for the inbox: "+55 11 98765-4321" for a reader who may see full contacts
    (`cobranca.masking.sees_full_contact`, passed as the argument), masked otherwise. Takes an E.164 phone or
    a WhatsApp chat id ("5511987654321@c.us"); an @lid id has no number and reads as such."""
    from billing.phones import format_phone
    from billing.suppression import phone_from_chat_id
    from cobranca.masking import mask_embedded_numbers, mask_phone

    value = value or ""
    if "@" in value:
        phone = phone_from_chat_id(value)
        if phone is None:
            user = value.split("@", 1)[0]
            return f"id WhatsApp {user if full else mask_embedded_numbers(user)}"
        value = phone
    return format_phone(value) if full else mask_phone(value)
