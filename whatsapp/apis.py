"""WAHA session API for integrators and operators: status, start, stop, QR code.

Each operation takes an optional `session` (query string or body); the default is WAHA_SESSION_NAME.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cobranca.permissions import IsOperator
from whatsapp import services


class _SessionInput(serializers.Serializer):
    session = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$", required=False)


def _session_name(data) -> str:
    serializer = _SessionInput(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("session") or settings.WAHA_SESSION_NAME


class WahaStatusApi(APIView):
    def get(self, request):
        wanted = _session_name(request.query_params) if "session" in request.query_params else None
        sessions = services.sessions_overview(refresh=True)
        if wanted:
            sessions = [s for s in sessions if s["name"] == wanted]
        return Response({"sessions": sessions})


class WahaStartApi(APIView):
    permission_classes = [IsOperator]

    def post(self, request):
        name = _session_name(request.data or request.query_params)
        info = services.session_start(name=name)
        return Response({"session": name, "status": info.get("status")})


class WahaStopApi(APIView):
    permission_classes = [IsOperator]

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

    def get(self, request):
        name = _session_name({k: v for k, v in request.query_params.items() if k == "session"})
        if request.query_params.get("format") == "raw":
            return Response({"value": services.session_qr(name=name, raw=True)})
        png = services.session_qr(name=name, raw=False)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response
