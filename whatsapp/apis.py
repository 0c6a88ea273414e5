"""WAHA session API for integrators and operators: status, start, stop, QR code.

Each operation takes an optional `session` (query string or body); the default is WAHA_SESSION_NAME.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cobranca.openapi import error_responses
from cobranca.permissions import ApiModelPermissions, IsOperator
from whatsapp import services


class _SessionInput(serializers.Serializer):
    session = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$", required=False)


def _session_name(data) -> str:
    serializer = _SessionInput(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("session") or settings.WAHA_SESSION_NAME


# --- OpenAPI only (the views answer plain dicts; these mirror them) ---

_SESSION_PARAM = OpenApiParameter(
    "session",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    pattern=r"^[A-Za-z0-9_.-]{1,100}$",
    description="Nome da sessão no WAHA (padrão: WAHA_SESSION_NAME).",
)

_SESSION_BODY = inline_serializer(
    "WahaSessionInput",
    {"session": serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$", required=False)},
)
_SESSION_ROWS = inline_serializer(
    "WahaSession",
    {
        "name": serializers.CharField(),
        "status": serializers.CharField(),
        "status_label": serializers.CharField(),
        "live_status": serializers.CharField(allow_null=True),
        "live_status_label": serializers.CharField(allow_null=True),
        "waha_reachable": serializers.BooleanField(allow_null=True),
        "me_id": serializers.CharField(allow_blank=True),
        "me_push_name": serializers.CharField(allow_blank=True),
        "status_changed_at": serializers.DateTimeField(allow_null=True),
        "needs_qr": serializers.BooleanField(),
    },
    many=True,
)
_STATUS = inline_serializer("WahaStatus", {"sessions": _SESSION_ROWS})
_SESSION_STATE = inline_serializer(
    "WahaSessionState", {"session": serializers.CharField(), "status": serializers.CharField(allow_null=True)}
)
_QR_200 = "Imagem PNG do QR code (image/png) ou, com `format=raw`, o texto do QR (application/json)."
_QR_RAW = inline_serializer("WahaQrRaw", {"value": serializers.CharField()})
_WAHA_DOWN_EXAMPLE = OpenApiExample(
    "WAHA fora do ar",
    value={
        "message": "Não foi possível iniciar a sessão: o WAHA não respondeu como esperado.",
        "extra": {"reason": "connection", "waha_status": None},
    },
    response_only=True,
    status_codes=["502"],
)


class WahaStatusApi(APIView):
    @extend_schema(
        summary="Status das sessões do WhatsApp",
        description="Nossas sessões com a visão ao vivo do WAHA (quando acessível). "
        "Com `session`, só essa sessão.",
        parameters=[_SESSION_PARAM],
        responses={200: _STATUS, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Sessão conectada",
                value={
                    "sessions": [
                        {
                            "name": "default",
                            "status": "WORKING",
                            "status_label": "conectada",
                            "live_status": "WORKING",
                            "live_status_label": "conectada",
                            "waha_reachable": True,
                            "me_id": "5511999999999@c.us",
                            "me_push_name": "Cobrança",
                            "status_changed_at": "2025-01-15T10:30:00-03:00",
                            "needs_qr": False,
                        }
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        wanted = _session_name(request.query_params) if "session" in request.query_params else None
        sessions = services.sessions_overview(refresh=True)
        if wanted:
            sessions = [s for s in sessions if s["name"] == wanted]
        return Response({"sessions": sessions})


class WahaStartApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["whatsapp.change_wahasession"]}

    @extend_schema(
        summary="Iniciar sessão do WhatsApp",
        description="Cria ou atualiza a sessão no WAHA (webhook e HMAC) e a inicia; idempotente. "
        "`session` no corpo ou na query string.",
        parameters=[_SESSION_PARAM],
        request=_SESSION_BODY,
        responses={200: _SESSION_STATE, **error_responses(400, 502)},
        examples=[
            OpenApiExample("Iniciar a sessão padrão", value={}, request_only=True),
            OpenApiExample("Iniciar outra sessão", value={"session": "cobranca2"}, request_only=True),
            OpenApiExample(
                "Iniciada", value={"session": "default", "status": "STARTING"}, response_only=True
            ),
            _WAHA_DOWN_EXAMPLE,
        ],
    )
    def post(self, request):
        name = _session_name(request.data or request.query_params)
        info = services.session_start(name=name)
        return Response({"session": name, "status": info.get("status")})


class WahaStopApi(APIView):
    permission_classes = [IsOperator, ApiModelPermissions]
    write_permissions = {"POST": ["whatsapp.change_wahasession"]}

    @extend_schema(
        summary="Parar sessão do WhatsApp",
        description="Para a sessão no WAHA (mantém o login) e pausa as campanhas dela. "
        "`session` no corpo ou na query string.",
        parameters=[_SESSION_PARAM],
        request=_SESSION_BODY,
        responses={200: _SESSION_STATE, **error_responses(400, 502)},
        examples=[
            OpenApiExample("Parar a sessão padrão", value={}, request_only=True),
            OpenApiExample("Parada", value={"session": "default", "status": "STOPPED"}, response_only=True),
            _WAHA_DOWN_EXAMPLE,
        ],
    )
    def post(self, request):
        name = _session_name(request.data or request.query_params)
        info = services.session_stop(name=name)
        return Response({"session": name, "status": info.get("status") or "STOPPED"})


class WahaQrApi(APIView):
    """PNG by default; `?format=raw` → `{"value": "<qr string>"}` (to render the QR elsewhere)."""

    permission_classes = [IsOperator]

    def perform_content_negotiation(self, request, force=False):
        # DRF reads `?format=` as a renderer override and would 404 on "raw"; here it is our own parameter.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="QR code para conectar o WhatsApp",
        description='PNG por padrão; com `format=raw`, JSON `{"value": "<texto do QR>"}` para desenhar o '
        "QR em outro lugar. 409 quando a sessão não está aguardando leitura.",
        parameters=[
            _SESSION_PARAM,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                enum=["raw"],
                description="`raw`: o texto do QR em JSON em vez da imagem PNG.",
            ),
        ],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description=_QR_200),
            (200, "application/json"): OpenApiResponse(_QR_RAW, description=_QR_200),
            **error_responses(400, 409, 502),
        },
        examples=[
            OpenApiExample(
                "QR em texto",
                value={"value": "2@AbCdEf...,xyz=="},
                response_only=True,
                media_type="application/json",
            ),
            OpenApiExample(
                "Sem QR agora",
                value={
                    "message": "Não há QR code para esta sessão agora (ela não está aguardando leitura).",
                    "extra": {"reason": "no_qr"},
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def get(self, request):
        name = _session_name({k: v for k, v in request.query_params.items() if k == "session"})
        if request.query_params.get("format") == "raw":
            return Response({"value": services.session_qr(name=name, raw=True)})
        png = services.session_qr(name=name, raw=False)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response
