"""Admin helpers shared by the apps: CSV export without formula injection, pretty JSON for read-only
payloads."""

from __future__ import annotations

import csv
import json

from django.http import HttpResponse
from django.utils.html import format_html

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell starting with = + - @ is prefixed with a
    quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def export_csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # BOM so Excel opens UTF-8 accents correctly
    writer = csv.writer(response, delimiter=";")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return response


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;max-width:900px'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )
