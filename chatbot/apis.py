"""Chat API (mounted at /api/chat/), the original system's three endpoints.

Permission: the project default (IsApiUser).
Errors: `{"message", "extra"}` via cobranca.api.exception_handler.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chatbot import selectors, services


class ChatProcessApi(APIView):
    """Run the bot on a message as if it came by WhatsApp from `phone`; returns what the bot understood,
    answered and did. Actions are real (promises, agreements...); WAHA is called only with `"send": true`."""

    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=40)
        message = serializers.CharField(max_length=services.MAX_TEXT_LENGTH, trim_whitespace=True)
        send = serializers.BooleanField(required=False, default=False)

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

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.bot_process_text(
            phone=data.validated_data["phone"],
            text=data.validated_data["message"],
            send=data.validated_data["send"],
        )
        return Response(self.OutputSerializer(result).data, status=status.HTTP_200_OK)


class ChatConversationApi(APIView):
    """History of a phone (any common Brazilian format): client, conversations and every message."""

    @extend_schema(responses={200: dict})
    def get(self, request, phone: str):
        return Response(selectors.chat_history(phone=phone))


class ChatStatsApi(APIView):
    """Conversations by state, intents, handoff rate and bot answer time (last `days` days, default 30)."""

    class FilterSerializer(serializers.Serializer):
        days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=30)

    @extend_schema(parameters=[FilterSerializer], responses={200: dict})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(selectors.chat_stats(days=filters.validated_data["days"]))
