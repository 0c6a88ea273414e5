"""OpenAPI only: the campaign API's views (billing/apis_campaigns.py) answer plain dicts; these serializers
mirror them for drf-spectacular, so the schema documents what the views really return."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from billing.apis_import import ImportReportSerializer


def _progress_fields(*, required: bool = True) -> dict[str, serializers.Field]:
    """The keys of billing.dispatch.selectors.campaign_progress."""
    r = {"required": required}
    return {
        "campaign_id": serializers.IntegerField(**r),
        "name": serializers.CharField(allow_blank=True, **r),
        "status": serializers.CharField(**r),
        "status_display": serializers.CharField(**r),
        "pause_reason": serializers.CharField(allow_blank=True, **r),
        "session": serializers.CharField(**r),
        "template_name": serializers.CharField(**r),
        "total": serializers.IntegerField(**r),
        "counts": serializers.DictField(child=serializers.IntegerField(), **r),
        "processed": serializers.IntegerField(**r),
        "sent": serializers.IntegerField(**r),
        "remaining": serializers.IntegerField(**r),
        "progress_percent": serializers.FloatField(**r),
        "rate_per_minute": serializers.FloatField(**r),
        "eta_seconds": serializers.IntegerField(allow_null=True, **r),
        "eta_at": serializers.DateTimeField(allow_null=True, **r),
        "waiting_for_window": serializers.BooleanField(
            help_text="Em execução, mas fora da janela de envio: nada sai até window_opens_at.", **r
        ),
        "window_opens_at": serializers.DateTimeField(allow_null=True, **r),
        "state_display": serializers.CharField(
            help_text='O estado como o operador lê: "aguardando janela de envio: segunda 08:00" ou o status.',
            **r,
        ),
        "delay_seconds": serializers.FloatField(**r),
        "jitter_seconds": serializers.FloatField(**r),
        "starts_at": serializers.DateTimeField(allow_null=True, **r),
        "started_at": serializers.DateTimeField(allow_null=True, **r),
        "finished_at": serializers.DateTimeField(allow_null=True, **r),
    }


_SUCCESS = {"success": serializers.BooleanField()}
PROGRESS_EXAMPLE = {
    "campaign_id": 3,
    "name": "Vencidas de janeiro",
    "status": "running",
    "status_display": "em execução",
    "pause_reason": "",
    "session": "default",
    "template_name": "lembrete_vencimento",
    "total": 120,
    "counts": {
        "pending": 70,
        "sending": 1,
        "sent": 10,
        "delivered": 25,
        "read": 10,
        "failed": 2,
        "skipped": 2,
        "unknown": 0,
    },
    "processed": 49,
    "sent": 45,
    "remaining": 71,
    "progress_percent": 40.8,
    "rate_per_minute": 4.0,
    "eta_seconds": 1065,
    "eta_at": "2025-01-15T11:05:00-03:00",
    "waiting_for_window": False,
    "window_opens_at": None,
    "state_display": "em execução",
    "delay_seconds": 15.0,
    "jitter_seconds": 5.0,
    "starts_at": None,
    "started_at": "2025-01-15T10:30:00-03:00",
    "finished_at": None,
}
SEND_BATCH_RESULT = inline_serializer(
    "SendBatchResult",
    {
        **_SUCCESS,
        "campaign_id": serializers.IntegerField(),
        "total": serializers.IntegerField(),
        "status": serializers.CharField(),
        "starts_at": serializers.DateTimeField(allow_null=True),
        "import": ImportReportSerializer(required=False),
    },
)
SEND_SINGLE_RESULT = inline_serializer(
    "SendSingleResult",
    {**_SUCCESS, "message_id": serializers.CharField(), "chat_id": serializers.CharField()},
)
# batch-status without any campaign answers only {"success", "campaign_id": null, "status": "idle"}.
BATCH_STATUS = inline_serializer(
    "BatchStatus",
    {
        **_progress_fields(required=False),
        **_SUCCESS,
        "campaign_id": serializers.IntegerField(allow_null=True),
        "status": serializers.CharField(),
    },
)
CAMPAIGN_ROW = inline_serializer(
    "CampaignListItem",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(allow_blank=True),
        "status": serializers.CharField(),
        "template_name": serializers.CharField(),
        "session": serializers.CharField(),
        "total": serializers.IntegerField(),
        "sent": serializers.IntegerField(),
        "remaining": serializers.IntegerField(),
        "delay_seconds": serializers.FloatField(),
        "jitter_seconds": serializers.FloatField(),
        "pause_reason": serializers.CharField(allow_blank=True),
        "created_at": serializers.DateTimeField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
    many=True,
)
CAMPAIGN_DETAIL = inline_serializer(
    "CampaignDetail",
    {
        **_progress_fields(),
        "unknown_dispatches": inline_serializer(
            "CampaignUnknownDispatch",
            {
                "id": serializers.IntegerField(),
                "client_id": serializers.IntegerField(),
                "charge_id": serializers.IntegerField(),
                "reason": serializers.CharField(allow_blank=True),
                "claimed_at": serializers.DateTimeField(allow_null=True),
            },
            many=True,
        ),
    },
)
CAMPAIGN_PROGRESS = inline_serializer("CampaignProgress", {**_SUCCESS, **_progress_fields()})
DISPATCH_RESENT = inline_serializer(
    "DispatchResent",
    {**_SUCCESS, "dispatch_id": serializers.IntegerField(), "status": serializers.CharField()},
)
