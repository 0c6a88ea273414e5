"""Hostile spreadsheets (issue #10, item 5): ZIP bombs, member floods and XML entities are refused with a
clear 400 before they cost memory."""

from __future__ import annotations

import tracemalloc

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path
from rest_framework.test import APIClient

from billing.importing import import_file
from billing.importing.xlsx import check_xlsx_archive
from billing.models import Charge, ImportBatch
from cobranca.exceptions import ApplicationError
from tests.security import payloads

urlpatterns = [path("api/billing/", include("billing.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("billing.tests.test_import_limits")]


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


@pytest.fixture
def api():
    user = get_user_model().objects.create_user("operador", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def _import_bytes(tmp_path, content: bytes, name: str = "planilha.xlsx"):
    target = tmp_path / name
    target.write_bytes(content)
    return import_file(path_or_file=target)


def test_a_valid_workbook_still_imports(tmp_path):
    report = _import_bytes(tmp_path, payloads.workbook_bytes())

    assert report.success and report.imported == 1


def test_an_xlsx_that_expands_past_the_cap_is_refused_before_it_is_opened(tmp_path, settings):
    settings.XLSX_MAX_UNCOMPRESSED_BYTES = 5 * 1024 * 1024

    with pytest.raises(ApplicationError, match="descompactada") as info:
        _import_bytes(tmp_path, payloads.xlsx_zip_bomb(uncompressed_mb=12))

    assert info.value.extra["code"] == "invalid_file"
    assert info.value.extra["limit_bytes"] == 5 * 1024 * 1024
    assert Charge.objects.count() == 0


def test_a_highly_compressed_shared_strings_table_under_the_total_cap_is_refused(tmp_path):
    # The attacker's file: 3,000,000 `<si><t>a</t></si>`, 51 MB unpacked from ~125 KB (ratio ~400), under
    # the 100 MB total; it took 53 s and 755 MB of worker before the ratio cap.
    content = payloads.xlsx_shared_strings_bomb(3_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ApplicationError, match="compactação") as info:
            _import_bytes(tmp_path, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert info.value.extra["code"] == "invalid_file"
    assert info.value.extra["member"] == "xl/sharedStrings.xml"
    assert peak < 10 * 1024 * 1024
    assert Charge.objects.count() == 0


def test_a_shared_strings_table_past_its_own_cap_is_refused(tmp_path, settings):
    settings.XLSX_MAX_RATIO = 10_000  # only the table's own size cap applies
    settings.XLSX_MAX_SHARED_STRINGS_BYTES = 2 * 1024 * 1024

    with pytest.raises(ApplicationError, match="textos compartilhados") as info:
        _import_bytes(tmp_path, payloads.xlsx_shared_strings_bomb(200_000))

    assert info.value.extra["limit_shared_strings_bytes"] == 2 * 1024 * 1024


def test_a_small_member_is_not_held_to_the_ratio(tmp_path, settings):
    # Under 1 MB a high ratio costs nothing: 20,000 entries are 340 KB at ~300x.
    settings.XLSX_MAX_RATIO = 2
    target = tmp_path / "pequena.xlsx"
    target.write_bytes(payloads.xlsx_shared_strings_bomb(20_000))

    check_xlsx_archive(target)  # does not raise


def test_an_xlsx_with_too_many_members_is_refused(tmp_path, settings):
    settings.XLSX_MAX_MEMBERS = 100

    with pytest.raises(ApplicationError, match="arquivos internos"):
        _import_bytes(tmp_path, payloads.xlsx_with_many_members(150))


def test_a_central_directory_too_large_to_be_a_spreadsheet_is_refused_unread(tmp_path, settings):
    # 20,000 members make a central directory of ~1 MB: zipfile would build 20,000 ZipInfo objects before
    # any count could be checked, so the size in the end record is checked first.
    settings.XLSX_MAX_MEMBERS = 100_000

    with pytest.raises(ApplicationError, match="arquivos internos"):
        _import_bytes(tmp_path, payloads.xlsx_with_many_members(20_000))


@pytest.mark.parametrize(
    "content", [payloads.xlsx_entity_bomb(), payloads.xlsx_external_entity()], ids=["billion-laughs", "xxe"]
)
def test_an_xlsx_with_xml_entities_is_refused(tmp_path, content):
    with pytest.raises(ApplicationError, match="entidades XML") as info:
        _import_bytes(tmp_path, content)

    assert info.value.extra["code"] == "invalid_file"
    assert Charge.objects.count() == 0


def test_a_rejected_bomb_costs_almost_no_memory(tmp_path):
    # The default caps, and the bomb: 400 MB of sheet in a ~1.6 MB file.
    target = tmp_path / "bomba.xlsx"
    target.write_bytes(payloads.xlsx_zip_bomb(uncompressed_mb=400))
    tracemalloc.start()
    try:
        with pytest.raises(ApplicationError):
            import_file(path_or_file=target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 10 * 1024 * 1024


@pytest.mark.parametrize(
    "content",
    [
        payloads.xlsx_entity_bomb(),
        payloads.xlsx_external_entity(),
        payloads.xlsx_with_many_members(20_000),
        payloads.xlsx_shared_strings_bomb(3_000_000),
    ],
    ids=["billion-laughs", "xxe", "members", "shared-strings"],
)
def test_the_api_answers_a_hostile_xlsx_with_a_clean_400(api, content):
    upload = SimpleUploadedFile("planilha.xlsx", content, content_type="application/octet-stream")

    response = api.post("/api/billing/import", {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert response.json()["extra"]["code"] == "invalid_file"
    assert ImportBatch.objects.count() == 0
