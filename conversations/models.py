"""Conversations: one per WhatsApp chat, with every message in and out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cobranca.masking import mask_chat_id
from cobranca.text import normalize_newlines


class Conversation(models.Model):
    """One WhatsApp chat. In `bot` state the assistant answers; in `human` state it stays silent."""

    class State(models.TextChoices):
        BOT = "bot", "assistente"
        HUMAN = "human", "atendente"
        CLOSED = "closed", "encerrada"

    client = models.ForeignKey(
        "billing.Client",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name="cliente",
    )
    chat_id = models.CharField("chat (WhatsApp)", max_length=64, unique=True)
    session_name = models.CharField("sessão WAHA", max_length=100, default="default")
    state = models.CharField(
        verbose_name="estado", max_length=10, choices=State.choices, default=State.BOT, db_index=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name="atribuída a",
    )
    needs_attention = models.BooleanField("requer atendimento", default=False, db_index=True)
    attention_reason = models.CharField("motivo", max_length=200, blank=True)
    context = models.JSONField("contexto", default=dict, blank=True)
    last_message_at = models.DateTimeField(
        verbose_name="última mensagem em", null=True, blank=True, db_index=True
    )
    # The newest debtor message's id, kept by `conversations.recording._create_message`: "unread for a user"
    # is then one comparison with his ReadMarker instead of a search of the messages per conversation (the
    # inbox's view counts and the nav badge scan every conversation).
    last_inbound_id = models.BigIntegerField("última mensagem do devedor (id)", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)

    class Meta:
        verbose_name = "conversa"
        verbose_name_plural = "conversas"
        ordering = ["-last_message_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["bot", "human", "closed"]), name="conversation_state_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{mask_chat_id(self.chat_id)} ({self.get_state_display()})"


class Message(models.Model):
    """A message in or out. `waha_id` is unique so a webhook delivered twice records the message once."""

    class Direction(models.TextChoices):
        IN = "in", "recebida"
        OUT = "out", "enviada"

    class Author(models.TextChoices):
        DEBTOR = "debtor", "devedor"
        BOT = "bot", "assistente"
        OPERATOR = "operator", "atendente"
        CAMPAIGN = "campaign", "campanha"

    class Ack(models.TextChoices):
        ERROR = "error", "erro"
        PENDING = "pending", "pendente"
        SENT = "sent", "enviada"
        DELIVERED = "delivered", "entregue"
        READ = "read", "lida"

    class Source(models.TextChoices):
        WHATSAPP = "whatsapp", "WhatsApp"
        API = "api", "API (/api/chat/process)"

    ACK_ORDER = {"error": -1, "pending": 0, "sent": 1, "delivered": 2, "read": 3}

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name="conversa"
    )
    direction = models.CharField(verbose_name="direção", max_length=3, choices=Direction.choices)
    author = models.CharField(verbose_name="autor", max_length=10, choices=Author.choices)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="operador"
    )
    # Where an inbound message came from: the debtor's WhatsApp, or an API caller typing in his name (who is
    # kept in `source_user`). Only WhatsApp messages are the debtor's own words (consent, exports, inbox).
    source = models.CharField("origem", max_length=10, choices=Source.choices, default=Source.WHATSAPP)
    source_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="enviada pela API por",
    )
    body = models.TextField("texto", blank=True)
    waha_id = models.CharField("id WAHA", max_length=200, null=True, blank=True, unique=True)
    ack = models.CharField(
        verbose_name="confirmação de leitura", max_length=10, choices=Ack.choices, default=Ack.PENDING
    )
    intent = models.CharField("intenção", max_length=40, blank=True, db_index=True)
    confidence = models.FloatField("confiança", null=True, blank=True)
    entities = models.JSONField("entidades", default=dict, blank=True)
    corrected_intent = models.CharField("intenção corrigida", max_length=40, blank=True)
    # What the message did when it answered the bot's question: a "sim" that confirmed a 3x agreement was
    # classified `saudacao` but acted as `negociacao`. Shown in the inbox; `intent` stays the model's guess.
    acted_as_intent = models.CharField("intenção aplicada", max_length=40, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="corrigida por",
    )
    dispatch = models.ForeignKey(
        "billing.Dispatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        verbose_name="envio",
    )
    sent_at = models.DateTimeField("data", db_index=True)
    replied_at = models.DateTimeField("respondida em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="registrada em", auto_now_add=True)

    class Meta:
        verbose_name = "mensagem"
        verbose_name_plural = "mensagens"
        ordering = ["sent_at", "pk"]
        indexes = [models.Index(fields=["conversation", "sent_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(direction__in=["in", "out"]), name="message_direction_valid"),
            models.CheckConstraint(
                condition=(Q(direction="in", author="debtor") | (Q(direction="out") & ~Q(author="debtor"))),
                name="message_author_matches_direction",
            ),
            models.CheckConstraint(condition=Q(source__in=["whatsapp", "api"]), name="message_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.sent_at:%d/%m/%Y %H:%M}"

    @property
    def effective_intent(self) -> str:
        return self.corrected_intent or self.intent

    @property
    def shown_intent(self) -> str:
        """The intent the inbox shows: the operator's correction, else what the message acted as, else the
        model's label."""
        return self.corrected_intent or self.acted_as_intent or self.intent


