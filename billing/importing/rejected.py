"""The downloadable CSV of rejected rows, written while the file is read so it never sits in memory.

Semicolon-separated UTF-8 with BOM: what Excel in pt-BR opens correctly with a double click. Every cell that a
spreadsheet would treat as a formula is neutralised (CSV/formula injection): the uploaded file is untrusted
input and the operator will open this export in Excel.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from django.conf import settings

from cobranca.admin_utils import csv_safe

from .fields import FieldError, display_value

COLUMNS = (
    "linha",
    "id",
    "nome",
    "telefone",
    "valor",
    "vencimento",
    "descricao",
    "documento",
    "email",
    "motivo",
)
_FIELDS = ("id", "name", "phone", "amount", "due_date", "description", "document", "email")


def rejected_dir() -> Path:
    return Path(settings.UPLOADS_DIR) / "rejected"


def rejected_path(batch_id: int) -> Path:
    return rejected_dir() / f"{batch_id}.csv"


class RejectedRowsWriter:
    """Opens its temporary file on the first rejected row; `save_as(batch_id)` moves it into place."""

    def __init__(self) -> None:
        self._fh = None
        self._writer = None
        self._path: Path | None = None
        self.count = 0

    def write(self, row: int, values: dict[str, object] | None, errors: list[FieldError]) -> None:
        if self._writer is None:
            directory = rejected_dir()
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="tmp-", suffix=".csv", dir=directory)
            self._path = Path(name)
            self._fh = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh, delimiter=";")
            self._writer.writerow(COLUMNS)
        values = values or {}
        reason = " | ".join(f"{e.field}: {e.message}" if e.field != "linha" else e.message for e in errors)
        self._writer.writerow(
            [csv_safe(row)]
            + [csv_safe(display_value(values.get(f), limit=1000)) for f in _FIELDS]
            + [csv_safe(reason)]
        )
        self.count += 1

    def save_as(self, batch_id: int) -> Path | None:
        self._close()
        if self._path is None:
            return None
        target = rejected_path(batch_id)
        os.replace(self._path, target)
        self._path = None
        return target

    def discard(self) -> None:
        self._close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def clean_row_values(clean: tuple) -> dict[str, object]:
    """The clean tuple back as field → value, for rows rejected in the write pass."""
    _row, external_id, id_given, name, phone, document, email, amount, due, description = clean
    return {
        "id": external_id if id_given else "",
        "name": name,
        "phone": phone,
        "amount": amount,
        "due_date": due,
        "description": description,
        "document": document,
        "email": email,
    }
