"""Import API: upload a file, get the report; download the rejected rows of a batch."""

from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.importing import import_file, rejected_path
from billing.models import ImportBatch
from cobranca.exceptions import ApplicationError


def rejected_csv_url(batch_id: int | None) -> str | None:
    if batch_id is None or not rejected_path(batch_id).is_file():
        return None
    try:
        return reverse("billing-import-rejected", kwargs={"batch_id": batch_id})
    except NoReverseMatch:  # included under a namespace
        return f"/api/billing/import/{batch_id}/rejected.csv"


class ImportApi(APIView):
    """POST /api/billing/import (multipart: file, skip_invalid, dry_run, format) → the import report.

    200 with `success: true|false` whenever the file could be read (false: atomic import blocked by invalid
    rows,
    nothing written); 400 `{"message", "extra"}` when the file itself is unusable."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        skip_invalid = serializers.BooleanField(required=False, default=False)
        dry_run = serializers.BooleanField(required=False, default=False)
        format = serializers.ChoiceField(choices=["json", "csv", "xlsx"], required=False)

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


class ImportBatchApi(APIView):
    """GET /api/billing/import/<batch_id> → the stored report of a batch."""

    def get(self, request, batch_id: int):
        batch = get_object_or_404(ImportBatch, pk=batch_id)
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

    def get(self, request, batch_id: int):
        batch = get_object_or_404(ImportBatch, pk=batch_id)
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
