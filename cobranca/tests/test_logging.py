from __future__ import annotations

import json
import logging

import pytest
from loguru import logger

from cobranca.logging import configure_logging
from cobranca.masking import mask_chat_id, mask_document, mask_phone, mask_text


def test_it_masks_a_phone_keeping_area_code_and_last_digits():
    assert mask_phone("+5511987654321") == "+5511*****4321"
    assert mask_phone("5511987654321") == "5511*****4321"
    assert mask_chat_id("5511987654321@c.us") == "5511*****4321@c.us"


def test_it_masks_documents():
    assert mask_document("123.456.789-09") == "123******09"
    assert "456" not in mask_document("12.345.678/0001-95")


def test_free_text_loses_phones_documents_and_bodies():
    line = (
        "sent to 5511987654321@c.us phone=+5521998765432 cpf 123.456.789-09 cnpj 12.345.678/0001-95 "
        'tel (11) 98765-4321 body="ja paguei ontem" {"text": "meu cpf 12345678909"}'
    )
    masked = mask_text(line)
    for secret in ("987654321", "998765432", "456.789", "345.678", "98765-4321", "ja paguei", "12345678909"):
        assert secret not in masked
    assert "5511*****4321@c.us" in masked


def test_every_sink_gets_masked_lines_including_standard_logging(tmp_path, settings):
    log_file = tmp_path / "app.log"
    configure_logging(level="INFO", log_file=str(log_file), force=True)
    try:
        logger.info("dispatch sent to {} text={!r}", "+5511987654321", "sua fatura vence hoje")
        logging.getLogger("django.request").warning("Bad request from 5531991234567@c.us cpf 123.456.789-09")
        logger.bind(phone="+5541988887777").info("bound extra")
        logger.complete()
        records = [json.loads(line) for line in log_file.read_text().splitlines()]
    finally:
        configure_logging(force=True)
    assert len(records) == 3
    dumped = log_file.read_text()
    for secret in ("987654321", "991234567", "456.789", "988887777", "sua fatura vence hoje"):
        assert secret not in dumped
    assert records[0]["record"]["message"].startswith("dispatch sent to +5511*****4321")
    assert records[1]["record"]["level"]["name"] == "WARNING"


def test_file_sink_is_json_rotated_kept_and_compressed(tmp_path, monkeypatch):
    import cobranca.logging as project_logging

    calls = []
    real_add = project_logging.logger.add

    def recording_add(sink, **kwargs):
        calls.append((sink, kwargs))
        return real_add(sink, **kwargs)

    monkeypatch.setattr(project_logging.logger, "add", recording_add)
    try:
        configure_logging(level="INFO", log_file=str(tmp_path / "app.log"), force=True)
    finally:
        monkeypatch.undo()
        configure_logging(force=True)
    file_sinks = [kwargs for sink, kwargs in calls if sink == str(tmp_path / "app.log")]
    assert len(file_sinks) == 1
    options = file_sinks[0]
    assert (options["rotation"], options["retention"], options["compression"]) == ("10 MB", "30 days", "zip")
    assert options["serialize"] is True and options["diagnose"] is False


# --- issue #10, item 10: every phone form the importer accepts, and ids that embed a number ---------------

IMPORTER_PHONE_FORMS = [
    "(11) 98765-4321",
    "11987654321",
    "+55 11 98765-4321",
    "+55 (11) 98765-4321",
    "5511987654321",
    "+5511987654321",
    "0 21 11 98765-4321",
    "011987654321",
    "0xx11 98765-4321",
    "11.98765.4321",
    "11 9.8765-4321",
    "11/98765/4321",
    "(11)98765\u00a04321",
    "11\t98765-4321",
    "55 31 9888-3193",
    "3198883193",
    "(11) 3333-4444",
]


