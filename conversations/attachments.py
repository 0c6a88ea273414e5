"""Erasing the files debtors sent (conversations.Attachment): the one place that deletes them from storage.

Apart from conversations.services so that billing's admin (through cobranca.privacy) and retention may call it
without importing the conversation services."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction

from conversations.models import Attachment


def attachments_remove(queryset) -> int:
    """Erase these attachments' files (the client was forgotten, or retention expired): the rows stay, as
    `removed`, without file, URL or file name. The files are deleted after the transaction commits (a
    rolled-back erasure keeps them). Returns how many rows changed."""
    rows = list(queryset.exclude(status=Attachment.Status.REMOVED).values_list("pk", "file"))
    if not rows:
        return 0
    changed = Attachment.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        status=Attachment.Status.REMOVED, file="", url="", filename="", error="apagado"
    )
    names = [name for _, name in rows if name]

    def delete_files() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete_files)
    return changed
