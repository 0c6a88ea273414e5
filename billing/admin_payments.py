"""Back office for money that arrived: Pix charges at the PSP (cobv), payments and the PSP's notifications.

Everything here is a record of what the PSP said or of money received: read-only. Payments are written only
by `billing.payments.apply.apply_payment`; the raw payloads (the PSP's answers, the notifications) carry the
payer's name and CPF/CNPJ and are shown, never edited. Registered from billing/admin.py.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from billing.models import Payment, PixCobv, PixNotification


def _pretty(value) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return format_html("<pre>{}</pre>", text)  # no inline style: the admin's CSP refuses it


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PixCobv)
class PixCobvAdmin(_ReadOnlyAdmin):
    list_display = ("txid", "charge", "installment", "amount", "due_date", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("txid", "charge__external_id", "charge__client__name")
    list_select_related = ("charge", "installment")
    date_hierarchy = "created_at"
    exclude = ("psp_response",)
    readonly_fields = (
        "txid",
        "charge",
        "installment",
        "amount",
        "due_date",
        "status",
        "version_key",
        "pix_copia_e_cola",
        "location",
        "created_at",
        "updated_at",
        "psp_answer",
    )

    @admin.display(description="resposta do PSP (JSON)")
    def psp_answer(self, obj: PixCobv) -> str:
        return _pretty(obj.psp_response)


@admin.register(Payment)
class PaymentAdmin(_ReadOnlyAdmin):
    list_display = ("id", "charge", "installment", "amount", "source", "paid_at", "e2eid", "txid")
    list_filter = ("source",)
    search_fields = ("e2eid", "txid", "reference", "charge__external_id", "charge__client__name")
    list_select_related = ("charge", "installment")
    date_hierarchy = "paid_at"
    exclude = ("raw",)
    readonly_fields = (
        "charge",
        "installment",
        "source",
        "amount",
        "paid_at",
        "e2eid",
        "txid",
        "reference",
        "payer_name",
        "payer_document",
        "recorded_by",
        "created_at",
        "raw_pretty",
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.defer("raw") if _is_changelist(request) else qs

    @admin.display(description="dados de origem (JSON)")
    def raw_pretty(self, obj: Payment) -> str:
        return _pretty(obj.raw)


def _is_changelist(request) -> bool:
    return bool(request.resolver_match and request.resolver_match.url_name.endswith("changelist"))


@admin.register(PixNotification)
class PixNotificationAdmin(_ReadOnlyAdmin):
    list_display = (
        "e2eid",
        "txid",
        "notified_amount",
        "status",
        "origin",
        "attempts",
        "last_error",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "origin")
    search_fields = ("e2eid", "txid")
    date_hierarchy = "received_at"
    exclude = ("raw",)
    readonly_fields = (
        "e2eid",
        "txid",
        "notified_amount",
        "status",
        "origin",
        "attempts",
        "last_error",
        "next_attempt_at",
        "payment",
        "received_at",
        "processed_at",
        "raw_pretty",
    )
    actions = ["retry_now"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.defer("raw") if _is_changelist(request) else qs

    def has_change_permission(self, request, obj=None) -> bool:
        # The "confirmar agora" action needs the change permission; the form itself stays read-only.
        return obj is None and request.user.has_perm("billing.change_pixnotification")

    @admin.display(description="notificação recebida (JSON)")
    def raw_pretty(self, obj: PixNotification) -> str:
        return _pretty(obj.raw)

    @admin.action(description="Confirmar agora no PSP (as que aguardam confirmação)", permissions=["change"])
    def retry_now(self, request, queryset):
        count = queryset.filter(status=PixNotification.Status.PENDING).update(next_attempt_at=timezone.now())
        self.message_user(
            request,
            f"{count} notificação(ões) serão confirmadas no PSP no próximo minuto.",
            messages.SUCCESS,
        )
