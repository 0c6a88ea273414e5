"""Billing API, mounted at /api/billing/: imports and templates, campaigns and dispatch."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("billing.urls_import")),
    path("", include("billing.urls_dispatch")),
]
