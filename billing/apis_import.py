"""Import API: upload a file, get the report; download the rejected rows of a batch."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.importing import import_file, rejected_path
from billing.models import ImportBatch
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses


def rejected_csv_url(batch_id: int | None) -> str | None:
    if batch_id is None or not rejected_path(batch_id).is_file():
        return None
    try:
        return reverse("billing-import-rejected", kwargs={"batch_id": batch_id})
    except NoReverseMatch:  # included under a namespace
        return f"/api/billing/import/{batch_id}/rejected.csv"


# --- schema only: these serializers mirror ImportReport.as_dict() and are never used to build a response.


class ImportRowErrorSerializer(serializers.Serializer):
    """One rejected field (billing.importing.fields.FieldError.as_dict())."""

    row = serializers.IntegerField()
    field = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    dry_run = serializers.BooleanField()
    skip_invalid = serializers.BooleanField()
    batch_id = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField()
    format = serializers.ChoiceField(choices=["json", "csv", "xlsx"])
    total = serializers.IntegerField()
    imported = serializers.IntegerField()
    rejected = serializers.IntegerField()
    created_clients = serializers.IntegerField()
    created_charges = serializers.IntegerField()
    updated_charges = serializers.IntegerField()
    unchanged_closed_charges = serializers.IntegerField()
    suppressed_rows = serializers.IntegerField(
        help_text="Linhas cujo telefone está na lista de supressão: importadas, cliente descadastrado."
    )
    kept_on_forgotten_charges = serializers.IntegerField(
        help_text="Cobranças de titular anonimizado (LGPD) mantidas sem transferência."
    )
    name_conflicts = serializers.IntegerField(help_text="Linhas que repetem um telefone com outro nome.")
    existing_clients = serializers.IntegerField(
        help_text="Linhas cujo telefone já era de um cliente cadastrado: a cobrança é vinculada a ele "
        "(um aviso por linha, com o nome do cliente quando o da linha é outro)."
    )
    landlines = serializers.IntegerField(
        help_text="Linhas com telefone fixo: importadas, com um aviso (o WhatsApp precisa de um celular)."
    )
    columns = serializers.DictField(
        help_text="CSV/XLSX: `header_key` (o cabeçalho normalizado), `unknown` (cada coluna não reconhecida: "
        "`header`, `key`, `field` em vigor) e `remembered` (mapeamento lembrado aplicado). Vazio para JSON."
    )
    errors = ImportRowErrorSerializer(many=True, help_text="As primeiras 1000 linhas/campos rejeitados.")
    errors_count = serializers.IntegerField()
    errors_truncated = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())
    row_warnings = ImportRowErrorSerializer(
        many=True,
        help_text="Avisos por linha (importada, mas confira): número suprimido, nome diferente para o mesmo "
        "telefone, telefone de cliente já cadastrado, bytes fora do UTF-8. Os primeiros 1000.",
    )
    row_warnings_count = serializers.IntegerField()
    rejected_csv_url = serializers.CharField(allow_null=True)


class ImportBatchReportSerializer(ImportReportSerializer):
    created_at = serializers.DateTimeField()


_REPORT_EXAMPLE = {
    "success": True,
    "message": "3 de 4 linha(s) importadas: 2 cliente(s) novo(s), 3 cobrança(s) nova(s), 0 atualizada(s). "
    "1 linha(s) rejeitada(s).",
    "dry_run": False,
    "skip_invalid": True,
    "batch_id": 12,
    "filename": "devedores.csv",
    "format": "csv",
    "total": 4,
    "imported": 3,
    "rejected": 1,
    "created_clients": 2,
    "created_charges": 3,
    "updated_charges": 0,
    "unchanged_closed_charges": 0,
    "suppressed_rows": 0,
    "kept_on_forgotten_charges": 0,
    "name_conflicts": 0,
    "existing_clients": 0,
    "landlines": 0,
    "columns": {"header_key": "3f1c…", "unknown": [], "remembered": False},
    "errors": [{"row": 4, "field": "telefone", "value": "1234", "message": "telefone inválido"}],
    "errors_count": 1,
    "errors_truncated": False,
    "warnings": [],
    "row_warnings": [],
    "row_warnings_count": 0,
    "rejected_csv_url": "/api/billing/import/12/rejected.csv",
}


class ImportApi(APIView):
    write_permissions = {"POST": ["billing.add_importbatch"]}
    """POST /api/billing/import (multipart: file, skip_invalid, dry_run, format) → the import report.

    200 with `success: true|false` whenever the file could be read (false: atomic import blocked by invalid
    rows, nothing written); 400 `{"message", "extra"}` when the file itself is unusable."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        skip_invalid = serializers.BooleanField(required=False, default=False)
        dry_run = serializers.BooleanField(required=False, default=False)
        format = serializers.ChoiceField(choices=["json", "csv", "xlsx"], required=False)

    @extend_schema(
        summary="Importar devedores e cobranças (JSON, CSV ou XLSX)",
        description="Atômica por padrão: uma linha inválida e nada é gravado (`success: false`, 200). "
        "Com `skip_invalid` as linhas válidas entram e as rejeitadas ficam num CSV (`rejected_csv_url`). "
        "`dry_run` valida e conta sem gravar. 400 quando o arquivo em si não pode ser lido.",
        request={"multipart/form-data": InputSerializer},
        responses={200: ImportReportSerializer, **error_responses(400)},
        examples=[
            OpenApiExample("Relatório da importação", value=_REPORT_EXAMPLE, response_only=True),
            VALIDATION_ERROR_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        upload = params["file"]
        report = import_file(
            path_or_file=upload,
            filename=upload.name,
            fmt=params.get("format"),
            dry_run=params["dry_run"],
            skip_invalid=params["skip_invalid"],
            by=request.user,
        )
        return Response(
            report.as_dict(rejected_csv_url=rejected_csv_url(report.batch_id)), status=status.HTTP_200_OK
        )


def readable_batch(request, batch_id: int) -> ImportBatch:
    """The batch if the caller may read its report and rejected rows (which echo full names and phones): its
    uploader, or whoever reads full contact data (`sees_full_contact`, staff included). Anyone else gets the
    same 404 as for a batch that does not exist, so ids of other users' imports are not confirmed."""
    batch = get_object_or_404(ImportBatch, pk=batch_id)
    if batch.created_by_id != request.user.pk and not sees_full_contact(request.user):
        raise Http404
    return batch


class ImportBatchApi(APIView):
    """GET /api/billing/import/<batch_id> → the stored report of a batch (for its uploader, staff and holders
    of the full-contact permission; others 404)."""

    @extend_schema(
        summary="Relatório de uma importação",
        responses={200: ImportBatchReportSerializer, **error_responses(404)},
        examples=[
            OpenApiExample(
                "Relatório salvo",
                value={**_REPORT_EXAMPLE, "created_at": "2026-01-15T10:30:00-03:00"},
                response_only=True,
            )
        ],
    )
    def get(self, request, batch_id: int):
        batch = readable_batch(request, batch_id)
        return Response(
            {
                **batch.report,
                "batch_id": batch.pk,
                "filename": batch.filename,
                "format": batch.file_format,
                "created_at": batch.created_at,
                "rejected_csv_url": rejected_csv_url(batch.pk),
            }
        )


class ImportRejectedCsvApi(APIView):
    """GET /api/billing/import/<batch_id>/rejected.csv → the rejected rows and reasons (CSV, ';', UTF-8)."""

    @extend_schema(
        summary="Baixar as linhas rejeitadas de uma importação (CSV)",
        description="CSV separado por ';', UTF-8, com as colunas do arquivo e o motivo da rejeição. "
        "404 quando a importação não existe, não tem linhas rejeitadas ou foi enviada por outro usuário "
        "(só quem a enviou, a equipe e quem vê contatos completos podem lê-la).",
        operation_id="api_billing_import_rejected_csv_retrieve",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Linhas rejeitadas (anexo)."),
            **error_responses(404),
        },
    )
    def get(self, request, batch_id: int):
        batch = readable_batch(request, batch_id)
        path = rejected_path(batch.pk)
        if not path.is_file():
            raise ApplicationError(
                "Esta importação não tem linhas rejeitadas.", {"batch_id": batch.pk}, status_code=404
            )
        response = FileResponse(
            open(path, "rb"),
            as_attachment=True,
            filename=f"rejeitadas-{batch.pk}.csv",
            content_type="text/csv; charset=utf-8",
        )
        return response
