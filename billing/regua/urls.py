"""Routes of the régua API; included by billing/urls.py under /api/billing/."""

from __future__ import annotations

from django.urls import path

from billing.regua import apis

urlpatterns = [
    path("reguas", apis.ReguaListApi.as_view(), name="billing-reguas"),
    path("reguas/preview", apis.ReguaPreviewApi.as_view(), name="billing-regua-preview"),
    path("reguas/calendar", apis.ReguaCalendarApi.as_view(), name="billing-regua-calendar"),
    path("reguas/charges/<int:charge_id>", apis.ChargeRemindersApi.as_view(), name="billing-regua-charge"),
    path("reguas/<str:regua>", apis.ReguaDetailApi.as_view(), name="billing-regua-detail"),
    path("reguas/<str:regua>/assign", apis.ReguaAssignApi.as_view(), name="billing-regua-assign"),
    *[
        path(
            f"reguas/<str:regua>/{action}",
            apis.ReguaActionApi.as_view(action=action),
            name=f"billing-regua-{action}",
        )
        for action in ("enable", "pause", "resume", "off")
    ],
]
