"""Import data quality (issue #10 item 12): mixed encodings are decoded per row and reported with the row and
byte offset, and one phone with different names in one file is reported per row, in the dry run too."""

from __future__ import annotations

import pytest

from billing.importing import import_file
from billing.models import Client
from billing.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

HEADER = "nome;telefone;valor;vencimento\n"


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


def test_a_utf8_file_with_one_cp1252_byte_keeps_the_utf8_names_and_names_the_row_and_byte(tmp_path):
    ClientFactory(name="João Conceição", phone="+5511987654321")
    line2 = "João Conceição;11987654321;10,00;01/02/2030\n".encode()
    line3 = b"Ana Fran\xe7a;21998765432;20,00;01/02/2030\n"  # one cp1252 byte: the 'ç' Excel wrote
    content = HEADER.encode() + line2 + line3
    path = tmp_path / "misto.csv"
    path.write_bytes(content)

    report = import_file(path_or_file=path)

    assert report.success, report.errors
    assert Client.objects.get(phone="+5511987654321").name == "João Conceição"  # no mojibake
    assert Client.objects.get(phone="+5521998765432").name == "Ana França"
    offset = content.index(b"\xe7")
    [warning] = report.row_warnings
    assert warning["row"] == 3
    assert f"posição {offset}" in warning["message"] and "0xE7" in warning["message"]
    assert any("UTF-8" in w for w in report.warnings)


def test_a_file_all_in_cp1252_is_still_read_as_cp1252_without_row_warnings(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes((HEADER + "Conceição;11987654321;10,00;01/02/2030\n").encode("cp1252"))

    report = import_file(path_or_file=path)

    assert report.success and report.row_warnings == []
    assert Client.objects.get().name == "Conceição"


def _three_names(tmp_path):
    path = tmp_path / "nomes.csv"
    path.write_text(
        HEADER
        + "Ana Souza;11987654321;10,00;01/02/2030\n"
        + "Ana Souza Lima;11987654321;11,00;02/02/2030\n"
        + "ANA  souza;(11) 98765-4321;12,00;03/02/2030\n"
        + "Bruno Dias;11912345678;13,00;04/02/2030\n"
        + "Carla Reis;11912345678;14,00;05/02/2030\n",
        encoding="utf-8",
    )
    return path


def test_one_phone_with_different_names_is_a_row_warning_in_the_dry_run(tmp_path):
    report = import_file(path_or_file=_three_names(tmp_path), dry_run=True)

    assert report.success
    conflicts = [(w["row"], w["field"]) for w in report.row_warnings]
    assert conflicts == [(3, "nome"), (6, "nome")]  # case and spacing alone are not a conflict
    assert "linha 2" in report.row_warnings[0]["message"]


def test_name_conflicts_are_kept_in_the_import_report(tmp_path):
    report = import_file(path_or_file=_three_names(tmp_path))

    assert [w["row"] for w in report.row_warnings] == [3, 6]
    from billing.models import ImportBatch

    stored = ImportBatch.objects.get(pk=report.batch_id).report
    assert [w["row"] for w in stored["row_warnings"]] == [3, 6]
    assert "nome" in report.message
