"""Enqueue django-q2 tasks only after the surrounding transaction commits.

A task enqueued inside a transaction could run before the rows it needs are visible (or after a rollback, for
rows that never existed); on_commit closes both holes.
"""

from __future__ import annotations

from django.db import transaction


def enqueue_on_commit(func_path: str, *args, **kwargs) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func_path, *args, **kwargs))
