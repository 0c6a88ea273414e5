"""Back office for the Pix receipts debtors sent, as the worker read and checked them (billing.receipts).
Read-only: the operator decides in the conversation page (confirm/reject), which goes through the services.
Registered from billing/admin.py."""

from __future__ import annotations

from django.contrib import admin

from billing.models import ReceiptCheck


@admin.register(ReceiptCheck)
class ReceiptCheckAdmin(admin.ModelAdmin):
    list_display = ("id", "charge", "status", "amount", "paid_at", "e2eid", "psp_status", "created_at")
    list_filter = ("status", "psp_status")
    search_fields = ("e2eid", "charge__external_id", "charge__client__name")
    list_select_related = ("charge",)
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ReceiptCheck._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
