"""Campaign API, with the original system's names: send-batch, send-single, batch-status, plus campaign
actions.

Views only validate input and call one service; every rule lives in billing.dispatch.services.
"""

from __future__ import annotations

import io
import json
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.dispatch import selectors, services
from billing.models import Campaign, Client, Dispatch, ImportBatch, MessageTemplate
from cobranca.exceptions import ApplicationError


def _template(name: str) -> MessageTemplate:
    template = MessageTemplate.objects.filter(name=name).first()
    if template is None:
        raise ApplicationError("Modelo de mensagem não encontrado.", {"template_name": name}, status_code=404)
    return template


def resolve_upload(name: str) -> Path:
    """A file inside settings.UPLOADS_DIR named by a relative path; anything that could leave it is refused.

    Refused: absolute paths, drive letters, backslashes, `..` parts, NUL bytes, and anything whose resolved
    path
    (symlinks followed) is not inside the resolved uploads directory.
    """
    refuse = ApplicationError(
        "Arquivo inválido: informe só o nome de um arquivo enviado para a pasta de uploads.",
        {"clients_file": name},
    )
    if not name or "\x00" in name or "\\" in name or ":" in name:
        raise refuse
    relative = PurePosixPath(name)
    if relative.is_absolute() or any(part in ("..", "") for part in relative.parts):
        raise refuse
    base = Path(settings.UPLOADS_DIR).resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base) or candidate == base:
        raise refuse
    if not candidate.is_file():
        raise ApplicationError(
            "Arquivo não encontrado na pasta de uploads.", {"clients_file": name}, status_code=404
        )
    return candidate


def _import(*, path_or_file, filename: str, fmt: str | None, by) -> tuple[ImportBatch, dict]:
    from billing.importing import import_file

    report = import_file(path_or_file=path_or_file, filename=filename, fmt=fmt, by=by)
    if not report.success or report.batch_id is None:
        raise ApplicationError(report.message or "A importação falhou.", {"import": report.as_dict()})
    return ImportBatch.objects.get(pk=report.batch_id), report.as_dict()


class SendBatchApi(APIView):
    """POST /api/billing/send-batch — import (file or inline list) or pick a segment, then create and
    start."""

    class InputSerializer(serializers.Serializer):
        clients_file = serializers.CharField(required=False, max_length=500)
        clients = serializers.ListField(
            child=serializers.DictField(), required=False, allow_empty=False, max_length=100_000
        )
        segment = serializers.DictField(required=False)
        template_name = serializers.CharField(max_length=100)
        delay_seconds = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False)
        jitter_seconds = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False)
        session = serializers.CharField(max_length=100, required=False)
        starts_at = serializers.DateTimeField(required=False)
        send_window = serializers.CharField(max_length=200, required=False, allow_blank=True)
        daily_cap = serializers.IntegerField(min_value=1, required=False)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        confirm_compliance = serializers.BooleanField(required=False, default=False)

        def validate(self, attrs):
            given = [key for key in ("clients_file", "clients", "segment") if key in attrs]
            if len(given) != 1:
                raise serializers.ValidationError(
                    "Informe exatamente um destes: clients_file, clients ou segment."
                )
            return attrs

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        template = _template(values["template_name"])
        by = request.user
        batch, import_report = None, None
        if "clients_file" in values:
            path = resolve_upload(values["clients_file"])
            batch, import_report = _import(path_or_file=str(path), filename=path.name, fmt=None, by=by)
        elif "clients" in values:
            raw = json.dumps(values["clients"], ensure_ascii=False, default=str).encode()
            batch, import_report = _import(
                path_or_file=io.BytesIO(raw), filename="clients.json", fmt="json", by=by
            )
        segment = values.get("segment")
        campaign = services.campaign_create(
            template=template,
            name=values.get("name", ""),
            segment=segment,
            import_batch=batch,
            delay_seconds=values.get("delay_seconds"),
            jitter_seconds=values.get("jitter_seconds"),
            session_name=values.get("session"),
            starts_at=values.get("starts_at"),
            send_window=values.get("send_window", ""),
            daily_cap=values.get("daily_cap"),
            by=by,
        )
        campaign = services.campaign_start(
            campaign=campaign, by=by, confirm_compliance=values["confirm_compliance"]
        )
        body = {
            "success": True,
            "campaign_id": campaign.pk,
            "total": campaign.total,
            "status": campaign.status,
            "starts_at": campaign.starts_at.isoformat() if campaign.starts_at else None,
        }
        if import_report is not None:
            body["import"] = import_report
        return Response(body, status=status.HTTP_201_CREATED)


