"""Campaign audiences ("filtros avançados" of the original system): a segment dict → the charges it selects.

    {"min_amount": "100", "max_amount": "1.000,00", "due_from": "2026-01-01", "due_to": "31/01/2026",
     "min_days_overdue": 1, "max_days_overdue": 90, "statuses": ["open", "promised"], "import_batch": 12}

Every key is optional; an empty segment selects every charge. Nothing else is excluded here (suppressed
clients, closed charges…): the dispatch engine applies its skip rules and records why each one was skipped.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from billing.importing.fields import parse_due_date
from billing.models import Charge, ChargeStatus, ImportBatch
from billing.money import parse_brl_amount
from cobranca.exceptions import ApplicationError

SEGMENT_FIELDS = (
    "min_amount",
    "max_amount",
    "due_from",
    "due_to",
    "min_days_overdue",
    "max_days_overdue",
    "statuses",
    "import_batch",
)
_LABELS = {
    "min_amount": "valor mínimo",
    "max_amount": "valor máximo",
    "due_from": "vencimento a partir de",
    "due_to": "vencimento até",
    "min_days_overdue": "mínimo de dias em atraso",
    "max_days_overdue": "máximo de dias em atraso",
    "statuses": "situações",
    "import_batch": "importação",
}


def _error(field: str, message: str) -> ApplicationError:
    return ApplicationError(f"Segmento inválido: {_LABELS.get(field, field)}: {message}", {"field": field})


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _amount(field: str, value) -> Decimal:
    try:
        return parse_brl_amount(str(value) if isinstance(value, float) else value)
    except ValueError as exc:
        raise _error(field, str(exc)) from None


def _date(field: str, value) -> dt.date:
    try:
        return parse_due_date(value)
    except ValueError as exc:
        raise _error(field, str(exc)) from None


def _days(field: str, value) -> int:
    if isinstance(value, bool):
        raise _error(field, "deve ser um número inteiro")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _error(field, "deve ser um número inteiro") from None
    if not 0 <= number <= 36500:
        raise _error(field, "deve estar entre 0 e 36500")
    return number


def _statuses(field: str, value) -> list[str]:
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        raise _error(field, "deve ser uma lista de situações")
    wrong = [s for s in value if s not in set(ChargeStatus.values)]
    if wrong:
        raise _error(field, f"situação desconhecida {wrong[0]!r}; use {', '.join(ChargeStatus.values)}")
    return list(dict.fromkeys(value))


def _import_batch(field: str, value) -> int:
    try:
        batch_id = int(str(value).strip())
    except ValueError:
        raise _error(field, "deve ser o número da importação") from None
    if isinstance(value, bool) or not ImportBatch.objects.filter(pk=batch_id).exists():
        raise _error(field, f"importação {value} não encontrada")
    return batch_id


# How each key of a segment is read; every parser raises ApplicationError naming its field.
_PARSERS = {
    "min_amount": _amount,
    "max_amount": _amount,
    "due_from": _date,
    "due_to": _date,
    "min_days_overdue": _days,
    "max_days_overdue": _days,
    "statuses": _statuses,
    "import_batch": _import_batch,
}


def segment_validate(segment: dict | None) -> dict:
    """Check and convert a segment (values may come as JSON/form strings). Returns a clean dict with Decimal,
    date, int and list values, only for the keys that were given. Raises ApplicationError naming the field."""
    if segment is None:
        return {}
    if not isinstance(segment, dict):
        raise ApplicationError("Segmento inválido: deve ser um objeto JSON.", {"field": "segment"})
    unknown = [key for key in segment if key not in SEGMENT_FIELDS]
    if unknown:
        raise ApplicationError(
            f"Segmento inválido: campo desconhecido {unknown[0]!r}. "
            f"Campos aceitos: {', '.join(SEGMENT_FIELDS)}.",
            {"field": unknown[0]},
        )
    clean: dict = {}
    for field in SEGMENT_FIELDS:
        value = segment.get(field)
        if not _empty(value):
            clean[field] = _PARSERS[field](field, value)
    if not clean.get("statuses", True):
        del clean["statuses"]  # an empty list filters nothing
    _check_range(clean, "min_amount", "max_amount", "o valor mínimo é maior que o máximo")
    _check_range(clean, "due_from", "due_to", "a data inicial é posterior à final")
    _check_range(clean, "min_days_overdue", "max_days_overdue", "o mínimo de dias é maior que o máximo")
    return clean


def _check_range(clean: dict, low: str, high: str, message: str) -> None:
    if low in clean and high in clean and clean[low] > clean[high]:
        raise _error(low, message)


def charges_for_segment(segment: dict | None, *, today: dt.date | None = None) -> QuerySet[Charge]:
    """The charges a segment selects, with their clients (select_related), ordered by due date."""
    clean = segment_validate(segment)
    today = today or timezone.localdate()
    queryset = Charge.objects.select_related("client")
    if "min_amount" in clean:
        queryset = queryset.filter(amount__gte=clean["min_amount"])
    if "max_amount" in clean:
        queryset = queryset.filter(amount__lte=clean["max_amount"])
    if "due_from" in clean:
        queryset = queryset.filter(due_date__gte=clean["due_from"])
    if "due_to" in clean:
        queryset = queryset.filter(due_date__lte=clean["due_to"])
    if clean.get("min_days_overdue"):
        # N days overdue means due on or before today - N (0 selects everything: days overdue is never
        # negative).
        queryset = queryset.filter(due_date__lte=today - dt.timedelta(days=clean["min_days_overdue"]))
    if "max_days_overdue" in clean:
        queryset = queryset.filter(due_date__gte=today - dt.timedelta(days=clean["max_days_overdue"]))
    if "statuses" in clean:
        queryset = queryset.filter(status__in=clean["statuses"])
    if "import_batch" in clean:
        queryset = queryset.filter(import_batch_id=clean["import_batch"])
    return queryset.order_by("due_date", "pk")


def segment_as_json(segment: dict | None) -> dict:
    """The clean segment with JSON-friendly values (for Campaign.segment)."""
    out = {}
    for key, value in segment_validate(segment).items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out


def campaign_audience(*, import_batch_id: int | None = None, segment: dict | None = None) -> QuerySet[Charge]:
    """The charges a campaign with this import batch and/or segment reaches: both filters apply together.

    The one definition of a campaign's audience: `campaign_start` builds its dispatches from it and
    `campaign_validate` counts it. Suppressed clients and closed charges stay in (see the module docstring).
    """
    charges = Charge.objects.all()
    if import_batch_id:
        charges = charges.filter(import_batch_id=import_batch_id)
    if segment:
        charges = charges.filter(pk__in=charges_for_segment(segment).values("pk"))
    return charges
