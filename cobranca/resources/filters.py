"""django-filter FilterSets. Every lookup is an ORM parameter (never raw SQL) and ordering is a whitelist."""

from __future__ import annotations

import re

import django_filters
from django.db.models import QuerySet

from billing.models import Charge, Client, Dispatch
from billing.phones import PhoneError, normalize_phone

_MAX_ID = (
    2**63 - 1
)  # SQLite/PostgreSQL bigint: a larger number would raise OverflowError (a 500) in the query


def _id_filter(field_name: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(
        field_name=field_name, min_value=1, max_value=_MAX_ID, decimal_places=0
    )


class ClientFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=200, help_text="Parte do nome")
    phone = django_filters.CharFilter(
        method="filter_phone", max_length=40, help_text="Telefone (qualquer formato)"
    )
    document = django_filters.CharFilter(method="filter_document", max_length=18, help_text="CPF/CNPJ exato")
    external_id = django_filters.CharFilter(max_length=100)
    opted_out = django_filters.BooleanFilter(method="filter_opted_out", help_text="Descadastrado")
    wrong_number = django_filters.BooleanFilter()
    not_on_whatsapp = django_filters.BooleanFilter()
    forgotten = django_filters.BooleanFilter(method="filter_forgotten", help_text="Anonimizado (LGPD)")
    ordering = django_filters.OrderingFilter(fields=("name", "created_at", "updated_at", "id"))

    class Meta:
        model = Client
        fields: list[str] = []

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            return queryset.filter(phone=normalize_phone(value))
        except PhoneError:
            return queryset.none()

    def filter_document(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        digits = re.sub(r"[.\-/\s]", "", value).upper()
        return queryset.filter(document__in={value.strip(), digits}) if digits else queryset.none()

    def filter_opted_out(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(opted_out_at__isnull=not value)

    def filter_forgotten(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(forgotten_at__isnull=not value)


class ChargeFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Charge.Status.choices)
    client = _id_filter("client_id")
    import_batch = _id_filter("import_batch_id")
    external_id = django_filters.CharFilter(max_length=100)
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte", help_text="Vencimento ≥")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", help_text="Vencimento ≤")
    amount_min = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", min_value=0, max_digits=12, decimal_places=2
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", min_value=0, max_digits=12, decimal_places=2
    )
    ordering = django_filters.OrderingFilter(fields=("due_date", "amount", "status", "created_at", "id"))

    class Meta:
        model = Charge
        fields: list[str] = []


class DispatchFilter(django_filters.FilterSet):
    campaign = _id_filter("campaign_id")
    client = _id_filter("client_id")
    charge = _id_filter("charge_id")
    status = django_filters.MultipleChoiceFilter(choices=Dispatch.Status.choices)
    sent_after = django_filters.IsoDateTimeFilter(field_name="sent_at", lookup_expr="gte")
    sent_before = django_filters.IsoDateTimeFilter(field_name="sent_at", lookup_expr="lte")
    ordering = django_filters.OrderingFilter(fields=("id", "sent_at", "status"))

    class Meta:
        model = Dispatch
        fields: list[str] = []
