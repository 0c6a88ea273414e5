"""What every reader shares: the row tuple they yield, the file-level error, the header mapping."""

from __future__ import annotations

from cobranca.exceptions import ApplicationError

from .columns import ColumnPlan
from .fields import FIELD_LABELS, REQUIRED_FIELDS

RowTuple = tuple[int, "dict[str, object] | None", "str | None"]
# (row, field label, message): something about a row the operator should check, not a reason to reject it.
RowWarnings = list[tuple[int, str, str]]


def _fatal(message: str, **extra: object) -> ApplicationError:
    return ApplicationError(message, {"code": "invalid_file", **extra})


def _map_header(headers: list[object], warnings: list[str], plan: ColumnPlan | None = None) -> dict[int, str]:
    plan = plan if plan is not None else ColumnPlan(chosen={})
    fields = plan.resolve(headers)
    mapping: dict[int, str] = {}
    ignored = []
    for index, header in enumerate(headers):
        field = fields[index]
        if field and field not in mapping.values():
            mapping[index] = field
        elif header not in (None, ""):
            ignored.append(str(header))
    missing = [FIELD_LABELS[f] for f in REQUIRED_FIELDS if f not in mapping.values()]
    if missing:
        found = ", ".join(str(h) for h in headers if h not in (None, "")) or "nenhuma"
        hint = (
            " Ou diga abaixo o que cada coluna não reconhecida contém."
            if plan.unknown
            else " Use cabeçalhos como nome, telefone, valor e vencimento."
        )
        raise _fatal(
            f"Colunas obrigatórias ausentes: {', '.join(missing)}. Colunas encontradas: {found[:300]}.{hint}",
            missing_columns=missing,
            columns=plan.as_dict(),
        )
    if ignored:
        warnings.append(f"Colunas ignoradas: {', '.join(ignored[:20])}.")
    return mapping
