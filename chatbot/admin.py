"""Back office for the intent models: versions with their metrics, one active, activated from the list.

Correcting a message's intent is in conversations/admin.py (conversations.services.message_correct_intent).
"""

from __future__ import annotations

from django.contrib import admin, messages

from chatbot.models import ModelVersion
from chatbot.services import model_version_activate


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "backend",
        "is_active",
        "accuracy",
        "macro_f1_display",
        "train_size",
        "created_at",
    )
    list_filter = ("is_active", "backend")
    search_fields = ("version", "notes")
    readonly_fields = ("is_active", "metrics", "created_at")
    ordering = ("-created_at",)
    actions = ["activate"]

    @admin.display(description="macro F1")
    def macro_f1_display(self, obj: ModelVersion) -> str:
        return _fmt(obj.macro_f1)

    @admin.display(description="acurácia")
    def accuracy(self, obj: ModelVersion) -> str:
        return _fmt(obj.metrics.get("accuracy"))

    @admin.display(description="exemplos de treino")
    def train_size(self, obj: ModelVersion):
        return obj.metrics.get("train_size", "—")

    @admin.action(description="Ativar (o assistente passa a usar esta versão)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Selecione exatamente uma versão para ativar.", messages.ERROR)
            return
        version = queryset.get()
        model_version_activate(model_version=version, by=request.user)
        self.message_user(request, f"Versão {version.version} ativada.", messages.SUCCESS)


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"
