"""Message template API: CRUD by name plus a preview. Every response carries the compliance warnings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.compliance import template_compliance_warnings
from billing.models import Charge, Client, MessageTemplate
from billing.templating import (
    VARIABLES,
    sample_context,
    template_context,
    template_create,
    template_delete,
    template_render,
    template_update,
    template_validate,
    template_variables,
)
from cobranca.exceptions import ApplicationError


class TemplateOutputSerializer(serializers.ModelSerializer):
    variables = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "title",
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
    name = serializers.SlugField(max_length=100)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=4096, trim_whitespace=False)
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_body(self, value: str) -> str:
        errors = template_validate(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class TemplateListApi(APIView):
    """GET /api/billing/templates — list; POST — create."""

    class Pagination(PageNumberPagination):
        page_size = 50

    def get(self, request):
        queryset = MessageTemplate.objects.all()
        if request.query_params.get("active") in ("1", "true"):
            queryset = queryset.filter(is_active=True)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(TemplateOutputSerializer(page, many=True).data)

    def post(self, request):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = template_create(**data.validated_data)
        return Response(TemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    """GET/PUT/PATCH/DELETE /api/billing/templates/<name>."""

    def get(self, request, name: str):
        template = get_object_or_404(MessageTemplate, name=name)
        return Response(TemplateOutputSerializer(template).data)

    def put(self, request, name: str):
        return self._update(request, name, partial=False)

    def patch(self, request, name: str):
        return self._update(request, name, partial=True)

    def _update(self, request, name: str, *, partial: bool):
        template = get_object_or_404(MessageTemplate, name=name)
        data = TemplateInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k in request.data or not partial}
        template = template_update(template=template, **fields)
        return Response(TemplateOutputSerializer(template).data)

    def delete(self, request, name: str):
        template = get_object_or_404(MessageTemplate, name=name)
        template_delete(template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewApi(APIView):
    """POST /api/billing/templates/preview {"body" | "template_name", "client_id"?, "charge_id"?}
    → {"text", "errors", "warnings", "variables"}. Without a client the sample data is used; with one, the
    client's
    next open charge (or the given charge) fills the charge variables."""

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
            client = charge.client
        elif "client_id" in params:
            client = Client.objects.filter(pk=params["client_id"]).first()
            if client is None:
                raise ApplicationError(
                    "Cliente não encontrado.", {"client_id": params["client_id"]}, status_code=404
                )
            charge = (
                client.charges.filter(status__in=Charge.OPEN_STATUSES).order_by("due_date", "pk").first()
                or client.charges.order_by("-due_date", "-pk").first()
            )
        errors = template_validate(body)
        text = ""
        if not errors:
            context = sample_context()
            if client is not None:
                real = template_context(charge=charge, client=client)
                context.update({k: v for k, v in real.items() if v or charge is not None})
            text = template_render(body=body, context=context)
        return Response(
            {
                "text": text,
                "errors": errors,
                "warnings": template_compliance_warnings(body),
                "variables": template_variables(body) if not errors else [],
                "available_variables": VARIABLES,
            }
        )
