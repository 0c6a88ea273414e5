"""`{% payment_issues_open as n %}`: the open payment issues for the nav badge. One COUNT, and only on the
dashboard's pages (they set `nav` and are all behind the operator role): None elsewhere, so the login page
and the error pages never query."""

from __future__ import annotations

from django import template

from billing.payments.queue import payment_issues_open_count

register = template.Library()


@register.simple_tag(takes_context=True)
def payment_issues_open(context) -> int | None:
    user = getattr(context.get("request"), "user", None)
    if not context.get("nav") or user is None or not user.is_authenticated:
        return None
    return payment_issues_open_count()