@pytest.mark.parametrize("raw", IMPORTER_PHONE_FORMS)
def test_every_phone_form_the_importer_accepts_is_masked_in_free_text(raw):
    from billing.phones import normalize_phone

    normalize_phone(raw)  # the importer accepts it: a form a log line may carry
    masked = mask_text(f"import row 7 phone={raw} rejected")

    subscriber = "".join(c for c in raw if c.isdigit())[-8:-4]
    assert subscriber not in masked, masked
    assert masked.startswith("import row 7 phone=") and masked.endswith(" rejected")


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("ack for false_5541988887777@c.us_3EB0C767D26A1D1A4E", "98888"),
        ("message true_5511987654321@c.us_3A0000000000000000A1 sent", "98765"),
        ("chat 5541988887777@s.whatsapp.net", "98888"),
        ("lid 123456789012345@lid", "56789012"),
        ("key=dispatch_5511987654321", "98765"),
    ],
)
def test_ids_that_embed_a_number_are_masked(line, secret):
    masked = mask_text(line)

    assert secret not in masked, masked


@pytest.mark.parametrize(
    "line",
    [
        "client 127.0.0.1 from 192.168.100.200",
        "due 2026-01-15 10:30:00 amount 1.234,56",
        "evt_01jnkq4h5y0000000000000001 batch=12 rows=100000",
    ],
)
def test_ip_addresses_dates_amounts_and_counts_stay_readable(line):
    assert mask_text(line) == line


def test_the_patcher_masks_numbers_and_nested_values_in_extras(tmp_path):
    log_file = tmp_path / "app.log"
    configure_logging(level="INFO", log_file=str(log_file), force=True)
    try:
        logger.bind(
            phone_number=5511987654321,
            row={"telefone": "11.98765.4321", "ids": ["false_5541988887777@c.us_3EB0"]},
            batch=12,
        ).info("import row {}", "11.98765.4321")
        logger.complete()
    finally:
        configure_logging(force=True)
    dumped = log_file.read_text()
    for secret in ("98765", "98888", "5511987654321"):
        assert secret not in dumped
    assert json.loads(dumped)["record"]["extra"]["batch"] == 12


# Data, as in real code: the traceback's source lines (printed as they are) carry only the names.
_DATA = {
    "phone": "+5511987654321",
    "document": "123.456.789-09",
    "other": "5521998765432",
    "key": "+5531991234567",
}


def _raise_integrity_with_cause(phone: str, document: str, other: str) -> None:
    try:
        raise ValueError(f"telefone {phone} inválido")
    except ValueError as exc:
        raise RuntimeError(f"UNIQUE constraint failed for cpf {document} phone {other}") from exc


def test_exception_text_and_traceback_reach_the_log_file_masked(tmp_path):
    log_file = tmp_path / "app.log"
    phones = {"5541988887777": 1}
    configure_logging(level="INFO", log_file=str(log_file), force=True)
    try:
        try:
            _raise_integrity_with_cause(_DATA["phone"], _DATA["document"], _DATA["other"])
        except RuntimeError as exc:
            logger.exception("import failed")
            raised = exc
        try:
            phones[_DATA["key"]]
        except KeyError:
            logging.getLogger("django.request").error("Internal Server Error: /api", exc_info=True)
        logger.complete()
        lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    finally:
        configure_logging(force=True)
    dumped = log_file.read_text()
    for secret in ("987654321", "998765432", "456.789", "991234567"):
        assert secret not in dumped
    # The caller's exception is not touched: only what the sinks see is masked.
    assert "5521998765432" in str(raised) and "+5511987654321" in str(raised.__cause__)
    # Still a useful traceback: both exceptions of the chain, their types, the frames that raised.
    text = lines[0]["text"]
    assert "ValueError: telefone +5511*****4321 inválido" in text
    assert "RuntimeError: UNIQUE constraint failed for cpf 123******09 phone 5521*****5432" in text
    assert "direct cause of the following exception" in text
    assert text.count("in _raise_integrity_with_cause") == 2
    assert lines[0]["record"]["exception"]["type"] == "RuntimeError"
    assert lines[0]["record"]["exception"]["value"].endswith("phone 5521*****5432")
    assert "KeyError: '+5531*****4567'" in lines[1]["text"]
