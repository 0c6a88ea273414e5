"""Routes for imports and message templates; included by billing/urls.py under /api/billing/."""

from __future__ import annotations

from django.urls import path

from billing import apis_import, apis_templates

urlpatterns = [
    path("import", apis_import.ImportApi.as_view(), name="billing-import"),
    path("import/<int:batch_id>", apis_import.ImportBatchApi.as_view(), name="billing-import-batch"),
    path(
        "import/<int:batch_id>/rejected.csv",
        apis_import.ImportRejectedCsvApi.as_view(),
        name="billing-import-rejected",
    ),
    path("templates", apis_templates.TemplateListApi.as_view(), name="billing-templates"),
    # Before templates/<name>: "preview" is a reserved template name.
    path("templates/preview", apis_templates.TemplatePreviewApi.as_view(), name="billing-template-preview"),
    path("templates/<slug:name>", apis_templates.TemplateDetailApi.as_view(), name="billing-template-detail"),
]
