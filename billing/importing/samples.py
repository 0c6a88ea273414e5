"""The sample spreadsheet an operator downloads from the import page: the accepted headers and three example
rows, as CSV in the dialect Excel in pt-BR writes and opens with a double click (';', UTF-8 with BOM, dates
dd/mm/aaaa, amounts with a decimal comma) and as XLSX (date cells, the phone as text so Excel keeps its
digits)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

# The first alias of each field the importer knows, in pt-BR (billing.importing.fields.FIELD_ALIASES).
SAMPLE_HEADERS = ("id", "nome", "telefone", "valor", "vencimento", "descricao", "cpf_cnpj", "email")
# Fictitious debtors: 529.982.247-25 and 11.222.333/0001-81 are the well-known valid test documents.
SAMPLE_ROWS = (
    ("FAT-1001", "Ana Souza", "(11) 98765-4321", Decimal("150.50"), dt.date(2026, 1, 15),
     "Mensalidade de janeiro", "529.982.247-25", "ana@example.com"),
    ("FAT-1002", "Bruno Lima", "21 99876-5432", Decimal("1234.00"), dt.date(2026, 2, 10),
     "Parcela 2 de 3", "", ""),
    ("FAT-1003", "Padaria Sol Ltda", "+55 31 98888-7777", Decimal("89.90"), dt.date(2026, 3, 5),
     "Serviço de manutenção", "11.222.333/0001-81", "contato@example.com"),
)  # fmt: skip


def _brl(amount: Decimal) -> str:
    whole, cents = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def sample_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(SAMPLE_HEADERS)
    for row in SAMPLE_ROWS:
        ident, name, phone, amount, due, description, document, email = row
        writer.writerow((ident, name, phone, _brl(amount), f"{due:%d/%m/%Y}", description, document, email))
    return buffer.getvalue().encode("utf-8-sig")


def sample_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "devedores"
    sheet.append(SAMPLE_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in SAMPLE_ROWS:
        sheet.append(list(row))
        current = sheet.max_row
        sheet.cell(current, 3).number_format = "@"  # text: Excel would turn a long number into 5,51E+12
        sheet.cell(current, 4).number_format = "#,##0.00"
        sheet.cell(current, 5).number_format = "DD/MM/YYYY"
    for letter, width in zip("ABCDEFGH", (12, 20, 20, 12, 13, 26, 20, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
