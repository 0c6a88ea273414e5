"""Routes for campaigns and dispatch; included by billing/urls.py under /api/billing/."""

from __future__ import annotations

from django.urls import path

from billing import apis_campaigns as apis

urlpatterns = [
    path("send-batch", apis.SendBatchApi.as_view(), name="billing-send-batch"),
    path("send-single", apis.SendSingleApi.as_view(), name="billing-send-single"),
    path("batch-status", apis.BatchStatusApi.as_view(), name="billing-batch-status"),
    path("campaigns", apis.CampaignListApi.as_view(), name="billing-campaigns"),
    path("campaigns/<int:campaign_id>", apis.CampaignDetailApi.as_view(), name="billing-campaign-detail"),
    *[
        path(
            f"campaigns/<int:campaign_id>/{action}",
            apis.CampaignActionApi.as_view(action=action),
            name=f"billing-campaign-{action}",
        )
        for action in ("start", "pause", "resume", "cancel")
    ],
    path(
        "dispatches/<int:dispatch_id>/resend",
        apis.DispatchResendApi.as_view(),
        name="billing-dispatch-resend",
    ),
]
