"""Columns the importer does not know: the operator maps them to fields in the dry run, and the mapping is
remembered per set of headers (ImportColumnMapping) for the next file with the same headers.

A reader hands its header row to `ColumnPlan.resolve`; the plan applies the mapping the caller chose (or, when
it chose none, the one remembered for these headers) and records what it saw, so the report can show every
unknown column with its current field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from billing.models import ImportColumnMapping

from .fields import FIELD_LABELS, field_for_header, normalize_header

# What the mapping select offers, in the order an operator thinks of the columns.
FIELD_CHOICES: tuple[tuple[str, str], ...] = (
    ("name", "nome do devedor"),
    ("phone", "telefone (celular)"),
    ("amount", "valor"),
    ("due_date", "vencimento"),
    ("description", "descrição"),
    ("document", "CPF/CNPJ"),
    ("email", "e-mail"),
    ("id", "id da cobrança"),
)
_KNOWN_FIELDS = {name for name, _ in FIELD_CHOICES}


def header_key(normalised: list[str]) -> str:
    """The identity of a header set: sha256 of its normalised, non-empty names, sorted (the same columns in
    another order are the same spreadsheet for the mapping)."""
    names = sorted({name for name in normalised if name})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def clean_mapping(raw: dict[str, str] | None) -> dict[str, str]:
    """Only normalised column names mapped to known fields (or "": ignore) survive: it comes from a form."""
    cleaned = {}
    for column, target in (raw or {}).items():
        key = normalize_header(column)
        if key and (target in _KNOWN_FIELDS or target == ""):
            cleaned[key] = target
    return cleaned


@dataclass
class ColumnPlan:
    """The caller's mapping for unknown columns (`chosen`; None = use the remembered one), and, once a reader
    resolved the header, what it found: the header's key, the unknown columns and the mapping in force."""

    chosen: dict[str, str] | None = None
    key: str = ""
    columns: list[str] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)
    remembered: bool = False

    def resolve(self, headers: list[object]) -> list[str | None]:
        """The field of each header (None: ignored). Known names win; an unknown name takes the mapped field
        unless a known column already holds that field."""
        normalised = [normalize_header(h) for h in headers]
        self.key = header_key(normalised)
        self.columns = [name for name in normalised if name]
        if self.chosen is None:
            saved = ImportColumnMapping.objects.filter(header_key=self.key).first()
            self.applied = clean_mapping(saved.mapping) if saved else {}
            self.remembered = saved is not None
        else:
            self.applied = clean_mapping(self.chosen)
        fields: list[str | None] = [field_for_header(h) for h in headers]
        taken = {f for f in fields if f}
        for index, (raw, key) in enumerate(zip(headers, normalised, strict=True)):
            if fields[index] or not key:
                continue
            target = self.applied.get(key, "")
            if target and target not in taken:
                fields[index] = target
                taken.add(target)
            else:
                target = ""
            self.unknown.append({"header": str(raw)[:80], "key": key, "field": target})
        return fields

    def as_dict(self) -> dict:
        return {
            "header_key": self.key,
            "unknown": self.unknown,
            "remembered": self.remembered,
            "labels": {name: FIELD_LABELS[name] for name, _ in FIELD_CHOICES},
        }


def column_mapping_remember(*, plan: ColumnPlan, by=None) -> ImportColumnMapping | None:
    """Keep the mapping of a header set's unknown columns for the next file with the same headers. Only the
    columns of this header are stored; a plan without unknown columns stores nothing."""
    if not plan.key or not plan.unknown:
        return None
    mapping = {column["key"]: column["field"] for column in plan.unknown}
    saved, _ = ImportColumnMapping.objects.update_or_create(
        header_key=plan.key,
        defaults={
            "headers": plan.columns,
            "mapping": mapping,
            "updated_by": by if getattr(by, "is_authenticated", False) else None,
        },
    )
    return saved
