"""Billing API, mounted at /api/billing/: imports and templates, campaigns and dispatch."""

from __future__ import annotations

from django.urls import include, path

from billing.apis_suppression import SuppressionLiftApi

urlpatterns = [
    path("", include("billing.urls_import")),
    path("", include("billing.urls_dispatch")),
    path("suppressions/lift", SuppressionLiftApi.as_view(), name="billing-suppression-lift"),
    path("", include("billing.regua.urls")),
]
