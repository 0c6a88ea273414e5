"""Roles: staff/superusers use the admin; Operadores use the dashboard and the API; Integradores the API
only."""

from __future__ import annotations

import functools

OPERATORS = "Operadores"
INTEGRATORS = "Integradores"

# Model permissions per group, as "app_label.codename". Created by `manage.py create_groups`.
GROUP_PERMISSIONS: dict[str, list[str]] = {
    OPERATORS: [
        "billing.view_client",
        # Operators talk to debtors: they read phones, chat ids and documents in full (cobranca.masking).
        "billing.view_full_contact",
        "billing.change_client",
        "billing.add_client",
        "billing.view_charge",
        "billing.change_charge",
        "billing.add_charge",
        "billing.view_messagetemplate",
        "billing.add_messagetemplate",
        "billing.change_messagetemplate",
        "billing.view_campaign",
        "billing.add_campaign",
        "billing.change_campaign",
        # Cancelling a campaign (pending sends skipped for good) is the operators' call; Integradores may
        # start, pause and resume, not cancel.
        "billing.cancel_campaign",
        # The régua page of the dashboard turns réguas on and off; the API asks for the same permission.
        "billing.view_regua",
        "billing.change_regua",
        "billing.view_dispatch",
        "billing.change_dispatch",
        "billing.view_importbatch",
        "billing.add_importbatch",
        "billing.view_promisetopay",
        "billing.view_agreement",
        # The payments queue of the dashboard (/painel/pagamentos/pendencias/): apply, dismiss, resolve.
        "billing.view_paymentissue",
        "billing.change_paymentissue",
        "conversations.view_conversation",
        "conversations.change_conversation",
        "conversations.view_message",
        "conversations.add_message",
        "conversations.change_message",
        # The inbox's canned replies: operators keep them themselves (dashboard and admin).
        "conversations.view_cannedreply",
        "conversations.add_cannedreply",
        "conversations.change_cannedreply",
        "whatsapp.view_wahasession",
        "whatsapp.change_wahasession",
        "chatbot.view_modelversion",
    ],
    INTEGRATORS: [
        "billing.view_client",
        "billing.add_client",
        "billing.change_client",
        "billing.view_charge",
        "billing.add_charge",
        "billing.change_charge",
        "billing.view_messagetemplate",
        "billing.view_campaign",
        "billing.add_campaign",
        "billing.change_campaign",
        "billing.view_dispatch",
        "billing.change_dispatch",
        "billing.add_importbatch",
        "billing.view_importbatch",
        "conversations.view_conversation",
        "conversations.view_message",
        "conversations.add_message",
        "whatsapp.view_wahasession",
    ],
}


def user_in_group(user, *names: str) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.is_staff:
        return True
    return user.groups.filter(name__in=names).exists()


def is_operator(user) -> bool:
    return user_in_group(user, OPERATORS)


def is_api_user(user) -> bool:
    return user_in_group(user, OPERATORS, INTEGRATORS)


def operator_required(view):
    """For operators' pages: log in first (redirect to the login page with ?next=), then the role (403 for a
    logged-in user who is not an operator)."""
    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied

    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_operator(request.user):
            raise PermissionDenied("Acesso restrito aos operadores.")
        return view(request, *args, **kwargs)

    return wrapped
