"""Suppression list API: `POST /api/billing/suppressions/lift` lifts a suppression with the debtor's new
consent.

The view validates input and calls `billing.suppression.suppression_lift`, which checks the permission
(`billing.lift_suppressedphone`), records the consent and writes the audit entry.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.suppression import LIFT_PERMISSION, suppression_lift
from cobranca.audit import client_ip
from cobranca.openapi import VALIDATION_ERROR_EXAMPLE, error_responses
from cobranca.permissions import ApiModelPermissions


class SuppressionLiftApi(APIView):
    """POST /api/billing/suppressions/lift — take a number off the suppression list because the debtor
    consented again. Needs `billing.lift_suppressedphone`."""

    # The one write rule of the API (cobranca.permissions.ApiModelPermissions), with no role needed besides.
    permission_classes = [ApiModelPermissions]
    write_permissions = {"POST": [LIFT_PERMISSION]}

    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=40, help_text="O número, em qualquer formato brasileiro.")
        consent_at = serializers.DateTimeField(help_text="Quando o titular deu o novo consentimento.")
        consent_channel = serializers.CharField(
            max_length=100, help_text="Como o consentimento foi dado (ex.: ligação gravada nº 123)."
        )
        justification = serializers.CharField(max_length=2000, help_text="Por que o número volta a receber.")

    class OutputSerializer(serializers.Serializer):
        success = serializers.BooleanField()
        lift_id = serializers.IntegerField()
        previous_reason = serializers.CharField()
        consent_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="billing_suppression_lift",
        tags=["billing"],
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Reativar",
                request_only=True,
                value={
                    "phone": "+5511987654321",
                    "consent_at": "2026-03-05T10:00:00-03:00",
                    "consent_channel": "ligação gravada 2026-0345",
                    "justification": "Titular pediu para voltar a receber lembretes.",
                },
            ),
            VALIDATION_ERROR_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lift = suppression_lift(by=request.user, ip=client_ip(request), **data.validated_data)
        out = {
            "success": True,
            "lift_id": lift.pk,
            "previous_reason": lift.previous_reason,
            "consent_at": lift.consent_at,
        }
        return Response(self.OutputSerializer(out).data, status=status.HTTP_201_CREATED)
