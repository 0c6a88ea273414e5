"""The dashboard's statement uploads, reconciled by a worker (a statement of thousands of payments takes
longer than a request should): `statement_job_create` stores the job and enqueues it on commit;
`statement_job_run` (the task, `billing.tasks.statement_import_task`) runs `statement_import` with progress
and keeps the summary. The command `import_statement` stays synchronous and does not use this.

At-least-once delivery: a job is claimed with a conditional UPDATE (pending → running); a redelivered task
finds it taken and does nothing, unless it was left running and untouched for longer than the broker's
`retry` (its worker died): then it runs again, which re-import safety makes harmless (the lines done are
skipped). The stored file is removed once the job is done or failed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from loguru import logger

from billing.models import StatementImport
from billing.payments.statements import statement_import
from cobranca.exceptions import ApplicationError
from cobranca.tasks import enqueue_on_commit

__all__ = ["STATEMENT_TASK", "statement_job_create", "statement_job_run"]

STATEMENT_TASK = "billing.tasks.statement_import_task"
Status = StatementImport.Status


def statement_job_create(*, path: Path, filename: str, dry_run: bool, by=None) -> StatementImport:
    """Queue the reconciliation of a statement already stored at `path` (the task removes it when done)."""
    job = StatementImport.objects.create(
        path=str(path),
        filename=filename[:255],
        dry_run=dry_run,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    enqueue_on_commit(STATEMENT_TASK, job.pk)
    return job


def _claim(job_id: int) -> bool:
    lost_before = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"])
    return bool(
        StatementImport.objects.filter(pk=job_id)
        .filter(Q(status=Status.PENDING) | Q(status=Status.RUNNING, updated_at__lt=lost_before))
        .update(status=Status.RUNNING, updated_at=timezone.now())
    )


def statement_job_run(*, job_id: int) -> str:
    """Reconcile one queued statement. Returns "done", "failed" or "taken" (another run has it)."""
    if not _claim(job_id):
        return "taken"
    job = StatementImport.objects.get(pk=job_id)

    def progress(done: int, total: int) -> None:
        StatementImport.objects.filter(pk=job_id).update(
            lines_done=done, lines_total=total, updated_at=timezone.now()
        )

    try:
        summary = statement_import(
            path=job.path, filename=job.filename, dry_run=job.dry_run, by=job.created_by, progress=progress
        )
    except ApplicationError as exc:
        _finish(job, status=Status.FAILED, error=exc.message)
        return "failed"
    except Exception:
        _finish(job, status=Status.FAILED, error="Erro inesperado ao conciliar o extrato.")
        raise
    _finish(job, status=Status.DONE, summary=summary.as_dict())
    return "done"


def _finish(job: StatementImport, *, status: str, summary: dict | None = None, error: str = "") -> None:
    StatementImport.objects.filter(pk=job.pk).update(
        status=status, summary=summary or {}, error=error, updated_at=timezone.now()
    )
    Path(job.path).unlink(missing_ok=True)
    logger.info("statement.job job={} status={}", job.pk, status)
