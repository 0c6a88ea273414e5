"""import_file: the one entry point for importing debtors and charges (command, API and dashboard call it).

Two passes keep memory bounded whatever the file size:

1. Read and validate every row (streaming). Valid rows are appended, compacted, to a temporary spool file in
   chunks (marshal of plain tuples); rejected rows go to the rejected-rows CSV on disk; only the first
   MAX_ERRORS errors are kept in memory. Duplicate ids are found with a dict of 64-bit string hashes → first
   row (ints only, no strings).
2. Unless the import is atomic and something was rejected, replay the spool chunk by chunk into the database
   inside one transaction (see writer.ChunkWriter). A dry run does the same and rolls back, so its counts are
   exact.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.models import ImportBatch
from billing.phones import is_mobile
from cobranca.exceptions import ApplicationError

from .columns import ColumnPlan, column_mapping_remember
from .fields import FieldError, clean_row, display_value
from .readers import detect_format, open_rows
from .rejected import RejectedRowsWriter, clean_row_values
from .writer import ChunkWriter

CHUNK_SIZE = 2000
MAX_ERRORS = 1000

ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass
class ImportReport:
    success: bool = False
    dry_run: bool = False
    skip_invalid: bool = False
    batch_id: int | None = None
    filename: str = ""
    file_format: str = ""
    total: int = 0
    imported: int = 0
    rejected: int = 0
    created_clients: int = 0
    created_charges: int = 0
    updated_charges: int = 0
    unchanged_charges: int = 0
    unchanged_closed_charges: int = 0
    suppressed_rows: int = 0
    kept_on_forgotten_charges: int = 0
    name_conflicts: int = 0
    existing_clients: int = 0
    landlines: int = 0
    # The header's unknown columns and the mapping applied to them (CSV/XLSX; see columns.ColumnPlan).
    columns: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    # Rows imported that need the operator's eye (suppressed number, name conflicts…): row, field, why.
    row_warnings: list[dict] = field(default_factory=list)
    row_warnings_count: int = 0
    errors_count: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    rejected_csv_path: str | None = None

    @property
    def errors_truncated(self) -> bool:
        return self.errors_count > len(self.errors)

    def add_errors(self, errors: list[FieldError]) -> None:
        self.errors_count += len(errors)
        room = MAX_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(e.as_dict() for e in errors[:room])

    def add_row_warnings(self, warnings: list[FieldError]) -> None:
        self.row_warnings_count += len(warnings)
        room = MAX_ERRORS - len(self.row_warnings)
        if room > 0:
            self.row_warnings.extend(w.as_dict() for w in warnings[:room])

    def as_dict(self, *, rejected_csv_url: str | None = None) -> dict:
        return {
            "success": self.success,
            "message": self.message,
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "batch_id": self.batch_id,
            "filename": self.filename,
            "format": self.file_format,
            "total": self.total,
            "imported": self.imported,
            "rejected": self.rejected,
            "created_clients": self.created_clients,
            "created_charges": self.created_charges,
            "updated_charges": self.updated_charges,
            "unchanged_charges": self.unchanged_charges,
            "unchanged_closed_charges": self.unchanged_closed_charges,
            "suppressed_rows": self.suppressed_rows,
            "kept_on_forgotten_charges": self.kept_on_forgotten_charges,
            "name_conflicts": self.name_conflicts,
            "existing_clients": self.existing_clients,
            "landlines": self.landlines,
            "columns": self.columns,
            "errors": self.errors,
            "errors_count": self.errors_count,
            "errors_truncated": self.errors_truncated,
            "warnings": self.warnings,
            "row_warnings": self.row_warnings,
            "row_warnings_count": self.row_warnings_count,
            "rejected_csv_url": rejected_csv_url,
        }


@contextlib.contextmanager
def _local_path(
    path_or_file: str | os.PathLike | IO[bytes], filename: str | None
) -> Iterator[tuple[Path, str]]:
    """A re-readable path for anything we are given: a path, a Django UploadedFile or a binary file object."""
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        if not path.is_file():
            raise ApplicationError(f"Arquivo não encontrado: {path}", {"code": "not_found"})
        yield path, filename or path.name
        return
    name = filename or os.path.basename(getattr(path_or_file, "name", "") or "") or "upload"
    temporary_path = getattr(path_or_file, "temporary_file_path", None)
    if callable(temporary_path):
        yield Path(temporary_path()), name
        return
    with tempfile.NamedTemporaryFile(prefix="import-", suffix=Path(name).suffix) as tmp:
        if hasattr(path_or_file, "seek"):
            with contextlib.suppress(OSError, ValueError):
                path_or_file.seek(0)
        if hasattr(path_or_file, "chunks"):
            for chunk in path_or_file.chunks():
                tmp.write(chunk)
        else:
            shutil.copyfileobj(path_or_file, tmp, 1 << 20)
        tmp.flush()
        yield Path(tmp.name), name


def _fingerprint(external_id: str) -> int:
    # 64-bit hash: a dict of 1M ints costs a fraction of 1M strings. A collision (~1e-7 at 1M rows) would
    # report a false duplicate, never import a wrong row.
    return hash(external_id)


# long-function: the docstring is the import's contract; the body is one with-block
def import_file(
    *,
    path_or_file: str | os.PathLike | IO[bytes],
    filename: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    by=None,
    progress: ProgressCallback | None = None,
    column_map: dict[str, str] | None = None,
) -> ImportReport:
    """Import debtors and their charges from a JSON, CSV or XLSX file.

    Atomic by default: one invalid row and nothing is written (the report lists why). With `skip_invalid` the
    valid rows go in and the rejected ones are saved as a CSV next to the batch. Re-importing upserts by
    external id; an opted-out or wrong-number client stays suppressed and paid/cancelled charges are not
    reopened. Every real (non dry-run) import creates an ImportBatch. A file that cannot be read at all raises
    ApplicationError and writes nothing (its `extra["columns"]` lists the unknown columns when required ones
    are missing, so a caller can offer to map them).

    `column_map` (normalised column name → field, '' to ignore) says what a spreadsheet's unknown columns
    hold; None applies the mapping remembered for the same headers, if any. A real import that succeeds with
    a `column_map` remembers it for the next file with the same headers.
    """
    report = ImportReport(dry_run=dry_run, skip_invalid=skip_invalid)
    plan = ColumnPlan(chosen=column_map)
    rejected = RejectedRowsWriter()
    try:
        with (
            _local_path(path_or_file, filename) as (path, name),
            tempfile.TemporaryFile(prefix="import-spool-") as spool,
        ):
            report.filename = name[:255]
            report.file_format = detect_format(path, name, fmt)
            try:
                chunks = _validate_pass(path, report, rejected, spool, progress, plan)
            finally:
                report.columns = plan.as_dict() if plan.key else {}
            if report.total == 0:
                raise ApplicationError("O arquivo não tem nenhuma linha de dados.", {"code": "empty_file"})
            spool.seek(0)
            _write_pass(report, rejected, spool, chunks, by=by, progress=progress)
            if column_map is not None and report.success and not dry_run:
                column_mapping_remember(plan=plan, by=by)
    except BaseException:
        rejected.discard()
        raise
    finally:
        if dry_run or report.batch_id is None:
            rejected.discard()
    logger.info(
        "import.finished file={} format={} total={} imported={} rejected={} dry_run={} batch={}",
        report.filename,
        report.file_format,
        report.total,
        report.imported,
        report.rejected,
        dry_run,
        report.batch_id,
    )
    return report


def _spool_write(spool: IO[bytes], rows: list[tuple]) -> None:
    # Length-prefixed marshal blobs: marshal.load() on a file object reads in tiny pieces and is ~10x slower.
    data = marshal.dumps(rows)
    spool.write(len(data).to_bytes(8, "little"))
    spool.write(data)


def _spool_read(spool: IO[bytes]) -> list[tuple]:
    size = int.from_bytes(spool.read(8), "little")
    return marshal.loads(spool.read(size))  # noqa: S302 - our own temporary file, written by _spool_write


# long-function: one streaming pass over the file; its per-row steps read best in order
def _validate_pass(
    path: Path,
    report: ImportReport,
    rejected: RejectedRowsWriter,
    spool: IO[bytes],
    progress: ProgressCallback | None,
    plan: ColumnPlan,
) -> int:
    first_row_of: dict[int, int] = {}
    name_of_phone: dict[int, int] = {}
    row_warnings: list[tuple[int, str, str]] = []
    buffer: list[tuple] = []
    chunks = 0
    for row, values, problem in open_rows(path, report.file_format, report.warnings, row_warnings, plan):
        report.total += 1
        if row_warnings:
            report.add_row_warnings([FieldError(r, label, "", message) for r, label, message in row_warnings])
            row_warnings.clear()
        if problem:
            errors = [FieldError(row, "linha", "", problem)]
            clean = None
        else:
            clean, errors = clean_row(row, values)
        if clean is not None:
            key = _fingerprint(clean[1])
            first = first_row_of.setdefault(key, row)
            if first != row:
                if clean[2]:
                    errors = [
                        FieldError(
                            row,
                            "id",
                            display_value(clean[1]),
                            f"id repetido no arquivo (já usado na linha {first})",
                        )
                    ]
                else:
                    errors = [
                        FieldError(
                            row,
                            "linha",
                            "",
                            f"linha duplicada: mesmo telefone, vencimento e descrição da linha {first}",
                        )
                    ]
                clean = None
        if clean is None:
            report.rejected += 1
            report.add_errors(errors)
            rejected.write(row, values, errors)
        else:
            if conflict := _name_conflict(name_of_phone, clean):
                report.name_conflicts += 1
                report.add_row_warnings([conflict])
            if not is_mobile(clean[4]):
                report.landlines += 1
                report.add_row_warnings([_landline_warning(clean[0], values)])
            buffer.append(clean)
            if len(buffer) >= CHUNK_SIZE:
                _spool_write(spool, buffer)
                chunks += 1
                buffer = []
        if progress and report.total % CHUNK_SIZE == 0:
            progress("validate", CHUNK_SIZE, None)
    if buffer:
        _spool_write(spool, buffer)
        chunks += 1
    if progress:
        progress("validate", report.total % CHUNK_SIZE, None)
    return chunks


def _landline_warning(row: int, values: dict[str, object] | None) -> FieldError:
    return FieldError(
        row,
        "telefone",
        display_value((values or {}).get("phone")),
        "telefone fixo: o WhatsApp precisa de um celular; a linha é importada, mas as mensagens a este "
        "número não devem chegar (troque por um celular, se tiver)",
    )


def _name_conflict(name_of_phone: dict[int, int], clean: tuple) -> FieldError | None:
    """A warning when the row's phone already came with another name earlier in the file (case and spacing
    aside): one client per phone, so the last row's name wins, and the operator should know.

    Memory: one int per phone, packing the first row (high bits) and a 32-bit hash of the name."""
    row, name, phone = clean[0], clean[3], clean[4]
    name_key = hash(name.casefold()) & 0xFFFFFFFF  # clean_row already collapsed the whitespace
    packed = name_of_phone.setdefault(hash(phone), (row << 32) | name_key)
    if packed & 0xFFFFFFFF == name_key:
        return None
    return FieldError(
        row,
        "nome",
        display_value(name),
        f"o mesmo telefone aparece na linha {packed >> 32} com outro nome; o cliente fica com o nome da "
        "última dessas linhas",
    )


# long-function: one transaction's steps read best in order
def _write_pass(
    report: ImportReport,
    rejected: RejectedRowsWriter,
    spool: IO[bytes],
    chunks: int,
    *,
    by,
    progress: ProgressCallback | None,
) -> None:
    valid_rows = report.total - report.rejected
    blocked = report.rejected > 0 and not report.skip_invalid
    with transaction.atomic():
        batch = None
        if not report.dry_run:
            batch = ImportBatch.objects.create(
                filename=report.filename,
                file_format=report.file_format,
                total_rows=report.total,
                created_by=by if getattr(by, "is_authenticated", False) else None,
            )
            report.batch_id = batch.pk
        if not blocked:
            savepoint = transaction.savepoint()
            writer = ChunkWriter(batch_id=batch.pk if batch else None, now=timezone.now())
            for _ in range(chunks):
                rows = _spool_read(spool)
                writer.write(rows)
                if progress:
                    progress("write", len(rows), valid_rows)
            stats = writer.stats
            for clean, errors in stats.rejected:
                report.rejected += 1
                report.add_errors(errors)
                rejected.write(clean[0], clean_row_values(clean), errors)
            if stats.rejected:
                # Rejections found while writing (a phone owned by another CPF) sort like the others.
                report.errors.sort(key=lambda e: e["row"])
            blocked = bool(stats.rejected) and not report.skip_invalid
            if report.dry_run or blocked:
                transaction.savepoint_rollback(savepoint)
            else:
                transaction.savepoint_commit(savepoint)
            if not blocked:
                report.imported = stats.imported
                report.created_clients = stats.created_clients
                report.created_charges = stats.created_charges
                report.updated_charges = stats.updated_charges
                report.unchanged_charges = stats.unchanged_charges
                report.unchanged_closed_charges = stats.unchanged_closed
                report.suppressed_rows = stats.suppressed_rows
                report.kept_on_forgotten_charges = stats.kept_on_forgotten
                report.existing_clients = stats.existing_clients
                report.add_row_warnings(stats.warnings)
                report.row_warnings.sort(key=lambda w: w["row"])
        report.success = not blocked
        report.message = _summary(report, valid_rows)
        if batch is not None:
            if report.rejected:
                saved = rejected.save_as(batch.pk)
                report.rejected_csv_path = str(saved) if saved else None
            batch.imported_rows = report.imported
            batch.rejected_rows = report.rejected
            batch.created_clients = report.created_clients
            batch.created_charges = report.created_charges
            batch.updated_charges = report.updated_charges
            batch.report = {
                key: value
                for key, value in report.as_dict().items()
                if key not in ("batch_id", "filename", "format", "rejected_csv_url")
            }
            batch.save()


def _summary(report: ImportReport, valid_rows: int) -> str:
    if not report.success:
        return (
            f"Nenhuma linha foi importada: {report.rejected} de {report.total} linha(s) com erro. Corrija o "
            "arquivo ou importe ignorando as linhas inválidas."
        )
    verb = "seriam importadas" if report.dry_run else "importadas"
    text = (
        f"{report.imported} de {report.total} linha(s) {verb}: {report.created_clients} cliente(s) novo(s), "
        f"{report.created_charges} cobrança(s) nova(s), {report.updated_charges} atualizada(s)."
    )
    if report.unchanged_charges:
        text += f" {report.unchanged_charges} cobrança(s) já estava(m) igual(is) ao arquivo."
    if report.unchanged_closed_charges:
        text += (
            f" {report.unchanged_closed_charges} cobrança(s) paga(s)/cancelada(s) mantida(s) sem alteração."
        )
    if report.existing_clients:
        text += (
            f" {report.existing_clients} linha(s) de cliente(s) já cadastrado(s) (mesmo telefone): "
            "cobrança(s) vinculada(s) a ele(s); confira os avisos."
        )
    if report.landlines:
        text += f" {report.landlines} linha(s) com telefone fixo: o WhatsApp precisa de um celular."
    if report.name_conflicts:
        text += (
            f" {report.name_conflicts} linha(s) repetem um telefone com outro nome: confira os nomes nos "
            "avisos."
        )
    if report.suppressed_rows:
        text += (
            f" {report.suppressed_rows} linha(s) com número na lista de supressão: cliente(s) mantido(s) "
            "descadastrado(s)."
        )
    if report.kept_on_forgotten_charges:
        text += (
            f" {report.kept_on_forgotten_charges} cobrança(s) de titular anonimizado mantida(s) sem "
            "transferência."
        )
    if report.rejected:
        text += f" {report.rejected} linha(s) rejeitada(s)."
    if report.dry_run:
        text = "Simulação: " + text + " Nada foi gravado."
    return text
