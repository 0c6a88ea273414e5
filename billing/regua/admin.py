"""Back office for the régua: réguas with their steps (turn on, pause, resume), and every reminder with its
outcome or the reason it was not sent. Imported by billing/admin.py (Django discovers the app's admin only).
"""

from __future__ import annotations

from django.contrib import admin, messages

from billing.regua import reasons, services
from billing.regua.models import Regua, ReguaEntry, ReguaStep
from cobranca.exceptions import ApplicationError


class ReguaStepInline(admin.TabularInline):
    model = ReguaStep
    extra = 0
    fields = ("kind", "offset_days", "label", "template", "charge_statuses", "is_active")
    autocomplete_fields = ("template",)


@admin.register(Regua)
class ReguaAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "status", "is_default", "session_name", "send_window", "skip_carnival")
    list_filter = ("status", "is_default")
    search_fields = ("name", "slug")
    readonly_fields = ("status", "pause_reason", "created_at", "updated_at")
    inlines = [ReguaStepInline]
    actions = ["enable", "pause", "resume"]

    def _run(self, request, queryset, service, done: str, **kwargs) -> None:
        for regua in queryset:
            try:
                service(regua=regua, by=request.user, **kwargs)
            except ApplicationError as exc:
                details = exc.extra.get("errors") or exc.extra.get("warnings") or []
                self.message_user(
                    request, f"{regua}: {exc.message} {' '.join(details)}".strip(), messages.ERROR
                )
            else:
                self.message_user(request, f"{regua}: {done}.", messages.SUCCESS)

    @admin.action(description="Ligar (os modelos não podem ter avisos de conformidade)")
    def enable(self, request, queryset):
        self._run(request, queryset, services.regua_enable, "ligada")

    @admin.action(description="Pausar")
    def pause(self, request, queryset):
        self._run(request, queryset, services.regua_pause, "pausada")

    @admin.action(description="Retomar")
    def resume(self, request, queryset):
        self._run(request, queryset, services.regua_resume, "retomada")


@admin.register(ReguaEntry)
class ReguaEntryAdmin(admin.ModelAdmin):
    list_display = (
        "day",
        "charge",
        "client",
        "step",
        "status",
        "reason_label",
        "retry_on",
        "dispatch_status",
    )
    list_filter = ("status", "reason", "regua", "step", "day")
    search_fields = ("charge__external_id", "client__name")
    list_select_related = ("charge", "client", "step", "step__regua", "dispatch")
    raw_id_fields = ("charge", "client", "dispatch")
    date_hierarchy = "day"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # written by the planner only: a record of what happened

    @admin.display(description="motivo")
    def reason_label(self, obj: ReguaEntry) -> str:
        return reasons.reason_label(obj.reason) if obj.reason else ""

    @admin.display(description="envio")
    def dispatch_status(self, obj: ReguaEntry) -> str:
        return obj.dispatch.get_status_display() if obj.dispatch_id else ""


class ReguaEntryInline(admin.TabularInline):
    """The charge's reminders, skipped ones with their reason (shown on the charge's admin page)."""

    model = ReguaEntry
    fk_name = "charge"
    extra = 0
    can_delete = False
    fields = ("day", "step", "status", "reason", "retry_on", "dispatch")
    readonly_fields = fields
    ordering = ("-day", "-pk")
    verbose_name_plural = "lembretes da régua"

    def has_add_permission(self, request, obj=None) -> bool:
        return False
