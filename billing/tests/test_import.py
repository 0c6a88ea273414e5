from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import Workbook

from billing.importing import import_file
from billing.importing.fields import normalize_document, parse_due_date
from billing.models import Charge, Client, ImportBatch
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.admin_utils import csv_safe
from cobranca.exceptions import ApplicationError

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


def write_json(tmp_path: Path, rows: list, name: str = "clientes.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def row(**overrides) -> dict:
    base = {
        "id": "1",
        "name": "Ana Souza",
        "phone": "11987654321",
        "amount": "150,50",
        "due_date": "15/01/2026",
        "description": "Mensalidade",
    }
    base.update(overrides)
    return base


# --- formats and encodings
# ---------------------------------------------------------------------------------------


def test_it_imports_the_original_json_shape():
    report = import_file(path_or_file=FIXTURES / "clientes.json")

    assert report.success and report.file_format == "json"
    assert (report.total, report.imported, report.created_clients, report.created_charges) == (3, 3, 2, 3)
    joao = Client.objects.get(phone="+5511987654321")
    assert joao.charges.count() == 2  # rows sharing a phone are one client with two charges
    maria = Client.objects.get(phone="+5521998765432")
    assert maria.document == "52998224725" and maria.email == "maria@example.com"
    charge = Charge.objects.get(external_id="002")
    assert charge.amount == Decimal("1234.56") and charge.due_date == dt.date(2026, 2, 15)
    assert charge.import_batch_id == report.batch_id


def test_it_reads_an_excel_csv_in_cp1252_with_semicolons_and_portuguese_headers():
    report = import_file(path_or_file=FIXTURES / "clientes_cp1252_ponto_e_virgula.csv")

    assert report.success, report.errors
    assert report.file_format == "csv" and report.imported == 3
    first = Charge.objects.get(external_id="A-001")
    assert first.client.name == "João da Conceição"
    assert first.description == "Mensalidade março"
    assert first.amount == Decimal("1234.56")
    assert first.client.document == "52998224725"
    assert Charge.objects.get(external_id="A-002").due_date == dt.date(2026, 2, 5)  # dd/mm/aa
    assert Charge.objects.get(external_id="A-002").client.phone == "+552133334444"  # landline
    assert Charge.objects.get(external_id="A-003").client.phone == "+5531998883193"  # 9th digit added


def test_it_reads_a_utf8_csv_with_bom_and_commas():
    report = import_file(path_or_file=FIXTURES / "clientes_utf8_bom_virgula.csv")

    assert report.success, report.errors
    charge = Charge.objects.get(external_id="B-001")
    assert charge.client.name == "Márcia Gonçalves"
    assert charge.description == "Plano anual, parcela 1"
    assert charge.amount == Decimal("1234.56")


def test_it_reads_a_tab_separated_file_with_carrier_prefixes_and_a_cnpj():
    report = import_file(path_or_file=FIXTURES / "clientes_tab.txt")

    assert report.success, report.errors
    padaria = Charge.objects.get(external_id="C-001")
    assert padaria.client.phone == "+5511988887777"
    assert padaria.client.document == "11222333000181"
    assert Charge.objects.get(external_id="C-002").client.phone == "+5511977776666"
    assert Charge.objects.get(external_id="C-002").amount == Decimal("12.50")


def test_it_reads_an_xlsx_with_date_cells_serials_and_numeric_phones(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Código", "Nome", "Telefone", "Valor", "Vencimento", "CPF"])
    sheet.append(["X-1", "Carla Dias", 11987654321, 150.5, dt.datetime(2026, 1, 15), 52998224725])
    sheet.append(["X-2", "Davi Reis", "(21) 99876-5432", "R$ 1.234,56", 46037, None])  # serial = 2026-01-15
    sheet.append([None, None, None, None, None, None])  # blank row: skipped
    sheet.append(["X-3", "Edu Lima", "garbage", 10, "15/01/2026", None])
    path = tmp_path / "planilha.xlsx"
    workbook.save(path)

    report = import_file(path_or_file=path, skip_invalid=True)

    assert report.file_format == "xlsx"
    assert report.imported == 2 and report.rejected == 1
    assert report.errors == [
        {"row": 5, "field": "telefone", "value": "garbage", "message": "telefone inválido"}
    ]
    carla = Charge.objects.get(external_id="X-1")
    assert carla.amount == Decimal("150.50") and carla.due_date == dt.date(2026, 1, 15)
    assert carla.client.phone == "+5511987654321" and carla.client.document == "52998224725"
    assert Charge.objects.get(external_id="X-2").due_date == dt.date(2026, 1, 15)


def test_it_detects_the_format_by_content_when_the_extension_lies(tmp_path):
    path = tmp_path / "dados.txt"
    path.write_text(json.dumps([row()]), encoding="utf-8")

    report = import_file(path_or_file=path)

    assert report.file_format == "json" and report.imported == 1


def test_it_accepts_a_file_object_like_an_upload(tmp_path):
    content = "nome;telefone;valor;vencimento\nAna;11987654321;10,00;01/02/2026\n".encode("cp1252")

    report = import_file(path_or_file=io.BytesIO(content), filename="upload.csv")

    assert report.success and report.filename == "upload.csv" and report.imported == 1


# --- field rules
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15/01/2026", dt.date(2026, 1, 15)),
        ("5/1/2026", dt.date(2026, 1, 5)),
        ("15/01/26", dt.date(2026, 1, 15)),
        ("2026-01-15", dt.date(2026, 1, 15)),
        ("2026-01-15T10:00:00", dt.date(2026, 1, 15)),
        ("15.01.2026", dt.date(2026, 1, 15)),
        (dt.datetime(2026, 1, 15, 8, 0), dt.date(2026, 1, 15)),
    ],
)
def test_it_parses_brazilian_and_iso_dates(raw, expected):
    assert parse_due_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/2026", "2026-13-01", "amanhã", "01/15/2026", 45000, "", "15/01/1800"])
def test_it_rejects_dates_that_do_not_exist_or_are_not_text(raw):
    with pytest.raises(ValueError):
        parse_due_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("529.982.247-25", "52998224725"),
        (52998224725, "52998224725"),
        ("12345678900", None),  # invalid as CPF and as CNPJ
        ("11.222.333/0001-81", "11222333000181"),
        ("1222333000128", "01222333000128"),  # Excel dropped the leading zero of a CNPJ
        (1222333000128, "01222333000128"),
        ("191", "00000000191"),  # short numbers try CPF first (000.000.001-91 is a valid CPF)
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),  # alphanumeric CNPJ
        ("", ""),
        (None, ""),
    ],
)
def test_it_checks_cpf_and_cnpj_digits_and_pads_lost_zeros(raw, expected):
    if expected is None:
        with pytest.raises(ValueError, match="dígito verificador"):
            normalize_document(raw)
    else:
        assert normalize_document(raw) == expected


def test_each_error_names_the_row_the_field_the_value_and_why(tmp_path):
    report = import_file(path_or_file=FIXTURES / "clientes_invalidos.json")

    assert not report.success
    assert report.rejected == 2 and report.imported == 0
    assert {"row": 1, "field": "nome", "value": "", "message": "nome ausente"} in report.errors
    assert {"row": 1, "field": "valor", "value": "-10,00", "message": "valor negativo"} in report.errors
    assert {
        "row": 1,
        "field": "vencimento",
        "value": "31/02/2026",
        "message": "data inexistente",
    } in report.errors
    phone_error = next(e for e in report.errors if e["field"] == "telefone")
    assert phone_error["row"] == 1 and "notação científica" in phone_error["message"]
    assert {
        "row": 3,
        "field": "id",
        "value": "X2",
        "message": "id repetido no arquivo (já usado na linha 2)",
    } in report.errors


def test_csv_errors_use_the_spreadsheet_line_number_including_the_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "nome;telefone;valor;vencimento\nAna;11987654321;10,00;01/02/2026\nBia;11987654322;0;01/02/2026\n",
        encoding="utf-8",
    )

    report = import_file(path_or_file=path)

    assert report.errors == [
        {"row": 3, "field": "valor", "value": "0", "message": "valor deve ser maior que zero"}
    ]


# --- atomicity, skip-invalid, rejected CSV
# -------------------------------------------------------------------------


def test_one_invalid_row_imports_nothing_by_default(tmp_path):
    path = write_json(tmp_path, [row(id="1"), row(id="2", phone="123")])

    report = import_file(path_or_file=path)

    assert not report.success and report.imported == 0
    assert Charge.objects.count() == 0 and Client.objects.count() == 0
    batch = ImportBatch.objects.get(pk=report.batch_id)
    assert batch.imported_rows == 0 and batch.rejected_rows == 1
    assert batch.report["errors"][0]["row"] == 2
    assert "Nenhuma linha foi importada" in report.message


