"""A picture or PDF the bot takes as the receipt is queued for reading (one ReceiptCheck and one worker task
per file, never read in the bot's turn); a file nobody asked for is not."""

from __future__ import annotations

import pytest

from billing.models import ReceiptCheck
from billing.receipts.services import TASK
from chatbot.tests import test_media_replies as media
from chatbot.tests.test_bot_flow import say

pytestmark = pytest.mark.django_db
# The file-turn fixtures of the media replies' tests, shared by name.
classified, waha, conversation = media.classified, media.waha, media.conversation


def test_a_picture_after_ja_paguei_queues_one_receipt_check(
    classified,
    waha,
    conversation,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda name, *args, **kw: queued.append((name, args)))
    say(conversation, "já paguei")
    with django_capture_on_commit_callbacks(execute=True):
        message = media.send_file(conversation, "image")
    assert waha.sent[-1][1] == media.RECEIPT_REPLY
    check = ReceiptCheck.objects.get()
    assert check.attachment == message.attachment and check.status == ReceiptCheck.Status.PENDING
    assert (TASK, (check.pk,)) in queued


def test_a_file_nobody_asked_for_is_not_read(classified, waha, conversation):
    media.send_file(conversation, "pdf")
    assert not ReceiptCheck.objects.exists()


def test_a_picture_with_a_caption_claiming_the_payment_is_read_too(classified, waha, conversation):
    message = media.send_file(conversation, "image", caption="já paguei, segue o comprovante")
    assert ReceiptCheck.objects.get().attachment == message.attachment


def test_a_picture_with_another_caption_is_not_read(classified, waha, conversation):
    media.send_file(conversation, "image", caption="quero parcelar")
    assert not ReceiptCheck.objects.exists()
