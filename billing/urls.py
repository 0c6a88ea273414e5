"""Billing API, mounted at /api/billing/ by cobranca/urls.py: imports, message templates, campaigns,
dispatch, the suppression list and the régua."""

from __future__ import annotations

from django.urls import include, path

from billing import apis_campaigns, apis_import, apis_suppression, apis_templates

urlpatterns = [
    # imports (billing/apis_import.py)
    path("import", apis_import.ImportApi.as_view(), name="billing-import"),
    path("import/<int:batch_id>", apis_import.ImportBatchApi.as_view(), name="billing-import-batch"),
    path(
        "import/<int:batch_id>/rejected.csv",
        apis_import.ImportRejectedCsvApi.as_view(),
        name="billing-import-rejected",
    ),
    # message templates (billing/apis_templates.py); "preview" before <name>: it is a reserved template name
    path("templates", apis_templates.TemplateListApi.as_view(), name="billing-templates"),
    path("templates/preview", apis_templates.TemplatePreviewApi.as_view(), name="billing-template-preview"),
    path("templates/<slug:name>", apis_templates.TemplateDetailApi.as_view(), name="billing-template-detail"),
    # campaigns and dispatch (billing/apis_campaigns.py)
    path("send-batch", apis_campaigns.SendBatchApi.as_view(), name="billing-send-batch"),
    path("send-single", apis_campaigns.SendSingleApi.as_view(), name="billing-send-single"),
    path("batch-status", apis_campaigns.BatchStatusApi.as_view(), name="billing-batch-status"),
    path("campaigns", apis_campaigns.CampaignListApi.as_view(), name="billing-campaigns"),
    path(
        "campaigns/<int:campaign_id>",
        apis_campaigns.CampaignDetailApi.as_view(),
        name="billing-campaign-detail",
    ),
    *[
        path(
            f"campaigns/<int:campaign_id>/{action}",
            apis_campaigns.CampaignActionApi.as_view(action=action),
            name=f"billing-campaign-{action}",
        )
        for action in ("start", "pause", "resume", "cancel")
    ],
    path(
        "dispatches/<int:dispatch_id>/resend",
        apis_campaigns.DispatchResendApi.as_view(),
        name="billing-dispatch-resend",
    ),
    # suppression list (billing/apis_suppression.py)
    path("suppressions/lift", apis_suppression.SuppressionLiftApi.as_view(), name="billing-suppression-lift"),
    # régua de cobrança (billing/regua/, its own package with its routes)
    path("", include("billing.regua.urls")),
]
