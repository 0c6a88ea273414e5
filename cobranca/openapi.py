"""Shared OpenAPI (drf-spectacular) pieces for the API views: the error shape and paginated envelopes.

Schema only: nothing here is used to build responses at runtime.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

# The error body of every API error (cobranca.api.exception_handler and cobranca.ratelimit):
# `{"message", "extra"}`. The same object as the one cobranca.auth_apis documents, so the schema has a single
# "Error" component (two different classes with the same component name would be a drf-spectacular warning).
from cobranca.auth_apis import _ERROR as ERROR

_ERROR_DESCRIPTIONS = {
    400: "Dados inválidos ou regra de negócio violada.",
    401: "Não autenticado (token ausente, inválido ou expirado).",
    403: "Sem permissão para esta operação.",
    404: "Não encontrado.",
    409: "Conflito com o estado atual.",
    429: "Muitas requisições.",
    502: "O WhatsApp (WAHA) não respondeu como esperado.",
}

VALIDATION_ERROR_EXAMPLE = OpenApiExample(
    "Dados inválidos",
    value={"message": "Dados inválidos.", "extra": {"fields": {"campo": ["Este campo é obrigatório."]}}},
    response_only=True,
    status_codes=["400"],
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`{status: Error}` for `codes` plus the ones every authenticated API view can answer (401, 403, 429)."""
    wanted = sorted({*codes, 401, 403, 429})
    return {
        code: OpenApiResponse(ERROR, description=_ERROR_DESCRIPTIONS.get(code, "Erro.")) for code in wanted
    }


def paginated(name: str, item: serializers.BaseSerializer) -> serializers.Serializer:
    """PageNumberPagination's envelope around `item` (a serializer instance with many=True)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )
