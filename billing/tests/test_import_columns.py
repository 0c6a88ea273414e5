"""The forgiving import (issue #13): unknown columns mapped by the operator and remembered per header set,
landlines flagged as row warnings, and the sample spreadsheets the import page offers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from billing.importing import import_file
from billing.importing.columns import header_key
from billing.importing.samples import SAMPLE_HEADERS, sample_csv, sample_xlsx
from billing.models import Charge, Client, ImportColumnMapping
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

# "Cel. do devedor" and "Quanto deve" are nobody's alias: the operator has to say what they are.
ODD_HEADERS = "nome;Cel. do devedor;Quanto deve;vencimento;Observação interna\n"
ODD_ROWS = (
    "Ana Souza;(11) 98765-4321;150,50;15/01/2026;cliente antiga\nBruno Lima;21 99876-5432;80,00;20/01/2026;\n"
)


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


def _csv(tmp_path: Path, text: str, name: str = "devedores.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_missing_required_columns_lists_its_unknown_columns_for_mapping(tmp_path):
    with pytest.raises(ApplicationError) as caught:
        import_file(path_or_file=_csv(tmp_path, ODD_HEADERS + ODD_ROWS), dry_run=True)

    columns = caught.value.extra["columns"]
    assert caught.value.extra["missing_columns"] == ["telefone", "valor"]
    assert [(c["header"], c["key"], c["field"]) for c in columns["unknown"]] == [
        ("Cel. do devedor", "cel_do_devedor", ""),
        ("Quanto deve", "quanto_deve", ""),
        ("Observação interna", "observacao_interna", ""),
    ]
    assert columns["remembered"] is False and len(columns["header_key"]) == 64


def test_the_chosen_mapping_reads_the_unknown_columns_and_a_real_import_remembers_it(
    tmp_path, django_user_model
):
    path = _csv(tmp_path, ODD_HEADERS + ODD_ROWS)
    chosen = {"cel_do_devedor": "phone", "quanto_deve": "amount", "observacao_interna": ""}
    user = django_user_model.objects.create_user("ana")

    dry = import_file(path_or_file=path, dry_run=True, column_map=chosen)
    assert dry.success and dry.imported == 2 and Charge.objects.count() == 0
    assert ImportColumnMapping.objects.count() == 0  # a dry run remembers nothing

    report = import_file(path_or_file=path, column_map=chosen, by=user)

    assert report.success and report.created_charges == 2
    assert Client.objects.get(phone="+5511987654321").charges.get().amount == 150.50
    saved = ImportColumnMapping.objects.get()
    assert saved.mapping == chosen and saved.updated_by == user
    assert saved.header_key == report.columns["header_key"]


def test_the_next_file_with_the_same_headers_in_another_order_gets_the_remembered_mapping(tmp_path):
    import_file(
        path_or_file=_csv(tmp_path, ODD_HEADERS + ODD_ROWS),
        column_map={"cel_do_devedor": "phone", "quanto_deve": "amount", "observacao_interna": ""},
    )
    reordered = (
        "Quanto deve;nome;vencimento;Cel. do devedor;Observação interna\n"
        "99,90;Carla;01/02/2026;31 98888-7777;\n"
    )

    report = import_file(path_or_file=_csv(tmp_path, reordered, "fevereiro.csv"), dry_run=True)

    assert report.success and report.imported == 1
    assert report.columns["remembered"] is True
    assert {c["key"]: c["field"] for c in report.columns["unknown"]} == {
        "quanto_deve": "amount",
        "cel_do_devedor": "phone",
        "observacao_interna": "",
    }


def test_a_mapping_never_takes_a_field_a_known_column_already_holds(tmp_path):
    text = "nome;telefone;valor;vencimento;Outro fone\nAna;11987654321;10,00;15/01/2026;21999998888\n"

    report = import_file(path_or_file=_csv(tmp_path, text), dry_run=True, column_map={"outro_fone": "phone"})

    assert report.columns["unknown"] == [{"header": "Outro fone", "key": "outro_fone", "field": ""}]
    assert report.imported == 1 and "Colunas ignoradas: Outro fone." in report.warnings


def test_a_mapping_from_a_form_keeps_only_known_fields(tmp_path):
    report = import_file(
        path_or_file=_csv(tmp_path, ODD_HEADERS + ODD_ROWS),
        dry_run=True,
        column_map={"cel_do_devedor": "phone", "quanto_deve": "amount", "observacao_interna": "__class__"},
    )
    assert report.success
    assert {c["key"]: c["field"] for c in report.columns["unknown"]}["observacao_interna"] == ""


def test_the_header_key_ignores_order_case_and_accents():
    assert header_key(["nome", "cel_do_devedor"]) == header_key(["cel_do_devedor", "nome", ""])
    assert header_key(["nome"]) != header_key(["nome", "valor"])


def test_a_landline_is_imported_with_a_row_warning_not_an_error(tmp_path):
    text = (
        "nome;telefone;valor;vencimento\n"
        "Ana;(11) 98765-4321;10,00;15/01/2026\n"
        "Loja do Zé;(11) 3333-4444;20,00;15/01/2026\n"
    )

    report = import_file(path_or_file=_csv(tmp_path, text))

    assert report.success and report.imported == 2 and report.rejected == 0
    assert report.landlines == 1
    assert [(w["row"], w["field"], w["value"]) for w in report.row_warnings] == [
        (3, "telefone", "(11) 3333-4444")
    ]
    assert "telefone fixo" in report.row_warnings[0]["message"]
    assert "1 linha(s) com telefone fixo" in report.message
    assert Client.objects.filter(phone="+551133334444").exists()


def test_an_old_mobile_without_the_ninth_digit_is_not_a_landline(tmp_path):
    text = "nome;telefone;valor;vencimento\nAna;(11) 8765-4321;10,00;15/01/2026\n"
    report = import_file(path_or_file=_csv(tmp_path, text), dry_run=True)
    assert report.landlines == 0 and report.row_warnings == []


def test_the_sample_csv_is_excel_pt_br_and_imports_cleanly(tmp_path):
    data = sample_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == ";".join(SAMPLE_HEADERS) and len(lines) == 4
    assert "150,50" in lines[1] and "15/01/2026" in lines[1]
    path = tmp_path / "modelo.csv"
    path.write_bytes(data)

    report = import_file(path_or_file=path, dry_run=True)

    assert report.success and (report.total, report.imported, report.rejected) == (3, 3, 0)
    assert report.warnings == [] and report.row_warnings == [] and report.columns["unknown"] == []


def test_the_sample_xlsx_has_the_same_headers_and_imports_cleanly(tmp_path):
    data = sample_xlsx()
    sheet = load_workbook(io.BytesIO(data)).active
    assert tuple(c.value for c in sheet[1]) == SAMPLE_HEADERS
    assert sheet.max_row == 4
    path = tmp_path / "modelo.xlsx"
    path.write_bytes(data)

    report = import_file(path_or_file=path)

    assert report.success and (report.total, report.imported) == (3, 3)
    assert Charge.objects.get(external_id="FAT-1002").amount == 1234
