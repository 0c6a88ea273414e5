"""Admin helpers shared by the apps: CSV export without formula injection, pretty JSON for read-only
payloads."""

from __future__ import annotations

import csv
import json

from django.http import HttpResponse
from django.utils.html import format_html

# What a spreadsheet reads as the start of a formula: = + - @ and their full-width forms (East Asian input
# methods turn them into the ASCII ones). Tab, CR and LF are skipped by some spreadsheets before a formula.
_FORMULA_CHARS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_LEADING_BLANKS = " \t\r\n"


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection), the one neutraliser of the project.

    A cell whose first character is a formula character (= + - @ or ＝ ＋ － ＠), a tab, a CR or a LF, or
    whose first non-blank character is a formula character, is prefixed with a quote.
    """
    text = "" if value is None else str(value)
    if not text:
        return text
    stripped = text.lstrip(_LEADING_BLANKS)
    if text[0] in "\t\r\n" or (stripped and stripped[0] in _FORMULA_CHARS):
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