def test_skip_invalid_imports_the_valid_rows_and_saves_the_rejected_ones_as_csv(tmp_path):
    path = write_json(tmp_path, [row(id="1"), row(id="2", phone="123", name='=HYPERLINK("x")')])

    report = import_file(path_or_file=path, skip_invalid=True)

    assert report.success and report.imported == 1 and report.rejected == 1
    assert Charge.objects.filter(external_id="1").exists()
    assert not Charge.objects.filter(external_id="2").exists()
    content = Path(report.rejected_csv_path).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(content), delimiter=";"))
    assert lines[0][0] == "linha" and lines[0][-1] == "motivo"
    assert lines[1][0] == "2" and lines[1][2] == '\'=HYPERLINK("x")'  # formula neutralised
    assert "telefone" in lines[1][-1]


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "\t=1+1",
        "\r=cmd|' /C calc'!A0",
        "\n=1+1",
        " =1+1",
        # Full-width forms: spreadsheets with an East Asian input method turn them into = + - @.
        "\uff1d1+1",
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        ' \uff1dHYPERLINK("http://x")',
        # Any Unicode blank or invisible format character before the formula (second outside test): NBSP,
        # vertical tab, form feed, the information separators, the ideographic space, zero-width ones, BOM.
        "\u00a0=1+1",
        "\x0b=1+1",
        "\x0c+1",
        "\x1c=1+1",
        "\x1d-1",
        "\x1e@SUM(A1)",
        "\x1f=1+1",
        "\u3000=1+1",
        "\u200b=1+1",
        "\u200b\u00a0\u3000\ufeff\u2060=1+1",
        "\u202e\uff1d1+1",
        "\u2028=1+1",
        "\x85=1+1",
    ],
)
def test_csv_export_cells_that_look_like_formulas_get_a_quote(value):
    assert csv_safe(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["Maria", "R$ 150,00", "150.50", "a=b", "x-y", "e-mail@x.com", "", " ", "\u00a0Maria", "\u200b"]
)
def test_csv_export_leaves_ordinary_cells_alone(value):
    assert csv_safe(value) == value


def test_a_dry_run_reports_exact_counts_and_writes_nothing(tmp_path):
    ChargeFactory(external_id="1")
    path = write_json(tmp_path, [row(id="1"), row(id="2", phone="21987654321")])

    report = import_file(path_or_file=path, dry_run=True)

    assert report.success and report.dry_run and report.batch_id is None
    assert (report.created_charges, report.updated_charges, report.created_clients) == (1, 1, 2)
    assert Charge.objects.count() == 1 and ImportBatch.objects.count() == 0
    assert report.message.startswith("Simulação")


# --- identity and upsert
# -----------------------------------------------------------------------------------------


def test_reimport_updates_amounts_and_due_dates_without_duplicating(tmp_path):
    import_file(path_or_file=write_json(tmp_path, [row(id="1"), row(id="2", description="Outra")]))

    report = import_file(
        path_or_file=write_json(
            tmp_path,
            [row(id="1", amount="200,00", due_date="20/02/2026"), row(id="2", description="Outra")],
            "b.json",
        )
    )

    assert report.success
    # Row 2 is what is stored already: attached to this import, not counted as updated.
    assert (report.created_charges, report.updated_charges, report.created_clients) == (0, 1, 0)
    assert report.unchanged_charges == 1
    assert Charge.objects.get(external_id="2").import_batch_id == report.batch_id
    assert Charge.objects.count() == 2 and Client.objects.count() == 1
    charge = Charge.objects.get(external_id="1")
    assert charge.amount == Decimal("200.00") and charge.due_date == dt.date(2026, 2, 20)
    assert charge.import_batch_id == report.batch_id


def test_rows_without_id_are_idempotent_on_reimport(tmp_path):
    rows = [{k: v for k, v in row().items() if k != "id"}]
    import_file(path_or_file=write_json(tmp_path, rows))
    report = import_file(path_or_file=write_json(tmp_path, rows, "again.json"))

    assert report.updated_charges == 0 and report.unchanged_charges == 1 and Charge.objects.count() == 1


def test_suppression_survives_a_reimport(tmp_path):
    opted_out = ClientFactory(phone="+5511987654321", opted_out_at=timezone.now())
    wrong = ClientFactory(phone="+5511987654322", wrong_number=True)

    import_file(
        path_or_file=write_json(tmp_path, [row(id="1", name="Novo Nome"), row(id="2", phone="11987654322")])
    )

    opted_out.refresh_from_db()
    wrong.refresh_from_db()
    assert opted_out.opted_out_at is not None and opted_out.name == "Novo Nome"
    assert wrong.wrong_number is True


def test_paid_and_cancelled_charges_are_not_reopened(tmp_path):
    paid = ChargeFactory(external_id="1", status=Charge.Status.PAID, amount=Decimal("10.00"))

    report = import_file(path_or_file=write_json(tmp_path, [row(id="1", amount="999,00")]))

    paid.refresh_from_db()
    assert paid.status == Charge.Status.PAID and paid.amount == Decimal("10.00")
    assert report.unchanged_closed_charges == 1 and report.updated_charges == 0


