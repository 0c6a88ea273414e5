"""Input and output serializers of the REST resources. Output masks personal data for integrators."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from billing.models import Charge, Client, Dispatch
from billing.phones import PhoneError, normalize_phone
from cobranca.masking import MaskedFieldsMixin, mask_document, mask_email, mask_phone


class ApiErrorSerializer(serializers.Serializer):
    """The error shape of every endpoint (cobranca.api.exception_handler)."""

    message = serializers.CharField()
    extra = serializers.DictField()


# --- clients ------------------------------------------------------------------------------------------------


class ClientOutputSerializer(MaskedFieldsMixin, serializers.ModelSerializer):
    masked_fields = {"phone": mask_phone, "document": mask_document, "email": mask_email}

    opted_out = serializers.SerializerMethodField()

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "phone",
            "document",
            "email",
            "external_id",
            "opted_out",
            "opted_out_at",
            "wrong_number",
            "not_on_whatsapp",
            "forgotten_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_opted_out(self, obj: Client) -> bool:
        return obj.opted_out_at is not None


_DOCUMENT_RE = re.compile(r"^(\d{11}|\d{14}|[0-9A-Z]{12}\d{2})$")


class ClientInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=40, help_text="Qualquer formato brasileiro; gravado em E.164.")
    document = serializers.CharField(max_length=18, required=False, allow_blank=True, help_text="CPF ou CNPJ")
    email = serializers.EmailField(required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError("Informe o nome.")
        return value

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone(value)
        except PhoneError as exc:
            raise serializers.ValidationError(f"Telefone inválido: {exc}.") from None

    def validate_document(self, value: str) -> str:
        digits = re.sub(r"[.\-/\s]", "", value or "").upper()
        if digits and not _DOCUMENT_RE.match(digits):
            raise serializers.ValidationError("CPF (11 dígitos) ou CNPJ (14 caracteres) inválido.")
        return digits

    def validate_external_id(self, value: str | None) -> str | None:
        return (value or "").strip() or None


# --- charges ------------------------------------------------------------------------------------------------


class ChargeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Charge
        fields = [
            "id",
            "client",
            "external_id",
            "amount",
            "due_date",
            "description",
            "status",
            "import_batch",
            "paid_at",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ChargeInputSerializer(serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.filter(forgotten_at__isnull=True))
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("9999999999.99")
    )
    due_date = serializers.DateField()
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate_external_id(self, value: str | None) -> str | None:
        return (value or "").strip() or None


class ChargeUpdateSerializer(ChargeInputSerializer):
    """The client of a charge never changes: a wrong client is a cancelled charge plus a new one."""

    client = None  # type: ignore[assignment]


class ChargeMarkPaidSerializer(serializers.Serializer):
    paid_at = serializers.DateTimeField(required=False, help_text="Quando foi paga (padrão: agora).")

    def validate_paid_at(self, value):
        if value and value > timezone.now():
            raise serializers.ValidationError("A data de pagamento não pode estar no futuro.")
        return value


# --- dispatches ------------------------------------------------------------------------------------


class DispatchOutputSerializer(serializers.ModelSerializer):
    """No `body`: the text sent carries the debtor's name and debt (it is in the client's export)."""

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "campaign",
            "charge",
            "client",
            "status",
            "reason",
            "attempts",
            "sent_at",
            "delivered_at",
            "read_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
