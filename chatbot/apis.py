"""Chat API (mounted at /api/chat/), the original system's three endpoints.

Permission: the project default (IsApiUser).
Errors: `{"message", "extra"}` via cobranca.api.exception_handler.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chatbot import selectors, services
from cobranca.masking import MaskedFieldsMixin, mask_phone, mask_text
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses
from conversations import selectors as conversation_selectors


# The shape of chatbot.selectors.chat_history, and its masking for callers without full contact
# (cobranca.masking.MaskedFieldsMixin: the phone, and phones/CPF/CNPJ inside message bodies).
class ChatHistoryClientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ChatHistoryConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    needs_attention = serializers.BooleanField()
    attention_reason = serializers.CharField(allow_blank=True)
    context = serializers.DictField()


class ChatHistoryMessageSerializer(MaskedFieldsMixin, serializers.Serializer):
    masked_fields = {"body": mask_text}

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    direction = serializers.CharField()
    author = serializers.CharField()
    source = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    intent = serializers.CharField(allow_blank=True)
    confidence = serializers.FloatField(allow_null=True)
    entities = serializers.DictField()
    sent_at = serializers.DateTimeField()
    ack = serializers.CharField()


class ChatHistorySerializer(MaskedFieldsMixin, serializers.Serializer):
    masked_fields = {"phone": mask_phone}

    phone = serializers.CharField()
    client = ChatHistoryClientSerializer(allow_null=True)
    conversations = ChatHistoryConversationSerializer(many=True)
    messages = ChatHistoryMessageSerializer(many=True)


class ChatProcessApi(APIView):
    """Run the bot on a message as if it came by WhatsApp from `phone`; returns what the bot understood,
    answered and did. Actions are real (promises, agreements...); WAHA is called only with `"send": true`."""

    write_permissions = {"POST": ["conversations.add_message"]}

    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=40)
        message = serializers.CharField(max_length=services.MAX_TEXT_LENGTH, trim_whitespace=True)
        send = serializers.BooleanField(required=False, default=False)
        acting_for_debtor = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Operadores: a mensagem é do devedor, transmitida por você (ex.: ligação). Só assim "
            "ela pode descadastrar o devedor; a alteração fica na auditoria em seu nome.",
        )

    class OutputSerializer(serializers.Serializer):
        intent = serializers.CharField()
        confidence = serializers.FloatField(allow_null=True)
        entities = serializers.DictField()
        response = serializers.CharField(allow_blank=True)
        actions = serializers.ListField(child=serializers.DictField())
        handoff = serializers.BooleanField()
        sent = serializers.BooleanField()
        skipped = serializers.CharField(allow_blank=True)
        message_id = serializers.IntegerField()
        conversation_id = serializers.IntegerField()
        refused_actions = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        summary="Processar uma mensagem com o assistente",
        description="Executa o assistente sobre uma mensagem digitada em nome de `phone`. A mensagem fica "
        "registrada com origem `api` e o seu usuário, separada das mensagens do WhatsApp. As ações sobre "
        "cobranças são reais (promessas, acordos...); descadastrar ou marcar número errado só com "
        '`"acting_for_debtor": true` por um operador (auditado), senão voltam em `refused_actions`. '
        'O WAHA só é chamado com `"send": true`.',
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 403)},
        examples=[
            OpenApiExample(
                "Promessa de pagamento",
                value={"phone": "(11) 99999-8888", "message": "Consigo pagar dia 20", "send": False},
                request_only=True,
            ),
            OpenApiExample(
                "Promessa registrada",
                value={
                    "intent": "promessa_pagamento",
                    "confidence": 0.93,
                    "entities": {"date": "2025-01-20"},
                    "response": "Combinado! Registrei sua promessa de pagamento para 20/01/2025.",
                    "actions": [
                        {
                            "type": "create_promise",
                            "charge_id": 42,
                            "promised_date": "2025-01-20",
                            "amount": None,
                        }
                    ],
                    "handoff": False,
                    "sent": False,
                    "skipped": "",
                    "message_id": 1001,
                    "conversation_id": 17,
                    "refused_actions": [],
                },
                response_only=True,
            ),
            VALIDATION_ERROR_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.bot_process_text(
            phone=data.validated_data["phone"],
            text=data.validated_data["message"],
            send=data.validated_data["send"],
            by=request.user,
            acting_for_debtor=data.validated_data["acting_for_debtor"],
        )
        return Response(self.OutputSerializer(result).data, status=status.HTTP_200_OK)


class ChatConversationApi(APIView):
    """History of a phone (any common Brazilian format): client, conversations and every message."""

    @extend_schema(
        summary="Histórico de conversa de um telefone",
        description="Cliente, conversas (estado, contexto) e todas as mensagens do telefone "
        "(qualquer formato brasileiro comum). 400 quando `phone` não é um telefone.",
        responses={200: ChatHistorySerializer, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Histórico",
                value={
                    "phone": "+5511999998888",
                    "client": {"id": 7, "name": "Maria Souza"},
                    "conversations": [
                        {
                            "id": 17,
                            "state": "bot",
                            "needs_attention": False,
                            "attention_reason": "",
                            "context": {},
                        }
                    ],
                    "messages": [
                        {
                            "id": 1001,
                            "conversation_id": 17,
                            "direction": "in",
                            "author": "debtor",
                            "body": "Consigo pagar dia 20",
                            "intent": "promessa_pagamento",
                            "confidence": 0.93,
                            "entities": {"date": "2025-01-20"},
                            "sent_at": "2025-01-15T10:30:00-03:00",
                            "ack": "pending",
                        }
                    ],
                },
                response_only=True,
            ),
            OpenApiExample(
                "Telefone inválido",
                value={"message": "Telefone inválido.", "extra": {"phone": "telefone inválido"}},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def get(self, request, phone: str):
        history = selectors.chat_history(phone=phone)
        return Response(ChatHistorySerializer(history, context={"request": request}).data)


# Mirrors conversations.selectors.conversation_stats, which this API answers (the dashboard reads it too).
CONVERSATION_STATS_SCHEMA = inline_serializer(
    "ConversationStats",
    {
        "conversations": serializers.IntegerField(),
        "by_state": serializers.DictField(child=serializers.IntegerField()),
        "intents": serializers.DictField(child=serializers.IntegerField()),
        "handoff_rate": serializers.FloatField(allow_null=True),
        "bot_answer_seconds": inline_serializer(
            "ConversationStatsBotAnswerSeconds",
            {
                "count": serializers.IntegerField(),
                "median": serializers.FloatField(allow_null=True),
                "p95": serializers.FloatField(allow_null=True),
            },
        ),
    },
)


class ChatStatsApi(APIView):
    """Conversations by state, intents, handoff rate and bot answer time (last `days` days, default 30)."""

    class FilterSerializer(serializers.Serializer):
        days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=30)

    @extend_schema(
        summary="Estatísticas das conversas (assistente)",
        description="Conversas por estado, intenções, taxa de transbordo e tempo de resposta do "
        "assistente nos últimos `days` dias (padrão 30).",
        parameters=[FilterSerializer],
        responses={200: CONVERSATION_STATS_SCHEMA, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Estatísticas",
                value={
                    "conversations": 12,
                    "by_state": {"bot": 9, "human": 2, "closed": 1},
                    "intents": {"promessa_pagamento": 4, "informacoes_pagamento": 3},
                    "handoff_rate": 0.25,
                    "bot_answer_seconds": {"count": 20, "median": 1.2, "p95": 3.4},
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(conversation_selectors.conversation_stats(days=filters.validated_data["days"]))
