"""Back office for the operator queue of payments (PaymentIssue). Registered from billing/admin.py.

The dashboard's queue (/painel/pagamentos/pendencias/) is where operators act on issues, through
billing.payments.queue (audited). Here staff read every issue, resolved ones too, and may mark open ones
resolved with the same service; nothing is edited in a form.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from billing.models import PaymentIssue
from billing.payments.queue import payment_issue_resolve
from cobranca.exceptions import ApplicationError


@admin.register(PaymentIssue)
class PaymentIssueAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "amount", "charge", "created_at", "resolved_by", "resolved_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "charge__external_id", "charge__client__name", "note")
    list_select_related = ("charge", "resolved_by")
    date_hierarchy = "created_at"
    exclude = ("details",)
    readonly_fields = (
        "kind",
        "status",
        "key",
        "charge",
        "payment",
        "amount",
        "details_pretty",
        "note",
        "resolved_by",
        "resolved_at",
        "created_at",
    )
    fields = (
        "kind",
        "status",
        "key",
        "charge",
        "payment",
        "amount",
        "details_pretty",
        "note",
        "resolved_by",
        "resolved_at",
        "created_at",
    )
    actions = ["resolve_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The "resolver" action needs the change permission; the form itself stays read-only (closing an
        # issue goes through the audited service, never a field edit).
        return obj is None and request.user.has_perm("billing.change_paymentissue")

    @admin.display(description="detalhes (JSON)")
    def details_pretty(self, obj: PaymentIssue) -> str:
        text = json.dumps(obj.details, ensure_ascii=False, indent=2, sort_keys=True)
        return format_html("<pre>{}</pre>", text)

    @admin.action(description="Marcar como resolvidas (as em aberto)", permissions=["change"])
    def resolve_selected(self, request, queryset):
        done = 0
        for pk in queryset.filter(status=PaymentIssue.Status.OPEN).values_list("pk", flat=True):
            try:
                payment_issue_resolve(issue_id=pk, note="resolvida no admin", by=request.user)
            except ApplicationError:
                continue  # closed meanwhile by someone else
            done += 1
        self.message_user(request, f"{done} pendência(s) marcada(s) como resolvida(s).", messages.SUCCESS)