class SendSingleApi(APIView):
    """POST /api/billing/send-single — one message now (no campaign pace), never to a suppressed client."""

    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=40, required=False)
        client_id = serializers.IntegerField(required=False)
        template_name = serializers.CharField(max_length=100, required=False)
        text = serializers.CharField(max_length=4096, required=False)
        session = serializers.CharField(max_length=100, required=False)

        def validate(self, attrs):
            if ("phone" in attrs) == ("client_id" in attrs):
                raise serializers.ValidationError("Informe phone ou client_id.")
            if ("template_name" in attrs) == ("text" in attrs):
                raise serializers.ValidationError("Informe template_name ou text.")
            return attrs

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        client = get_object_or_404(Client, pk=values["client_id"]) if "client_id" in values else None
        template = _template(values["template_name"]) if "template_name" in values else None
        result = services.message_send_single(
            client=client,
            phone=values.get("phone", ""),
            template=template,
            text=values.get("text", ""),
            session_name=values.get("session"),
            by=request.user,
        )
        return Response({"success": True, **result})


class BatchStatusApi(APIView):
    """GET /api/billing/batch-status[?campaign_id=] — counts per status, rate (msgs/min), ETA, status."""

    def get(self, request):
        campaign_id = request.query_params.get("campaign_id")
        if campaign_id:
            if not campaign_id.isdigit():
                raise ApplicationError("campaign_id inválido.", {"campaign_id": campaign_id})
            campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=int(campaign_id))
        else:
            campaign = selectors.campaign_current()
        if campaign is None:
            return Response({"success": True, "campaign_id": None, "status": "idle"})
        return Response({"success": True, **selectors.campaign_progress(campaign=campaign)})


class CampaignListApi(APIView):
    """GET /api/billing/campaigns[?status=] — newest first, paginated."""

    class Pagination(PageNumberPagination):
        page_size = 50

    def get(self, request):
        qs = selectors.campaign_list(status=request.query_params.get("status") or None)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        rows = [
            {
                "id": c.pk,
                "name": c.name,
                "status": c.status,
                "template_name": c.template.name,
                "session": c.session_name,
                "total": c.total,
                "sent": c.sent_count,
                "remaining": c.pending_count,
                "delay_seconds": float(c.delay_seconds),
                "jitter_seconds": float(c.jitter_seconds),
                "pause_reason": c.pause_reason,
                "created_at": c.created_at.isoformat(),
                "started_at": c.started_at.isoformat() if c.started_at else None,
                "finished_at": c.finished_at.isoformat() if c.finished_at else None,
            }
            for c in page
        ]
        return paginator.get_paginated_response(rows)


class CampaignDetailApi(APIView):
    """GET /api/billing/campaigns/<id> — progress plus the dispatches waiting for an operator (unknown)."""

    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=campaign_id)
        unknown = [
            {
                "id": d.pk,
                "client_id": d.client_id,
                "charge_id": d.charge_id,
                "reason": d.reason,
                "claimed_at": d.claimed_at.isoformat() if d.claimed_at else None,
            }
            for d in selectors.dispatches_unknown(campaign_id=campaign.pk)[:200]
        ]
        return Response({**selectors.campaign_progress(campaign=campaign), "unknown_dispatches": unknown})


class CampaignActionApi(APIView):
    """POST /api/billing/campaigns/<id>/start|pause|resume|cancel."""

    action: str = ""

    class InputSerializer(serializers.Serializer):
        confirm_compliance = serializers.BooleanField(required=False, default=False)
        reason = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def post(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if self.action == "start":
            campaign = services.campaign_start(
                campaign=campaign, by=request.user, confirm_compliance=values["confirm_compliance"]
            )
        elif self.action == "pause":
            campaign = services.campaign_pause(campaign=campaign, by=request.user, reason=values["reason"])
        elif self.action == "resume":
            campaign = services.campaign_resume(campaign=campaign, by=request.user)
        else:
            campaign = services.campaign_cancel(campaign=campaign, by=request.user)
        return Response({"success": True, **selectors.campaign_progress(campaign=campaign)})


class DispatchResendApi(APIView):
    """POST /api/billing/dispatches/<id>/resend — an operator resends an `unknown` dispatch."""

    def post(self, request, dispatch_id: int):
        dispatch = get_object_or_404(Dispatch, pk=dispatch_id)
        dispatch = services.dispatch_resend_unknown(dispatch=dispatch, by=request.user)
        return Response({"success": True, "dispatch_id": dispatch.pk, "status": dispatch.status})
