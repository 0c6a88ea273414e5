"""campaign_send_batch: import or segment, then create and start, as one service the API calls."""

from __future__ import annotations

import pytest

from billing.dispatch.batch import campaign_send_batch, resolve_upload
from billing.models import Campaign, ImportBatch
from billing.tests.dispatch_support import make_charges, plain_template
from billing.tests.factories import MessageTemplateFactory
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

ROW = {
    "id": "FAT-9",
    "name": "Ana Souza",
    "phone": "+5511987650009",
    "amount": "10",
    "due_date": "2030-01-10",
}


def test_an_inline_list_is_imported_then_the_campaign_is_created_and_started():
    result = campaign_send_batch(template=plain_template(), clients=[ROW])
    assert result.import_report["imported"] == 1
    campaign = result.campaign
    assert campaign.status == Campaign.Status.RUNNING and campaign.total == 1
    assert campaign.import_batch_id == ImportBatch.objects.get().pk


def test_a_segment_starts_without_importing():
    make_charges(2)
    result = campaign_send_batch(template=plain_template(), segment={"statuses": ["open"]})
    assert result.import_report is None and result.campaign.total == 2
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize("audiences", [{}, {"clients": [ROW], "segment": {"statuses": ["open"]}}])
def test_exactly_one_audience_is_accepted(audiences):
    with pytest.raises(ApplicationError, match="exatamente um"):
        campaign_send_batch(template=plain_template(), **audiences)
    assert not Campaign.objects.exists() and not ImportBatch.objects.exists()


def test_a_start_refused_for_unconfirmed_warnings_keeps_the_import_and_the_draft():
    template = MessageTemplateFactory(name="ameaca", body="Pague {amount} ou vamos processar você.")
    with pytest.raises(ApplicationError, match="conformidade"):
        campaign_send_batch(template=template, clients=[ROW])
    assert Campaign.objects.get().status == Campaign.Status.DRAFT
    assert ImportBatch.objects.count() == 1


def test_a_file_outside_the_uploads_folder_is_refused_before_anything_is_written(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path
    with pytest.raises(ApplicationError, match="Arquivo inválido"):
        campaign_send_batch(template=plain_template(), clients_file="../etc/passwd")
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("name", ["rejected/2.csv", "sub/clientes.json", "./clientes.json", "sub/"])
def test_a_name_with_a_path_separator_is_refused_even_inside_the_uploads_folder(settings, tmp_path, name):
    # The attacker read uploads/rejected/2.csv (another import's rejected rows) although only a bare file name
    # is allowed.
    settings.UPLOADS_DIR = tmp_path
    for folder in ("rejected", "sub"):
        (tmp_path / folder).mkdir()
    (tmp_path / "rejected" / "2.csv").write_text("id;nome;telefone\n", encoding="utf-8")
    (tmp_path / "sub" / "clientes.json").write_text("[]", encoding="utf-8")
    (tmp_path / "clientes.json").write_text("[]", encoding="utf-8")

    with pytest.raises(ApplicationError, match="Arquivo inválido"):
        resolve_upload(name)
    with pytest.raises(ApplicationError, match="Arquivo inválido"):
        campaign_send_batch(template=plain_template(), clients_file=name)
    assert not Campaign.objects.exists() and not ImportBatch.objects.exists()


def test_a_bare_file_name_in_the_uploads_folder_is_read(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path
    (tmp_path / "clientes.json").write_text("[]", encoding="utf-8")

    assert resolve_upload("clientes.json") == (tmp_path / "clientes.json").resolve()
