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
    existing, warning = report.row_warnings
    assert (existing["row"], existing["field"]) == (2, "telefone")  # João was already a client
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


# --- rows attached to clients already in the database are counted and noted ---------------------------------


def _merging_file(tmp_path):
    ClientFactory(name="Bruno Alves", phone="+5511912340002")
    ClientFactory(name="Maria Antiga", phone="+5511912340003")
    path = tmp_path / "mescla.csv"
    path.write_text(
        HEADER
        + "Ana Nova;11912340001;10,00;01/02/2030\n"
        + "Bruno Alves;11912340002;11,00;02/02/2030\n"
        + "Carla Reis;11912340003;12,00;03/02/2030\n",
        encoding="utf-8",
    )
    return path


def test_rows_matching_existing_clients_are_counted_and_noted_in_the_dry_run(tmp_path):
    report = import_file(path_or_file=_merging_file(tmp_path), dry_run=True)

    assert report.success
    assert (report.created_clients, report.existing_clients) == (1, 2)
    notes = {w["row"]: w for w in report.row_warnings}
    assert sorted(notes) == [3, 4]
    assert notes[3]["field"] == "telefone" and notes[3]["value"] == "+5511*****0002"
    assert "cliente já cadastrado" in notes[3]["message"] and "Bruno" not in notes[3]["message"]
    assert "“Maria Antiga”" in notes[4]["message"] and "“Carla Reis”" in notes[4]["message"]
    assert "2 linha(s) de cliente(s) já cadastrado(s)" in report.message
    assert report.as_dict()["existing_clients"] == 2


def test_the_import_report_keeps_the_existing_clients(tmp_path):
    report = import_file(path_or_file=_merging_file(tmp_path))

    from billing.models import ImportBatch

    stored = ImportBatch.objects.get(pk=report.batch_id).report
    assert stored["existing_clients"] == 2
    assert [w["row"] for w in stored["row_warnings"]] == [3, 4]


def test_rows_of_a_client_created_earlier_in_the_same_file_are_not_existing_clients(tmp_path, monkeypatch):
    from billing.importing import services

    monkeypatch.setattr(services, "CHUNK_SIZE", 1)  # the second row is written in a chunk of its own
    path = tmp_path / "mesmo.csv"
    path.write_text(
        HEADER + "Ana Nova;11912340001;10,00;01/02/2030\nAna Nova;11912340001;11,00;02/02/2030\n",
        encoding="utf-8",
    )
    report = import_file(path_or_file=path)

    assert (report.created_clients, report.existing_clients, report.row_warnings) == (1, 0, [])
