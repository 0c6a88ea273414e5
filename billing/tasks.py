"""django-q2 tasks of the billing app: thin, take primitive ids, safe to run twice (delivery is
at-least-once)."""

from __future__ import annotations

from cobranca.tasks import enqueue_on_commit

DRIVE_TASK = "billing.tasks.dispatch_drive_task"


def _sync_mode() -> bool:
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def dispatch_drive_task(session_name: str, lane: int = 0) -> dict:
    """Drive one WAHA session's campaigns for one budget (< Q_CLUSTER timeout), then hand over to a fresh
    task.

    Enqueued by campaign start/resume and by the `dispatch-tick` schedule. Running it twice is harmless: the
    second copy finds the lane's lease taken and returns `stop="busy"`.
    """
    from billing.dispatch.driver import dispatch_drive

    stats = dispatch_drive(session_name=session_name, lane=lane)
    # Re-enqueue instead of looping forever: each task stays far below the broker's timeout/retry, and a new
    # task picks up campaigns paused or cancelled in between. In sync mode that would recurse: the tick does
    # it.
    if stats.more and not _sync_mode():
        enqueue_on_commit(DRIVE_TASK, session_name, lane)
    return stats.as_dict()


def dispatch_tick() -> dict:
    """Every minute (schedule "dispatch-tick"): recover dead sends, start due campaigns, (re)start drivers.

    The safety net under the self re-enqueueing drivers: after a crash, a restart or a window opening, running
    campaigns get a driver again within a minute.
    """
    from billing.dispatch.services import dispatch_tick_run

    return dispatch_tick_run()


def dispatch_recover_stale_task() -> int:
    """Schedule "dispatch-recover-stale": `sending` rows of dead workers become `unknown` (never resent)."""
    from billing.dispatch.services import dispatch_recover_stale

    return dispatch_recover_stale()


def regua_plan_task() -> dict:
    """Daily (schedule "regua-plan", at REGUA_PLAN_AT): plan today's régua reminders into the dispatch engine.

    Safe to run twice or concurrently: reminders already planned are left alone (unique per charge, step and
    reference date) and the réguas are locked for the run.
    """
    from billing.regua.run import regua_plan_run

    return regua_plan_run()


def payments_lifecycle_task() -> dict:
    """Hourly (schedule "payments-lifecycle"): broken promises and agreements, expired payment claims."""
    from billing.payments.lifecycle import payments_lifecycle_run

    return payments_lifecycle_run()


def pix_confirm_task(notification_ids: list[int]) -> dict:
    """Confirm PSP payment notifications at the PSP and apply them (enqueued by the Pix webhook with the ids
    it stored, and by the sweep). Safe to run twice: a notification already handled is skipped, and a payment
    is applied once per e2eid."""
    from billing.payments.pix_notifications import pix_notifications_confirm

    return pix_notifications_confirm(notification_ids=list(notification_ids))


def pix_sweep_task() -> int:
    """Every minute (schedule "pix-sweep"): hand PENDING notifications due again to a worker (a task lost or
    killed, a retry after a PSP failure)."""
    from billing.payments.pix_notifications import pix_notifications_sweep

    return pix_notifications_sweep()


def pix_catch_up_task() -> dict:
    """Every PIX_CATCH_UP_MINUTES (schedule "pix-catch-up"): apply the Pix the PSP received since the last
    seen time that no webhook announced. Does nothing with PIX_PROVIDER=static."""
    from billing.payments.pix_notifications import pix_catch_up

    return pix_catch_up()


def receipt_check_task(check_id: int) -> str:
    """Read and check one Pix receipt a debtor sent (OCR: seconds of CPU, so never in a request). Enqueued by
    `billing.receipts.services.receipt_check_request`; safe to run twice (only a pending check is claimed)."""
    from billing.receipts.services import receipt_check_run

    return receipt_check_run(check_id=check_id)


def statement_import_task(job_id: int) -> str:
    """Reconcile one statement uploaded on the dashboard. Enqueued by
    `billing.payments.statement_jobs.statement_job_create`; safe to run twice (only a pending job, or one
    whose worker died, is claimed)."""
    from billing.payments.statement_jobs import statement_job_run

    return statement_job_run(job_id=job_id)
