"""Conversations API (mounted at /api/conversations/): the inbox, a thread, handoff, replies and feedback.

Reads need an API user (default IsApiUser); actions that talk to a debtor or change the bot's behaviour need
an operator (Integradores only have view permissions on conversations, see cobranca/roles.py)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from cobranca.masking import (
    MaskedFieldsMixin,
    mask_embedded_numbers,
    mask_phone,
    mask_text,
    sees_full_contact,
)
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses, paginated
from cobranca.permissions import ApiModelPermissions, IsOperator
from conversations import selectors, services
from conversations.models import Conversation, Message


class MessageOutput(MaskedFieldsMixin, serializers.ModelSerializer):
    # A debtor's text often carries a CPF or a phone: masked like a log line for callers without full contact.
    masked_fields = {"waha_id": mask_embedded_numbers, "body": mask_text}

    effective_intent = serializers.CharField(read_only=True)
    operator = serializers.CharField(
        source="operator.get_username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "author",
            "operator",
            "source",
            "body",
            "waha_id",
            "ack",
            "intent",
            "confidence",
            "corrected_intent",
            "effective_intent",
            "sent_at",
            "created_at",
        ]


class ConversationOutput(MaskedFieldsMixin, serializers.ModelSerializer):
    masked_fields = {
        "client_phone": mask_phone,
        "chat_id": mask_embedded_numbers,
        "last_message_body": mask_text,
    }

    client_id = serializers.IntegerField(allow_null=True, read_only=True)
    client_name = serializers.CharField(source="client.name", default=None, read_only=True, allow_null=True)
    client_phone = serializers.CharField(source="client.phone", default=None, read_only=True, allow_null=True)
    assigned_to = serializers.CharField(
        source="assigned_to.get_username", default=None, read_only=True, allow_null=True
    )
    message_count = serializers.IntegerField(read_only=True, default=None, allow_null=True)
    last_message_body = serializers.CharField(read_only=True, default=None, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "chat_id",
            "session_name",
            "state",
            "client_id",
            "client_name",
            "client_phone",
            "assigned_to",
            "needs_attention",
            "attention_reason",
            "last_message_at",
            "created_at",
            "message_count",
            "last_message_body",
        ]


class ConversationListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=Conversation.State.choices, required=False)
        intent = serializers.ChoiceField(choices=services.INTENT_LABELS, required=False)
        search = serializers.CharField(required=False, max_length=100, allow_blank=True)
        needs_attention = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(
        operation_id="api_conversations_list",
        summary="Listar conversas (caixa de entrada)",
        description="Conversas filtradas por estado, intenção, busca e atenção, paginadas (`page`).",
        parameters=[
            FilterSerializer,
            OpenApiParameter(
                "page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Número da página."
            ),
        ],
        responses={
            200: paginated("ConversationListApiPage", ConversationOutput(many=True)),
            **error_responses(400, 404),
        },
        examples=[VALIDATION_ERROR_EXAMPLE],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = PageNumberPagination()
        # Count and cut the page on the plain filtered rows, then add the per-row figures to that page only
        # (computed before the LIMIT, they cost seconds at 10,000 conversations).
        page = paginator.paginate_queryset(
            selectors.inbox_filtered(
                filters.validated_data, full_contact=sees_full_contact(request.user)
            ).only("pk"),
            request,
            view=self,
        )
        ids = [c.pk for c in page]
        rows = {c.pk: c for c in selectors.inbox_annotate(Conversation.objects.filter(pk__in=ids))}
        page = [rows[pk] for pk in ids if pk in rows]
        return paginator.get_paginated_response(
            ConversationOutput(page, many=True, context={"request": request}).data
        )


class ConversationDetailApi(APIView):
    class Output(ConversationOutput):
        messages = serializers.SerializerMethodField()

        class Meta(ConversationOutput.Meta):
            fields = [*ConversationOutput.Meta.fields, "messages"]

        @extend_schema_field(MessageOutput(many=True))
        def get_messages(self, obj):
            return MessageOutput(
                selectors.conversation_history(conversation=obj), many=True, context=self.context
            ).data

    @extend_schema(
        operation_id="api_conversations_retrieve",
        summary="Detalhar conversa com todas as mensagens",
        responses={200: Output, **error_responses(404)},
    )
    def get(self, request, pk: int):
        conversation = get_object_or_404(selectors.inbox(), pk=pk)
        return Response(self.Output(conversation, context={"request": request}).data)


class ConversationTakeOverApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["conversations.change_conversation"]}

    @extend_schema(
        summary="Assumir a conversa (o assistente fica em silêncio)",
        request=None,
        responses={200: ConversationOutput, **error_responses(404)},
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation, pk=pk)
        conversation = services.conversation_take_over(conversation=conversation, by=request.user)
        return Response(ConversationOutput(conversation, context={"request": request}).data)


class ConversationGiveBackApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["conversations.change_conversation"]}

    @extend_schema(
        summary="Devolver a conversa ao assistente",
        request=None,
        responses={200: ConversationOutput, **error_responses(404)},
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation, pk=pk)
        conversation = services.conversation_give_back(conversation=conversation, by=request.user)
        return Response(ConversationOutput(conversation, context={"request": request}).data)


class ConversationReplyApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["conversations.add_message"]}

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=services.MAX_TEXT_LENGTH, trim_whitespace=True)

    @extend_schema(
        summary="Responder ao devedor pelo WhatsApp (atendente)",
        request=InputSerializer,
        responses={201: MessageOutput, **error_responses(400, 404, 502)},
        examples=[
            OpenApiExample(
                "Resposta", value={"text": "Olá! Posso te ajudar com a segunda via."}, request_only=True
            )
        ],
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.operator_reply(
            conversation=conversation, text=data.validated_data["text"], by=request.user
        )
        return Response(
            MessageOutput(message, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class MessageCorrectIntentApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["conversations.change_message"]}

    class InputSerializer(serializers.Serializer):
        # Validated by the service too (the single source of the label set); a plain CharField here lets the
        # service answer with the list of allowed labels.
        intent = serializers.CharField(max_length=40)

    @extend_schema(
        summary="Corrigir a intenção de uma mensagem recebida",
        request=InputSerializer,
        responses={200: MessageOutput, **error_responses(400, 404)},
    )
    def post(self, request, pk: int):
        message = get_object_or_404(Message, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_correct_intent(
            message=message, intent=data.validated_data["intent"], by=request.user
        )
        return Response(MessageOutput(message, context={"request": request}).data)