def test_a_phone_that_belongs_to_another_cpf_is_rejected(tmp_path):
    ClientFactory(phone="+5511987654321", document="52998224725")

    report = import_file(path_or_file=write_json(tmp_path, [row(id="1", cpf="11144477735")]))

    assert not report.success and Charge.objects.count() == 0
    assert report.errors[0]["field"] == "documento" and report.errors[0]["row"] == 1


def test_duplicate_rows_without_id_are_reported(tmp_path):
    base = {k: v for k, v in row().items() if k != "id"}

    report = import_file(path_or_file=write_json(tmp_path, [base, dict(base)]))

    assert report.errors[0]["row"] == 2 and "duplicada" in report.errors[0]["message"]


# --- bad files
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "a.json", "vazio"),
        (b"   ", "a.json", "vazio"),
        (b"not json at all", "a.json", "JSON"),
        (b'[{"id": "1", "name": "Ana", "phone": "11987654321"', "a.json", "truncado"),
        (b'{"clients": []}', "a.json", "lista"),
        (b"[]", "a.json", "nenhuma linha"),
        (b"foo;bar\n1;2\n", "a.csv", "Colunas obrigatórias ausentes"),
        (b"nome;telefone;valor;vencimento\n", "a.csv", "nenhuma linha"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a.xls", ".xls"),
        (b"PK\x03\x04garbage", "a.xlsx", "XLSX"),
        (b"\x00\x01\x02\x03binary\x00\x00\xff", "a.csv", "bytes nulos"),
        (b"[" + b"1" * 400 + b"]", "a.json", "objeto"),
    ],
)
def test_a_bad_file_gets_a_clear_error_and_imports_nothing(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)

    try:
        report = import_file(path_or_file=path)
    except ApplicationError as exc:
        assert message in exc.message
    else:  # row-level problems come back in the report
        assert not report.success and message in report.errors[0]["message"]
    assert Charge.objects.count() == 0


def test_a_single_ten_megabyte_line_is_rejected_cleanly(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"nome;telefone;valor;vencimento\n" + b"x" * 10_000_000)

    with pytest.raises(ApplicationError, match="grande demais"):
        import_file(path_or_file=path)


def test_json_with_wrong_types_and_huge_numbers_reports_rows(tmp_path):
    path = write_json(
        tmp_path, [row(id="1", amount=True), row(id="2", name=["x"]), row(id="3", amount=1e300)]
    )
    path.write_text(path.read_text().replace("1e+300", "1" + "0" * 400))

    report = import_file(path_or_file=path)

    fields = {(e["row"], e["field"]) for e in report.errors}
    assert fields == {(1, "valor"), (2, "nome"), (3, "valor")}


def test_a_latin1_file_that_is_not_cp1252_still_reads(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(
        "nome;telefone;valor;vencimento\nJoão\x81;11987654321;10,00;01/02/2026\n".encode("latin-1")
    )

    report = import_file(path_or_file=path)

    assert report.success and Client.objects.get().name.startswith("João")


def test_it_reads_excel_unicode_text_in_utf16_with_tabs(tmp_path):
    path = tmp_path / "unicode.txt"
    text = "nome\ttelefone\tvalor\tvencimento\r\nÍris\t11987654321\t10,00\t01/02/2026\r\n"
    path.write_bytes(text.encode("utf-16"))

    report = import_file(path_or_file=path)

    assert report.success and Client.objects.get().name == "Íris"


def test_the_importer_keeps_the_search_name(tmp_path):
    """Clients written by the importer's SQL (not save()) are found by the accent-free Devedores search."""
    assert import_file(path_or_file=write_json(tmp_path, [row(name="Cláudia Simões")])).success
    assert Client.objects.get(phone="+5511987654321").search_name == "claudia simoes"
    renamed = write_json(tmp_path, [row(name="Conceição Simões")], name="de-novo.json")
    assert import_file(path_or_file=renamed).success
    assert Client.objects.get(phone="+5511987654321").search_name == "conceicao simoes"


def test_revalidating_the_identical_file_reports_no_update_for_a_charge_in_negotiation(tmp_path):
    path = write_json(tmp_path, [row(id="1"), row(id="2", description="Outra")])
    import_file(path_or_file=path)
    Charge.objects.filter(external_id="1").update(status=Charge.Status.NEGOTIATING)

    report = import_file(path_or_file=path, dry_run=True)

    assert (report.created_charges, report.updated_charges, report.unchanged_charges) == (0, 0, 2)
    assert "0 atualizada(s)" in report.message and "2 cobrança(s) já estava(m) igual(is)" in report.message
    changed = import_file(
        path_or_file=write_json(tmp_path, [row(id="1", amount="99,00")], "c.json"), dry_run=True
    )
    assert (changed.updated_charges, changed.unchanged_charges) == (1, 0)
