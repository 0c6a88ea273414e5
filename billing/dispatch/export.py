"""The campaign export: every dispatch of one or more campaigns as CSV, for the dashboard and the admin.

One format for both (a second copy once drifted and wrote full phone numbers): CSV for Brazilian Excel
(`;`, UTF-8 BOM, dd/mm/aaaa, decimal comma), phones masked (LGPD minimisation: an export leaves the system),
and every text cell neutralised against formula injection. Streamed, so a campaign of 100,000 rows never sits
in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from billing.models import Campaign, Dispatch
from cobranca.admin_utils import csv_safe
from cobranca.masking import mask_phone

HEADER = [
    "envio",
    "cliente",
    "telefone",
    "cobrança",
    "valor",
    "vencimento",
    "situação",
    "motivo",
    "tentativas",
    "enviada em",
    "entregue em",
    "lida em",
    "campanha",
]


def campaign_export_rows(campaigns: QuerySet[Campaign] | Iterable[Campaign]) -> Iterator[list]:
    """One list of display values per dispatch, in the HEADER's order; one query per 2,000 rows."""
    labels = dict(Dispatch.Status.choices)

    def when(value) -> str:
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M:%S") if value else ""

    rows = (
        Dispatch.objects.filter(campaign__in=campaigns)
        .order_by("campaign_id", "pk")
        .values_list(
            "pk",
            "client__name",
            "client__phone",
            "charge__external_id",
            "charge_id",
            "charge__amount",
            "charge__due_date",
            "status",
            "reason",
            "attempts",
            "sent_at",
            "delivered_at",
            "read_at",
            "campaign__name",
        )
        .iterator(chunk_size=2000)
    )
    for pk, name, phone, ext, charge_id, amount, due, status, reason, attempts, sent, got, read, camp in rows:
        yield [
            pk,
            name,
            mask_phone(phone),
            ext or charge_id,
            str(amount).replace(".", ","),
            due.strftime("%d/%m/%Y") if due else "",
            labels.get(status, status),
            reason,
            attempts,
            when(sent),
            when(got),
            when(read),
            camp,
        ]


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def campaign_export_lines(campaigns: QuerySet[Campaign] | Iterable[Campaign]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff"  # BOM so Excel opens UTF-8 accents correctly
    yield writer.writerow(HEADER)
    for row in campaign_export_rows(campaigns):
        yield writer.writerow([csv_safe(value) for value in row])


def campaign_export_response(
    campaigns: QuerySet[Campaign] | Iterable[Campaign], *, filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(campaign_export_lines(campaigns), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
