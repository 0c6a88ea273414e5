"""Régua API, mounted at /api/billing/reguas (JWT or session; reads IsApiUser, writes billing.change_regua).

Views validate input and call one service or selector (billing.regua.services / selectors / planner).
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Charge, ImportBatch
from billing.regua import selectors, services
from billing.regua.models import Regua
from billing.regua.planner import plan_compute
from cobranca.exceptions import ApplicationError
from cobranca.openapi import error_responses

MAX_ID = 2**63 - 1


def _regua_data(regua: Regua, *, with_steps: bool = True) -> dict:
    data = {
        "id": regua.pk,
        "slug": regua.slug,
        "name": regua.name,
        "status": regua.status,
        "status_display": regua.get_status_display(),
        "pause_reason": regua.pause_reason,
        "is_default": regua.is_default,
        "session": regua.session_name,
        "send_window": regua.send_window,
        "skip_carnival": regua.skip_carnival,
    }
    if with_steps:
        data["steps"] = [
            {
                "id": s.pk,
                "code": s.code,
                "kind": s.kind,
                "offset_days": s.offset_days,
                "label": s.label,
                "template": s.template.name,
                "charge_statuses": s.charge_statuses,
                "is_active": s.is_active,
            }
            for s in regua.steps.select_related("template").order_by("kind", "offset_days")
        ]
    return data


def _parse_day(value: str | None, field: str = "date") -> dt.date:
    if not value:
        raise ApplicationError("Informe a data (AAAA-MM-DD).", {"field": field})
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApplicationError("Data inválida (use AAAA-MM-DD).", {"field": field, "value": value}) from None


class ReguaListApi(APIView):
    """GET /api/billing/reguas — every régua with its steps."""

    @extend_schema(
        operation_id="billing_reguas_list",
        summary="Listar réguas de cobrança",
        responses={200: OpenApiTypes.OBJECT, **error_responses()},
    )
    def get(self, request):
        return Response({"results": [_regua_data(r) for r in selectors.regua_list()]})


class ReguaDetailApi(APIView):
    """GET /api/billing/reguas/<slug or id> — the régua, its steps and the results per step."""

    @extend_schema(
        operation_id="billing_reguas_detail",
        summary="Detalhar régua",
        responses={200: OpenApiTypes.OBJECT, **error_responses(404)},
    )
    def get(self, request, regua: str):
        obj = services.regua_get(slug_or_id=regua)
        return Response({**_regua_data(obj), "results": selectors.regua_step_results(regua=obj)})


class ReguaActionApi(APIView):
    """POST /api/billing/reguas/<slug or id>/enable|pause|resume|off."""

    write_permissions = {"POST": ["billing.change_regua"]}  # cobranca.permissions.ApiModelPermissions

    action: str = ""

    class InputSerializer(serializers.Serializer):
        confirm_compliance = serializers.BooleanField(required=False, default=False)
        reason = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    @extend_schema(
        summary="Ligar, pausar, retomar ou desligar régua",
        description="`confirm_compliance` vale para ligar; `reason`, para pausar. 409 quando a situação não "
        "permite a ação.",
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 404, 409)},
    )
    def post(self, request, regua: str):
        obj = services.regua_get(slug_or_id=regua)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if self.action == "enable":
            obj = services.regua_enable(
                regua=obj, by=request.user, confirm_compliance=values["confirm_compliance"]
            )
        elif self.action == "pause":
            obj = services.regua_pause(regua=obj, by=request.user, reason=values["reason"])
        elif self.action == "resume":
            obj = services.regua_resume(regua=obj, by=request.user)
        else:
            obj = services.regua_turn_off(regua=obj, by=request.user)
        return Response({"success": True, **_regua_data(obj, with_steps=False)})


class ReguaAssignApi(APIView):
    """POST /api/billing/reguas/<slug or id>/assign — charges of an import, a segment or a list follow it."""

    write_permissions = {"POST": ["billing.change_regua"]}

    class InputSerializer(serializers.Serializer):
        # Ids within the database's integer range: a bigger number is a 400, not a driver overflow.
        import_batch = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
        segment = serializers.DictField(required=False)
        charge_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=10000
        )

    @extend_schema(
        summary="Definir a régua de cobranças",
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 404)},
    )
    def post(self, request, regua: str):
        obj = services.regua_get(slug_or_id=regua)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        batch = None
        if values.get("import_batch") is not None:
            batch = ImportBatch.objects.filter(pk=values["import_batch"]).first()
            if batch is None:
                raise ApplicationError("Importação não encontrada.", {"import_batch": values["import_batch"]})
        count = services.regua_assign(
            regua=obj, import_batch=batch, segment=values.get("segment"), charge_ids=values.get("charge_ids")
        )
        return Response({"success": True, "regua": obj.slug, "charges": count})


class ReguaPreviewApi(APIView):
    """GET /api/billing/reguas/preview?date=YYYY-MM-DD — the lines of `manage.py regua_preview`."""

    @extend_schema(
        operation_id="billing_reguas_preview",
        summary="Prévia do dia",
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses={200: OpenApiTypes.OBJECT, **error_responses(400)},
    )
    def get(self, request):
        day = _parse_day(request.query_params.get("date"))
        plan = plan_compute(day=day, reguas=selectors.reguas_for_forecast())
        planned, skipped = [], []
        for cand in plan.candidates:
            if cand.status == "planned":
                planned.append(
                    {
                        "charge": cand.charge_external_id,
                        "client": cand.client_id,
                        "step": cand.step.offset,
                        "template": cand.step.template_name,
                        "at": cand.at.isoformat() if cand.at else None,
                    }
                )
            else:
                skipped.append(
                    {"skipped": cand.charge_external_id, "step": cand.step.offset, "reason": cand.reason}
                )
        return Response({"date": day.isoformat(), "planned": planned, "skipped": skipped})


class ReguaCalendarApi(APIView):
    """GET /api/billing/reguas/calendar[?days=7] — per day: messages, reminders per step, stops per reason."""

    @extend_schema(
        operation_id="billing_reguas_calendar",
        summary="Calendário dos próximos dias",
        parameters=[OpenApiParameter("days", OpenApiTypes.INT, required=False)],
        responses={200: OpenApiTypes.OBJECT, **error_responses(400)},
    )
    def get(self, request):
        try:
            days = int(request.query_params.get("days", 7))
        except ValueError:
            raise ApplicationError("`days` deve ser um número.", {"field": "days"}) from None
        if not 1 <= days <= 31:
            raise ApplicationError("`days` deve estar entre 1 e 31.", {"field": "days", "value": days})
        calendar = selectors.regua_calendar(days=days)
        for day in calendar:
            day["day"] = day["day"].isoformat()
        return Response({"days": calendar})


class ChargeRemindersApi(APIView):
    """GET /api/billing/reguas/charges/<charge id> — a charge's reminders: history (with reasons) and next."""

    @extend_schema(
        operation_id="billing_reguas_charge_reminders",
        summary="Lembretes de uma cobrança",
        responses={200: OpenApiTypes.OBJECT, **error_responses(404)},
    )
    def get(self, request, charge_id: int):
        charge = get_object_or_404(
            Charge.objects.select_related("regua", "import_batch__regua"), pk=charge_id
        )
        data = selectors.charge_reminders(charge=charge)
        regua = data["regua"]

        def iso(row: dict) -> dict:
            return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}

        return Response(
            {
                "charge": charge.external_id or str(charge.pk),
                "regua": regua.slug if regua else None,
                "history": [iso(h) for h in data["history"]],
                "upcoming": [iso(u) for u in data["upcoming"]],
            }
        )