class Attachment(models.Model):
    """The file of a debtor's media message (picture, PDF, audio), downloaded from WAHA by a worker task.

    `declared_mimetype` and `filename` are what WAHA announced (the debtor's phone chose them: never
    trusted); `content_type` and `kind` come from the file's own first bytes (`conversations.media.sniff`).
    The file lives in Django's default storage under a random name, outside any public URL: operators see it
    through the inbox (`dashboard:attachment`), which checks who asks."""

    class Kind(models.TextChoices):
        IMAGE = "image", "imagem"
        PDF = "pdf", "PDF"
        AUDIO = "audio", "áudio"
        OTHER = "other", "outro"

    class Status(models.TextChoices):
        PENDING = "pending", "baixando"
        STORED = "stored", "guardado"
        REJECTED = "rejected", "recusado"  # too large, or not a picture/PDF/audio by its content
        FAILED = "failed", "falhou"  # WAHA did not deliver it
        REMOVED = "removed", "apagado"  # erased: the client was forgotten, or retention expired

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="attachment", verbose_name="mensagem"
    )
    url = models.CharField("URL no WAHA", max_length=2000, blank=True)
    declared_mimetype = models.CharField("tipo declarado", max_length=120, blank=True)
    filename = models.CharField("nome do arquivo", max_length=255, blank=True)
    status = models.CharField(
        verbose_name="situação", max_length=10, choices=Status.choices, default=Status.PENDING
    )
    kind = models.CharField("tipo", max_length=10, choices=Kind.choices, blank=True)
    content_type = models.CharField("tipo pelo conteúdo", max_length=60, blank=True)
    file = models.FileField(
        "arquivo", upload_to="conversations/attachments/%Y/%m/", blank=True, max_length=255
    )
    size = models.PositiveIntegerField("tamanho (bytes)", null=True, blank=True)
    error = models.CharField("erro", max_length=200, blank=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)
    downloaded_at = models.DateTimeField(verbose_name="baixado em", null=True, blank=True)

    class Meta:
        verbose_name = "anexo"
        verbose_name_plural = "anexos"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "stored", "rejected", "failed", "removed"]),
                name="attachment_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display() or self.declared_mimetype} ({self.get_status_display()})"

    @property
    def declared_kind(self) -> str:
        """The kind WAHA announced, for when the file itself could not be read."""
        major = self.declared_mimetype.split("/", 1)[0]
        if self.declared_mimetype.startswith("application/pdf"):
            return self.Kind.PDF
        return {"image": self.Kind.IMAGE, "audio": self.Kind.AUDIO}.get(major, self.Kind.OTHER)

    @property
    def effective_kind(self) -> str:
        return self.kind or self.declared_kind


class ReadMarker(models.Model):
    """How far one user has read one conversation: the newest message id shown to him when he opened it.

    A message id and not a time: a late webhook stores an older `sent_at` after the user looked, and ids only
    grow, so "unread" is exactly "a debtor's message recorded after what this user saw". Moves forward only
    (`conversations.inbox.conversation_mark_read`)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_markers", verbose_name="conversa"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name="usuário"
    )
    last_read_message_id = models.BigIntegerField("última mensagem lida (id)", default=0)
    read_at = models.DateTimeField("lida em")

    class Meta:
        verbose_name = "leitura de conversa"
        verbose_name_plural = "leituras de conversas"
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="read_marker_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · conversa {self.conversation_id}"


class CannedReply(models.Model):
    """A ready answer operators insert in a chat. Its body uses the message templates' variables
    (billing.templating: {name}, {amount}, {due_date}…) plus {pix}, rendered for the conversation's debtor
    and the charge the operator picks; a variable that would reach the debtor empty blocks the send."""

    title = models.CharField("título", max_length=80, unique=True)
    body = models.TextField("texto")
    is_active = models.BooleanField("ativa", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="criada por",
    )
    updated_at = models.DateTimeField("atualizada em", auto_now=True)

    class Meta:
        verbose_name = "resposta pronta"
        verbose_name_plural = "respostas prontas"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.body = normalize_newlines(self.body)  # the textarea posts CRLF; messages carry LF only
        super().save(*args, **kwargs)
