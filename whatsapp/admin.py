"""Back office for WAHA sessions and stored webhook events (replayable)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from cobranca.exceptions import ApplicationError
from whatsapp import services
from whatsapp.models import WahaSession, WebhookEvent


@admin.register(WahaSession)
class WahaSessionAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "me_push_name", "me_id", "status_changed_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "me_id", "me_push_name"]
    readonly_fields = ["status", "me_id", "me_push_name", "status_changed_at", "updated_at"]
    actions = ["start_sessions", "stop_sessions"]

    @admin.action(description="Iniciar sessão no WAHA", permissions=["change"])
    def start_sessions(self, request, queryset):
        self._each(request, queryset, services.session_start, "iniciada")

    @admin.action(description="Parar sessão no WAHA", permissions=["change"])
    def stop_sessions(self, request, queryset):
        self._each(request, queryset, services.session_stop, "parada")

    def _each(self, request, queryset, action, done: str) -> None:
        for session in queryset:
            try:
                action(name=session.name)
            except ApplicationError as exc:
                self.message_user(request, f"{session.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Sessão {session.name} {done}.", messages.SUCCESS)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event", "session_name", "state", "attempts", "received_at", "processed_at"]
    list_filter = ["state", "event", "session_name"]
    search_fields = ["event_id", "payload_id"]
    date_hierarchy = "received_at"
    list_select_related = False
    # The raw body holds phone numbers and message texts: shown read-only, never editable.
    readonly_fields = [
        "event_id",
        "event",
        "session_name",
        "payload_id",
        "state",
        "error",
        "attempts",
        "received_at",
        "processed_at",
        "payload_pretty",
    ]
    exclude = ["payload"]
    actions = ["replay_events"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # The change list never shows the payload: do not load megabytes of JSON to render 100 rows.
        return (
            qs.defer("payload")
            if request.resolver_match and request.resolver_match.url_name.endswith("changelist")
            else qs
        )

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="corpo (JSON)")
    def payload_pretty(self, obj: WebhookEvent) -> str:
        text = json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True)
        return format_html("<pre>{}</pre>", text)  # no inline style: the admin's CSP refuses it

    @admin.action(description="Reprocessar eventos selecionados", permissions=["change"])
    def replay_events(self, request, queryset):
        count = services.webhook_events_replay(
            states=[s for s, _label in WebhookEvent.State.choices], pks=queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{count} evento(s) enviados para reprocessamento.", messages.SUCCESS)
