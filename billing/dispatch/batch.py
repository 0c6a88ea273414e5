"""send-batch, the original system's one-call campaign: import the debtors (a file already in the uploads
folder, or an inline list) or pick a segment, then create and start one campaign.

Not one transaction, on purpose: the import commits on its own (a file of 100,000 rows is written in
chunks, docs/import.md), and a start refused (compliance warnings not confirmed) leaves the imported batch
and the draft campaign for the operator to review, exactly as the two separate calls would.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath

from django.conf import settings

from billing.dispatch.services import campaign_create, campaign_start
from billing.importing import import_file
from billing.models import Campaign, ImportBatch, MessageTemplate
from cobranca.exceptions import ApplicationError


@dataclass(frozen=True)
class SendBatchResult:
    campaign: Campaign
    import_report: dict | None  # ImportReport.as_dict() when the call imported debtors


def resolve_upload(name: str) -> Path:
    """A file directly inside settings.UPLOADS_DIR, named by its bare file name; anything else is refused.

    Refused: any path separator (`/` or `\\`, so no subfolder either: uploads/rejected/ holds other imports'
    rejected rows), drive letters, `.` and `..`, NUL bytes, names the file system cannot hold (too long), and
    anything whose resolved path (symlinks followed) is not a file directly inside the resolved uploads
    directory.
    """
    refuse = ApplicationError(
        "Arquivo inválido: informe só o nome de um arquivo enviado para a pasta de uploads.",
        {"clients_file": name},
    )
    if not name or name in (".", "..") or any(char in name for char in "/\\:\x00"):
        raise refuse
    relative = PurePosixPath(name)
    base = Path(settings.UPLOADS_DIR).resolve()
    try:
        candidate = (base / relative).resolve()
        exists = candidate.is_file()
    except OSError:  # e.g. ENAMETOOLONG: not a name an upload could have
        raise refuse from None
    if candidate.parent != base:
        raise refuse
    if not exists:
        raise ApplicationError(
            "Arquivo não encontrado na pasta de uploads.", {"clients_file": name}, status_code=404
        )
    return candidate


def _import(*, path_or_file, filename: str, fmt: str | None, by) -> tuple[ImportBatch, dict]:
    report = import_file(path_or_file=path_or_file, filename=filename, fmt=fmt, by=by)
    if not report.success or report.batch_id is None:
        raise ApplicationError(report.message or "A importação falhou.", {"import": report.as_dict()})
    return ImportBatch.objects.get(pk=report.batch_id), report.as_dict()


def campaign_send_batch(
    *,
    template: MessageTemplate,
    clients_file: str | None = None,
    clients: list[dict] | None = None,
    segment: dict | None = None,
    name: str = "",
    delay_seconds: Decimal | None = None,
    jitter_seconds: Decimal | None = None,
    session_name: str | None = None,
    starts_at: dt.datetime | None = None,
    send_window: str = "",
    daily_cap: int | None = None,
    confirm_compliance: bool = False,
    confirm_off_hours: bool = False,
    by=None,
) -> SendBatchResult:
    """Exactly one audience: `clients_file` (a name inside UPLOADS_DIR), `clients` (rows as the import takes
    them) or `segment`. An import that fails raises with its report in `extra["import"]`."""
    if sum(x is not None for x in (clients_file, clients, segment)) != 1:
        raise ApplicationError("Informe exatamente um destes: clients_file, clients ou segment.")
    batch, report = None, None
    if clients_file is not None:
        path = resolve_upload(clients_file)
        batch, report = _import(path_or_file=str(path), filename=path.name, fmt=None, by=by)
    elif clients is not None:
        raw = json.dumps(clients, ensure_ascii=False, default=str).encode()
        batch, report = _import(path_or_file=io.BytesIO(raw), filename="clients.json", fmt="json", by=by)
    campaign = campaign_create(
        template=template,
        name=name,
        segment=segment,
        import_batch=batch,
        delay_seconds=delay_seconds,
        jitter_seconds=jitter_seconds,
        session_name=session_name,
        starts_at=starts_at,
        send_window=send_window,
        daily_cap=daily_cap,
        by=by,
    )
    campaign = campaign_start(
        campaign=campaign, by=by, confirm_compliance=confirm_compliance, confirm_off_hours=confirm_off_hours
    )
    return SendBatchResult(campaign=campaign, import_report=report)
