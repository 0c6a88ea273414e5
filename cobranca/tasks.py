"""Enqueue django-q2 tasks only after the surrounding transaction commits.

A task enqueued inside a transaction could run before the rows it needs are visible (or after a rollback, for
rows that never existed); on_commit closes both holes.
"""

from __future__ import annotations

from django.db import transaction


def enqueue_on_commit(func_path: str, *args, **kwargs) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func_path, *args, **kwargs))


def broker_shares_the_transaction(using: str) -> bool:
    """True when django-q's queue is a table in the database `using` (the ORM broker, not sync mode): a task
    inserted inside a transaction there becomes visible exactly when the transaction commits."""
    from django_q.conf import Conf

    return bool(
        Conf.ORM
        and not Conf.SYNC
        and not Conf.BROKER_CLASS
        and not Conf.IRON_MQ
        and not isinstance(Conf.SQS, dict)
        and Conf.ORM == using
    )


def enqueue_with_rows(func_path: str, *args, using: str) -> None:
    """Enqueue a task that exists if and only if the rows written in the current transaction commit.

    With the ORM broker on the same database the task row is inserted in that transaction (one commit, one
    WAL flush saved per webhook request, and no window in which a crash leaves rows without their task);
    with Redis or sync mode (where async_task would run the task inside the transaction), on commit."""
    if broker_shares_the_transaction(using):
        from django_q.tasks import async_task

        async_task(func_path, *args)
    else:
        enqueue_on_commit(func_path, *args)
