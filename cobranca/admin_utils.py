"""Admin helpers shared by the apps: CSV export without formula injection, pretty JSON for read-only
payloads."""

from __future__ import annotations

import csv
import unicodedata

from django.http import HttpResponse
from django.utils.html import format_html, format_html_join

# What a spreadsheet reads as the start of a formula: = + - @ and their full-width forms (East Asian input
# methods turn them into the ASCII ones). Tab, CR and LF are skipped by some spreadsheets before a formula.
_FORMULA_CHARS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def _blank(char: str) -> bool:
    """Blank for the formula check: every Unicode whitespace (NBSP, vertical tab, form feed, the separators
    U+001C-U+001F, the ideographic space, …) and every invisible format character (category Cf: zero-width
    spaces and joiners, BOM, bidi marks), which a spreadsheet may skip or never show before a formula."""
    return char.isspace() or unicodedata.category(char) == "Cf"


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection), the one neutraliser of the project.

    A cell whose first character is a formula character (= + - @ or ＝ ＋ － ＠), a tab, a CR or a LF, or
    whose first non-blank character (`_blank`: Unicode whitespace and format characters) is a formula
    character, is prefixed with a quote.
    """
    text = "" if value is None else str(value)
    if not text:
        return text
    if text[0] in "\t\r\n":
        return "'" + text
    first = next((char for char in text if not _blank(char)), "")
    if first in _FORMULA_CHARS:
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


# pt-BR headings for the keys the apps' JSON reports use; any other key is shown as it is.
REPORT_LABELS = {
    "errors": "erros",
    "warnings": "avisos",
    "row": "linha",
    "field": "campo",
    "message": "mensagem",
    "value": "valor",
    "imported": "importadas",
    "created": "criadas",
    "updated": "atualizadas",
    "skipped": "ignoradas",
    "rejected": "rejeitadas",
    "total": "total",
    "total_rows": "linhas",
    "valid_rows": "linhas válidas",
    "clients": "clientes",
    "charges": "cobranças",
    "duplicates": "duplicadas",
    "reason": "motivo",
    "phone": "telefone",
    "name": "nome",
    "amount": "valor",
    "due_date": "vencimento",
    "external_id": "referência",
    "description": "descrição",
}


def _label(key) -> str:
    return REPORT_LABELS.get(str(key), str(key))


def json_table(value) -> str:
    """A JSON report as HTML tables (escaped, no inline style: the admin's CSP forbids it): an object is a
    two-column table, a list of objects a table with one column per key, a list of scalars a list."""
    if isinstance(value, dict):
        if not value:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td></tr>",
            ((_label(k), json_table(v)) for k, v in value.items()),
        )
        return format_html("<table class='json-report'><tbody>{}</tbody></table>", rows)
    if isinstance(value, list):
        if not value:
            return "—"
        if all(isinstance(item, dict) for item in value):
            columns = list(dict.fromkeys(k for item in value for k in item))
            head = format_html_join("", "<th scope='col'>{}</th>", ((_label(c),) for c in columns))
            body = format_html_join(
                "",
                "<tr>{}</tr>",
                (
                    (format_html_join("", "<td>{}</td>", ((json_table(item.get(c, "")),) for c in columns)),)
                    for item in value
                ),
            )
            return format_html(
                "<table class='json-report'><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body
            )
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((json_table(i),) for i in value))
        )
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "sim" if value else "não"
    return format_html("{}", value)
