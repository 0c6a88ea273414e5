"""Campaign API, with the original system's names: send-batch, send-single, batch-status, plus campaign
actions.

Views only validate input and call one service; every rule lives in billing.dispatch (services, and batch for
send-batch).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.apis_campaigns_schema import (
    BATCH_STATUS,
    CAMPAIGN_DETAIL,
    CAMPAIGN_PROGRESS,
    CAMPAIGN_ROW,
    DISPATCH_RESENT,
    PROGRESS_EXAMPLE,
    SEND_BATCH_RESULT,
    SEND_SINGLE_RESULT,
)
from billing.dispatch import batch, selectors, services
from billing.models import Campaign, Client, Dispatch, MessageTemplate
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_embedded_numbers, sees_full_contact
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses, paginated


def _template(name: str) -> MessageTemplate:
    template = MessageTemplate.objects.filter(name=name).first()
    if template is None:
        raise ApplicationError("Modelo de mensagem não encontrado.", {"template_name": name}, status_code=404)
    return template


class SendBatchApi(APIView):
    """POST /api/billing/send-batch — import (file or inline list) or pick a segment, then create and
    start."""

    write_permissions = {
        "POST": ["billing.add_campaign", "billing.change_campaign", "billing.add_importbatch"]
    }

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
        # Needed only for a campaign with send_window "always" started outside the usual hours (CDC art. 42).
        confirm_off_hours = serializers.BooleanField(required=False, default=False)

        def validate(self, attrs):
            given = [key for key in ("clients_file", "clients", "segment") if key in attrs]
            if len(given) != 1:
                raise serializers.ValidationError(
                    "Informe exatamente um destes: clients_file, clients ou segment."
                )
            return attrs

    @extend_schema(
        summary="Enviar cobranças em lote (cria e inicia uma campanha)",
        description="Informe exatamente um de `clients_file` (arquivo na pasta de uploads), `clients` (lista "
        "de devedores, como na importação) ou `segment`. A campanha é criada e iniciada; `import` traz o "
        "relatório da importação quando houve uma.",
        request=InputSerializer,
        responses={201: SEND_BATCH_RESULT, **error_responses(400, 404, 409)},
        examples=[
            OpenApiExample(
                "Lista de devedores",
                value={
                    "template_name": "lembrete_vencimento",
                    "clients": [
                        {
                            "id": "FAT-1001",
                            "nome": "Maria Souza",
                            "telefone": "(11) 99999-8888",
                            "cpf": "123.456.789-09",
                            "valor": "150,00",
                            "vencimento": "10/01/2025",
                        }
                    ],
                    "delay_seconds": "15.00",
                    "confirm_compliance": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Arquivo enviado",
                value={"template_name": "lembrete_vencimento", "clients_file": "devedores_janeiro.xlsx"},
                request_only=True,
            ),
            OpenApiExample(
                "Campanha iniciada",
                value={
                    "success": True,
                    "campaign_id": 3,
                    "total": 120,
                    "status": "running",
                    "starts_at": None,
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Avisos de conformidade",
                value={
                    "message": "O modelo tem avisos de conformidade: confirme que os leu para iniciar a "
                    "campanha.",
                    "extra": {"warnings": ["..."], "confirm_compliance": False},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # The input's names are the service's, but for the template (by name) and the session.
        kwargs = {k: v for k, v in values.items() if k not in ("template_name", "session")}
        result = batch.campaign_send_batch(
            template=_template(values["template_name"]),
            session_name=values.get("session"),
            by=request.user,
            **kwargs,
        )
        campaign, import_report = result.campaign, result.import_report
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

    write_permissions = {"POST": ["conversations.add_message"]}

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

    @extend_schema(
        summary="Enviar uma mensagem avulsa agora",
        description="Uma mensagem fora do ritmo de campanha, nunca para cliente bloqueado (409). "
        "Informe `phone` ou `client_id`, e `template_name` ou `text` — por exemplo "
        '`{"phone": "(11) 99999-8888", "text": "Olá! Sua fatura vence amanhã."}` ou '
        '`{"client_id": 7, "template_name": "lembrete_vencimento"}`. 422: o número não tem WhatsApp.',
        # No request examples on purpose: schemathesis replays documented examples; a valid one calls WAHA.
        request=InputSerializer,
        responses={200: SEND_SINGLE_RESULT, **error_responses(400, 404, 409, 422, 502)},
        examples=[
            OpenApiExample(
                "Enviada",
                value={
                    "success": True,
                    "message_id": "true_5511999998888@c.us_3EB0C767D82A1B",
                    "chat_id": "5511999998888@c.us",
                },
                response_only=True,
            ),
            OpenApiExample(
                "Sem WhatsApp",
                value={"message": "Este número não tem WhatsApp.", "extra": {"phone": "+5511999998888"}},
                response_only=True,
                status_codes=["422"],
            ),
        ],
    )
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
        if not sees_full_contact(request.user):
            result = {
                **result,
                **{k: mask_embedded_numbers(result[k]) for k in ("chat_id", "message_id") if result.get(k)},
            }
        return Response({"success": True, **result})


class BatchStatusApi(APIView):
    """GET /api/billing/batch-status[?campaign_id=] — counts per status, rate (msgs/min), ETA, status."""

    @extend_schema(
        summary="Andamento do lote (campanha)",
        description="Contagens por situação, taxa (msgs/min), previsão de término e status da campanha "
        "`campaign_id` ou, sem ele, da campanha ativa mais recente. Sem nenhuma campanha: "
        '`{"success": true, "campaign_id": null, "status": "idle"}`.',
        parameters=[
            OpenApiParameter(
                "campaign_id",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                required=False,
                description="Id da campanha.",
            )
        ],
        responses={200: BATCH_STATUS, **error_responses(400, 404)},
        examples=[
            OpenApiExample("Em andamento", value={"success": True, **PROGRESS_EXAMPLE}, response_only=True),
            OpenApiExample(
                "Nenhuma campanha",
                value={"success": True, "campaign_id": None, "status": "idle"},
                response_only=True,
            ),
        ],
    )
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

    @extend_schema(
        operation_id="api_billing_campaigns_list",
        summary="Listar campanhas",
        description="Mais recentes primeiro, paginadas (`page`); `status` filtra.",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                enum=Campaign.Status.values,
                description="Status da campanha.",
            ),
            OpenApiParameter(
                "page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Número da página."
            ),
        ],
        responses={200: paginated("CampaignListApiPage", CAMPAIGN_ROW), **error_responses(404)},
    )
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

    @extend_schema(
        operation_id="api_billing_campaigns_retrieve",
        summary="Detalhar campanha",
        description="Andamento da campanha e os envios em situação desconhecida, à espera de um atendente.",
        responses={200: CAMPAIGN_DETAIL, **error_responses(404)},
    )
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

    # Keyed by action first (cobranca.permissions.ApiModelPermissions): cancelling needs the operators' own
    # permission, the other actions change_campaign.
    write_permissions = {
        "cancel": ["billing.change_campaign", "billing.cancel_campaign"],
        "POST": ["billing.change_campaign"],
    }

    action: str = ""

    class InputSerializer(serializers.Serializer):
        confirm_compliance = serializers.BooleanField(required=False, default=False)
        # Needed only for a campaign with send_window "always" started outside the usual hours (CDC art. 42).
        confirm_off_hours = serializers.BooleanField(required=False, default=False)
        reason = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    @extend_schema(
        summary="Iniciar, pausar, retomar ou cancelar campanha",
        description="`confirm_compliance` e `confirm_off_hours` valem para iniciar (o segundo só é exigido "
        "para campanha sem janela, `send_window` `always`, iniciada fora do horário usual); `reason`, para "
        "pausar. "
        "409 quando a campanha não está num status que permita a ação. Cancelar exige a permissão "
        "`billing.cancel_campaign` (Operadores); Integradores recebem 403.",
        request=InputSerializer,
        responses={200: CAMPAIGN_PROGRESS, **error_responses(400, 404, 409)},
        examples=[VALIDATION_ERROR_EXAMPLE],
    )
    def post(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if self.action == "start":
            campaign = services.campaign_start(
                campaign=campaign,
                by=request.user,
                confirm_compliance=values["confirm_compliance"],
                confirm_off_hours=values["confirm_off_hours"],
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

    write_permissions = {"POST": ["billing.change_dispatch"]}

    @extend_schema(
        summary="Reenviar um envio em situação desconhecida",
        request=None,
        responses={200: DISPATCH_RESENT, **error_responses(404, 409)},
    )
    def post(self, request, dispatch_id: int):
        dispatch = get_object_or_404(Dispatch, pk=dispatch_id)
        dispatch = services.dispatch_resend_unknown(dispatch=dispatch, by=request.user)
        return Response({"success": True, "dispatch_id": dispatch.pk, "status": dispatch.status})
