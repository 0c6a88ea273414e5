"""Back office for conversations: the inbox for staff and the intent-correction feedback loop."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from chatbot.nlu.labels import INTENTS
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_chat_id
from conversations.inbox import canned_reply_errors, canned_reply_save
from conversations.models import CannedReply, Conversation, Message
from conversations.operators import conversation_give_back, conversation_take_over

INTENT_CHOICES = [(label, label) for label in INTENTS]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    max_num = 0
    fields = ("sent_at", "direction", "author", "body", "intent", "confidence", "corrected_intent", "ack")
    readonly_fields = ("sent_at", "direction", "author", "body", "intent", "confidence", "ack")
    ordering = ("sent_at",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("masked_chat", "client", "state", "needs_attention", "assigned_to", "last_message_at")
    list_filter = ("state", "needs_attention", "session_name")
    search_fields = ("chat_id", "client__name", "client__phone")
    list_select_related = ("client", "assigned_to")
    readonly_fields = ("chat_id", "context", "created_at", "last_message_at")
    raw_id_fields = ("client",)
    inlines = [MessageInline]
    actions = ["take_over", "give_back"]

    @admin.display(description="chat", ordering="chat_id")
    def masked_chat(self, obj: Conversation) -> str:
        return mask_chat_id(obj.chat_id)

    # Through the services, so the owner changes like in the dashboard (never stolen, audited).
    @admin.action(description="Assumir atendimento (silenciar o assistente)")
    def take_over(self, request, queryset):
        for conversation in queryset:
            conversation_take_over(conversation=conversation, by=request.user)
        self.message_user(request, f"{len(queryset)} conversa(s) com atendente.", messages.SUCCESS)

    @admin.action(description="Devolver ao assistente")
    def give_back(self, request, queryset):
        for conversation in queryset:
            conversation_give_back(conversation=conversation, by=request.user)
        self.message_user(
            request, f"{len(queryset)} conversa(s) devolvida(s) ao assistente.", messages.SUCCESS
        )


class CorrectIntentForm(forms.Form):
    intent = forms.ChoiceField(label="Intenção correta", choices=INTENT_CHOICES)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "sent_at",
        "conversation",
        "direction",
        "author",
        "source",
        "intent",
        "confidence",
        "corrected_intent",
        "ack",
    )
    list_filter = ("direction", "author", "source", "intent", "corrected_intent", "ack")
    search_fields = ("body", "waha_id", "conversation__client__name")
    list_select_related = ("conversation",)
    readonly_fields = (
        "waha_id",
        "source",
        "source_user",
        "entities",
        "dispatch",
        "sent_at",
        "created_at",
        "replied_at",
    )
    raw_id_fields = ("conversation", "operator", "corrected_by", "dispatch")
    actions = ["correct_intent"]

    @admin.action(description="Corrigir intenção (treinamento)")
    def correct_intent(self, request, queryset):
        inbound = queryset.filter(direction=Message.Direction.IN)
        if "apply" in request.POST:
            form = CorrectIntentForm(request.POST)
            if form.is_valid():
                updated = inbound.update(
                    corrected_intent=form.cleaned_data["intent"], corrected_by=request.user
                )
                self.message_user(
                    request,
                    f"{updated} mensagem(ns) corrigida(s); entram no próximo treino.",
                    messages.SUCCESS,
                )
                return None
        else:
            form = CorrectIntentForm()
        return render(
            request,
            "admin/conversations/correct_intent.html",
            {
                "form": form,
                "messages_qs": inbound,
                "action": "correct_intent",
                "opts": self.model._meta,
                "title": "Corrigir intenção",
            },
        )


class CannedReplyForm(forms.ModelForm):
    """The admin checks a canned reply's body with the same rules as the dashboard (the template variables
    plus {pix}), through `canned_reply_save`'s checks."""

    class Meta:
        model = CannedReply
        fields = ("title", "body", "is_active")

    def clean(self):
        cleaned = super().clean()
        fields = canned_reply_errors(
            title=(cleaned.get("title") or "").strip(),
            body=(cleaned.get("body") or "").strip(),
            instance=self.instance if self.instance.pk else None,
        )
        for field, errors in fields.items():
            for error in errors:
                self.add_error(field, error)
        return cleaned


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    form = CannedReplyForm
    list_display = ("title", "is_active", "created_by", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("title", "body")
    readonly_fields = ("created_by", "updated_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        try:
            canned_reply_save(
                title=obj.title, body=obj.body, is_active=obj.is_active, by=request.user, instance=obj
            )
        except ApplicationError as exc:  # the form's clean() ran the same checks: a race at most
            self.message_user(request, exc.message, messages.ERROR)
