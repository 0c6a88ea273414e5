"""DRF glue: the error shape `{"message", "extra"}` for every API error."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from loguru import logger
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cobranca.exceptions import ApplicationError


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        return Response(
            {
                "message": "Dados inválidos.",
                "extra": {
                    "fields": exc.message_dict
                    if hasattr(exc, "error_dict")
                    else {"non_field_errors": exc.messages}
                },
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(
        exc, (exceptions.PermissionDenied, exceptions.NotAuthenticated, exceptions.AuthenticationFailed)
    ):
        logger.bind(security=True).warning(
            "security.permission_denied status={} path={} ip={}",
            response.status_code,
            request.path if request else "",
            _client_ip(request) if request else "",
        )
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"message": "Dados inválidos.", "extra": {"fields": data}}
    else:
        detail = data.get("detail") if isinstance(data, dict) else data
        extra = {k: v for k, v in data.items() if k != "detail"} if isinstance(data, dict) else {}
        if getattr(exc, "default_code", None):
            extra.setdefault(
                "code",
                getattr(exc.detail, "code", exc.default_code) if hasattr(exc, "detail") else exc.default_code,
            )
        response.data = {"message": str(detail), "extra": extra}
    return response
