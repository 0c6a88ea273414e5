"""Message template API: CRUD by name plus a preview. Every response carries the compliance warnings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.compliance import template_compliance_warnings
from billing.models import Charge, Client, MessageTemplate
from billing.templating import (
    VARIABLES,
    template_create,
    template_delete,
    template_preview,
    template_update,
    template_validate,
    template_variables,
)
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses, paginated


class TemplateOutputSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True, help_text="`title`, or `name` when it has none.")
    variables = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "title",
            "display_name",
            "body",
            "is_active",
            "variables",
            "warnings",
            "created_at",
            "updated_at",
        ]

    def get_variables(self, obj: MessageTemplate) -> list[str]:
        return template_variables(obj.body)

    def get_warnings(self, obj: MessageTemplate) -> list[str]:
        return template_compliance_warnings(obj.body)


class TemplateInputSerializer(serializers.Serializer):
    # Optional since templates have a display name: without it, the slug is derived from `title` on create
    # and left unchanged on update.
    name = serializers.SlugField(max_length=100, required=False)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=4096, trim_whitespace=False)
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_body(self, value: str) -> str:
        errors = template_validate(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


# --- schema only
_TEMPLATE_EXAMPLE = OpenApiExample(
    "Modelo",
    value={
        "id": 1,
        "name": "lembrete-vencimento",
        "title": "Lembrete de vencimento",
        "display_name": "Lembrete de vencimento",
        "body": "Olá, {first_name}! Sua parcela de {amount} vence em {due_date}. {creditor_name}",
        "is_active": True,
        "variables": ["first_name", "amount", "due_date", "creditor_name"],
        "warnings": [],
        "created_at": "2026-01-10T09:00:00-03:00",
        "updated_at": "2026-01-10T09:00:00-03:00",
    },
    response_only=True,
)
_TEMPLATE_INPUT_EXAMPLE = OpenApiExample(
    "Novo modelo",
    value={
        "name": "lembrete-vencimento",
        "title": "Lembrete de vencimento",
        "body": "Olá, {first_name}! Sua parcela de {amount} vence em {due_date}. {creditor_name}",
        "is_active": True,
    },
    request_only=True,
)
_NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Nome (slug) do modelo."
)


class TemplateListApi(APIView):
    """GET /api/billing/templates — list; POST — create."""

    write_permissions = {"POST": ["billing.add_messagetemplate"]}

    class Pagination(PageNumberPagination):
        page_size = 50

    @extend_schema(
        summary="Listar modelos de mensagem",
        operation_id="api_billing_templates_list",
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT, description="Página (50 modelos por página)."),
            OpenApiParameter("active", OpenApiTypes.STR, description="`1` ou `true`: só os modelos ativos."),
        ],
        responses={
            200: paginated("PaginatedTemplateList", TemplateOutputSerializer(many=True)),
            **error_responses(404),
        },
    )
    def get(self, request):
        queryset = MessageTemplate.objects.all()
        if request.query_params.get("active") in ("1", "true"):
            queryset = queryset.filter(is_active=True)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(TemplateOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Criar modelo de mensagem",
        description="O texto é validado (variáveis conhecidas, chaves balanceadas); os avisos de "
        "conformidade vêm em `warnings` e não impedem a gravação. Sem `name`, o identificador é gerado a "
        'partir de `title` ("Lembrete de vencimento" → `lembrete-de-vencimento`, `-2` se já existir); '
        "um dos dois é obrigatório.",
        request=TemplateInputSerializer,
        responses={201: TemplateOutputSerializer, **error_responses(400)},
        examples=[_TEMPLATE_INPUT_EXAMPLE, _TEMPLATE_EXAMPLE, VALIDATION_ERROR_EXAMPLE],
    )
    def post(self, request):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = template_create(**data.validated_data)
        return Response(TemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    """GET/PUT/PATCH/DELETE /api/billing/templates/<name>."""

    write_permissions = {
        "PUT": ["billing.change_messagetemplate"],
        "PATCH": ["billing.change_messagetemplate"],
        "DELETE": ["billing.delete_messagetemplate"],
    }

    @extend_schema(
        summary="Detalhar modelo de mensagem",
        operation_id="api_billing_templates_retrieve",
        parameters=[_NAME],
        responses={200: TemplateOutputSerializer, **error_responses(404)},
        examples=[_TEMPLATE_EXAMPLE],
    )
    def get(self, request, name: str):
        template = get_object_or_404(MessageTemplate, name=name)
        return Response(TemplateOutputSerializer(template).data)

    @extend_schema(
        summary="Substituir modelo de mensagem",
        parameters=[_NAME],
        request=TemplateInputSerializer,
        responses={200: TemplateOutputSerializer, **error_responses(400, 404)},
        examples=[_TEMPLATE_INPUT_EXAMPLE, _TEMPLATE_EXAMPLE, VALIDATION_ERROR_EXAMPLE],
    )
    def put(self, request, name: str):
        return self._update(request, name, partial=False)

    @extend_schema(
        summary="Alterar parte de um modelo de mensagem",
        parameters=[_NAME],
        request=TemplateInputSerializer(partial=True),
        responses={200: TemplateOutputSerializer, **error_responses(400, 404)},
        examples=[
            OpenApiExample("Desativar", value={"is_active": False}, request_only=True),
            _TEMPLATE_EXAMPLE,
            VALIDATION_ERROR_EXAMPLE,
        ],
    )
    def patch(self, request, name: str):
        return self._update(request, name, partial=True)

    def _update(self, request, name: str, *, partial: bool):
        template = get_object_or_404(MessageTemplate, name=name)
        data = TemplateInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k in request.data or not partial}
        template = template_update(template=template, **fields)
        return Response(TemplateOutputSerializer(template).data)

    @extend_schema(
        summary="Excluir modelo de mensagem",
        description="409 quando alguma campanha usa o modelo: nesse caso desative-o.",
        parameters=[_NAME],
        request=None,
        responses={204: OpenApiResponse(description="Excluído."), **error_responses(404, 409)},
    )
    def delete(self, request, name: str):
        template = get_object_or_404(MessageTemplate, name=name)
        template_delete(template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewApi(APIView):
    """POST /api/billing/templates/preview {"body" | "template_name", "client_id"?, "charge_id"?} → {"text",
    "errors", "warnings", "variables"}. Without a client the sample data is used; with one, the client's next
    open charge (or the given charge) fills the charge variables."""

    # A read sent as POST (the body can be long): writes nothing, needs what reading templates needs.
    write_permissions = {"POST": ["billing.view_messagetemplate"]}

    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(
            required=False, allow_blank=True, trim_whitespace=False, max_length=20000
        )
        template_name = serializers.CharField(required=False, max_length=100)
        client_id = serializers.IntegerField(required=False)
        charge_id = serializers.IntegerField(required=False)

        def validate(self, attrs):
            if "body" not in attrs and "template_name" not in attrs:
                raise serializers.ValidationError("Informe body ou template_name.")
            return attrs

    @extend_schema(
        summary="Pré-visualizar um modelo de mensagem",
        description="Informe `body` ou `template_name`. Sem cliente usa dados de exemplo; com `client_id` "
        "usa a próxima cobrança em aberto do cliente (ou `charge_id`). Erros de sintaxe vêm em `errors` "
        "(200).",
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "TemplatePreview",
                {
                    "text": serializers.CharField(allow_blank=True),
                    "errors": serializers.ListField(child=serializers.CharField()),
                    "warnings": serializers.ListField(child=serializers.CharField()),
                    "variables": serializers.ListField(child=serializers.CharField()),
                    "available_variables": serializers.DictField(child=serializers.CharField()),
                },
            ),
            **error_responses(400, 404),
        },
        examples=[
            OpenApiExample(
                "Texto",
                value={"body": "Olá, {first_name}! Sua parcela de {amount} vence em {due_date}."},
                request_only=True,
            ),
            OpenApiExample(
                "Pré-visualização",
                value={
                    "text": "Olá, Maria! Sua parcela de R$ 150,50 vence em 15/01/2026.",
                    "errors": [],
                    "warnings": [],
                    "variables": ["first_name", "amount", "due_date"],
                    "available_variables": {
                        "name": "Nome do cliente",
                        "first_name": "Primeiro nome do cliente",
                    },
                },
                response_only=True,
            ),
            VALIDATION_ERROR_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        if "body" in params:
            body = params["body"]
        else:
            body = get_object_or_404(MessageTemplate, name=params["template_name"]).body
        charge = client = None
        if "charge_id" in params:
            charge = Charge.objects.select_related("client").filter(pk=params["charge_id"]).first()
            if charge is None:
                raise ApplicationError(
                    "Cobrança não encontrada.", {"charge_id": params["charge_id"]}, status_code=404
                )
        elif "client_id" in params:
            client = Client.objects.filter(pk=params["client_id"]).first()
            if client is None:
                raise ApplicationError(
                    "Cliente não encontrado.", {"client_id": params["client_id"]}, status_code=404
                )
        preview = template_preview(
            body=body, client=client, charge=charge, full_contact=sees_full_contact(request.user)
        )
        return Response(
            {
                "text": preview.text,
                "errors": preview.errors,
                "warnings": preview.warnings,
                "variables": preview.variables,
                "available_variables": VARIABLES,
            }
        )
