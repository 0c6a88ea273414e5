"""A debtor's picture, PDF or audio: announced by WAHA (the simulator, on loopback), recorded by the webhook,
downloaded by a worker task through `whatsapp.client.get_client`, checked by its bytes, stored, served to
operators only, and shown in the inbox."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from billing.tests.factories import ClientFactory
from cobranca.roles import OPERATORS
from conversations import media, services
from conversations.models import Attachment, Message
from whatsapp.services import webhook_event_process
from whatsapp.webhooks import envelope_event_id, webhook_store

pytestmark = pytest.mark.django_db

PHONE = "5511987654321"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
OGG = b"OggS\x00\x02" + b"\x00" * 64
HTML = b"<html><script>alert(1)</script></html>"


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: calls.append((func, *args)))
    return calls


@pytest.fixture
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def operator_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    http = HttpClient()
    http.force_login(user)
    return http


def receive(waha_simulator, content: bytes, mimetype: str, *, text: str = "", filename=None) -> Message:
    """The simulator announces a media message; our webhook intake stores and processes its event."""
    sent = waha_simulator.inbound(PHONE, text, media=content, mimetype=mimetype, filename=filename)
    envelope = next(e for e in waha_simulator.events("message") if e["payload"]["id"] == sent["id"])
    stored = webhook_store(envelope=envelope, event_id=envelope_event_id(envelope, body=b""))
    webhook_event_process(event_id=stored.event_pk)
    return Message.objects.get(waha_id=sent["id"])


def download(message: Message, captured) -> Attachment:
    with captured(execute=True):
        services.attachment_download(attachment_id=message.attachment.pk)
    return Attachment.objects.get(pk=message.attachment.pk)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (JPEG, ("image", "image/jpeg", "jpg")),
        (PNG, ("image", "image/png", "png")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "image/webp", "webp")),
        (PDF, ("pdf", "application/pdf", "pdf")),
        (OGG, ("audio", "audio/ogg", "ogg")),
        (b"ID3\x04\x00", ("audio", "audio/mpeg", "mp3")),
        (b"#!AMR\n", ("audio", "audio/amr", "amr")),
        (b"\x00\x00\x00\x20ftypM4A \x00", ("audio", "audio/mp4", "m4a")),
        (HTML, None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"MZ\x90\x00", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_the_kind_comes_from_the_magic_bytes(content, expected):
    assert media.sniff(content) == expected


def test_a_media_message_is_stored_and_downloaded_by_a_task_not_by_the_webhook(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    ClientFactory(phone=f"+{PHONE}")
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(waha_simulator, PDF, "application/pdf", filename="comprovante.pdf")

    attachment = message.attachment
    assert attachment.status == Attachment.Status.PENDING
    assert attachment.declared_mimetype == "application/pdf" and attachment.filename == "comprovante.pdf"
    assert "/api/files/default/" in attachment.url
    assert message.body == ""  # no caption; the file is the message, not the text "[mídia]"
    # The webhook only enqueued the download; the bot answers after it.
    assert enqueued[-1] == ("conversations.tasks.attachment_download", attachment.pk)
    assert not any(call[0] == "chatbot.tasks.bot_answer_inbound" for call in enqueued)

    attachment = download(message, django_capture_on_commit_callbacks)
    assert attachment.status == Attachment.Status.STORED
    assert (attachment.kind, attachment.content_type, attachment.size) == ("pdf", "application/pdf", len(PDF))
    assert attachment.file.name.endswith(".pdf") and "comprovante" not in attachment.file.name
    with attachment.file.open("rb") as fh:
        assert fh.read() == PDF
    assert enqueued[-1] == ("chatbot.tasks.bot_answer_inbound", message.pk)
    message.conversation.refresh_from_db()
    assert not message.conversation.needs_attention


def test_the_declared_type_is_not_trusted(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    message = receive(waha_simulator, PDF, "image/jpeg", filename="foto.jpg")
    assert download(message, django_capture_on_commit_callbacks).kind == "pdf"

    disguised = receive(waha_simulator, HTML, "image/jpeg", filename="foto.jpg")
    attachment = download(disguised, django_capture_on_commit_callbacks)
    assert attachment.status == Attachment.Status.REJECTED
    assert attachment.error == "tipo de arquivo não aceito"
    assert not attachment.file
    assert not list(storage.rglob("*.jpg")) and not list(storage.rglob("*.html"))
    disguised.conversation.refresh_from_db()
    assert disguised.conversation.needs_attention
    assert "tipo de arquivo não aceito" in disguised.conversation.attention_reason
    # The bot still answers the message (acknowledging a file a person will look at).
    assert enqueued[-1] == ("chatbot.tasks.bot_answer_inbound", disguised.pk)


def test_a_file_over_the_limit_is_refused_without_being_kept(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    waha_settings.WAHA_MEDIA_MAX_BYTES = 1024
    message = receive(waha_simulator, JPEG + b"\x00" * 2048, "image/jpeg")

    attachment = download(message, django_capture_on_commit_callbacks)
    assert attachment.status == Attachment.Status.REJECTED
    assert attachment.error.startswith("arquivo maior que")
    assert not attachment.file and not any(storage.rglob("*.*"))


def test_the_file_is_fetched_from_waha_with_the_api_key_whatever_host_the_url_names(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    message = receive(waha_simulator, OGG, "audio/ogg; codecs=opus")
    path = message.attachment.url.split("/api/files/", 1)[1]
    # WAHA inside a container announces localhost:3000; a forged event could name any host.
    Attachment.objects.filter(pk=message.attachment.pk).update(url=f"http://evil.example:1/api/files/{path}")
    assert download(message, django_capture_on_commit_callbacks).status == Attachment.Status.STORED

    other = receive(waha_simulator, OGG, "audio/ogg")
    Attachment.objects.filter(pk=other.attachment.pk).update(url="http://127.0.0.1:1/api/sessions")
    attachment = download(other, django_capture_on_commit_callbacks)
    assert attachment.status == Attachment.Status.FAILED
    assert "bad_media_url" in attachment.error


def test_a_wrong_api_key_or_a_missing_file_fails_the_download_and_flags(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    message = receive(waha_simulator, JPEG, "image/jpeg")
    Attachment.objects.filter(pk=message.attachment.pk).update(
        url=message.attachment.url.rsplit("/", 1)[0] + "/NOPE.jpeg"
    )
    attachment = download(message, django_capture_on_commit_callbacks)
    assert attachment.status == Attachment.Status.FAILED
    message.conversation.refresh_from_db()
    assert "WAHA não entregou o arquivo" in message.conversation.attention_reason


def test_running_the_download_twice_keeps_one_file(
    waha_settings, waha_simulator, enqueued, storage, django_capture_on_commit_callbacks
):
    message = receive(waha_simulator, PNG, "image/png")
    first = download(message, django_capture_on_commit_callbacks)
    second = download(message, django_capture_on_commit_callbacks)
    assert first.file.name == second.file.name
    assert len(list(storage.rglob("*.png"))) == 1


def test_the_file_is_served_to_operators_only_with_a_safe_type(
    waha_settings, waha_simulator, enqueued, storage, operator_client, django_capture_on_commit_callbacks
):
    picture = download(receive(waha_simulator, JPEG, "image/jpeg"), django_capture_on_commit_callbacks)
    pdf = download(receive(waha_simulator, PDF, "application/pdf"), django_capture_on_commit_callbacks)
    url = reverse("dashboard:attachment", args=[picture.pk])

    anonymous = HttpClient().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    not_operator = HttpClient()
    not_operator.force_login(User.objects.create_user("curioso", password="x"))
    assert not_operator.get(url).status_code == 403

    response = operator_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == JPEG
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("inline")
    assert response["Cache-Control"] == "private, no-store"

    response = operator_client.get(reverse("dashboard:attachment", args=[pdf.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="anexo-{pdf.pk}.pdf"'

    pending = receive(waha_simulator, PNG, "image/png").attachment
    assert operator_client.get(reverse("dashboard:attachment", args=[pending.pk])).status_code == 404


def test_the_inbox_shows_a_preview_a_player_and_a_link_without_inline_script(
    waha_settings, waha_simulator, enqueued, storage, operator_client, django_capture_on_commit_callbacks
):
    ClientFactory(phone=f"+{PHONE}")
    picture = download(receive(waha_simulator, JPEG, "image/jpeg"), django_capture_on_commit_callbacks)
    audio = download(receive(waha_simulator, OGG, "audio/ogg"), django_capture_on_commit_callbacks)
    pdf = download(receive(waha_simulator, PDF, "application/pdf"), django_capture_on_commit_callbacks)
    refused = download(receive(waha_simulator, HTML, "image/jpeg"), django_capture_on_commit_callbacks)

    page = operator_client.get(reverse("dashboard:conversation", args=[picture.message.conversation_id]))
    html = page.content.decode()
    assert f'<img src="{reverse("dashboard:attachment", args=[picture.pk])}"' in html
    assert f'<audio controls preload="none" src="{reverse("dashboard:attachment", args=[audio.pk])}"' in html
    assert f'href="{reverse("dashboard:attachment", args=[pdf.pk])}"' in html
    assert "arquivo não guardado: tipo de arquivo não aceito" in html
    assert reverse("dashboard:attachment", args=[refused.pk]) not in html
    assert "[mídia]" not in html
    assert "<script>" not in html.split('id="chat-messages"', 1)[1].split("</section>", 1)[0]


def _stored_file(message: Message, content: bytes = JPEG) -> Attachment:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("conversations/attachments/2026/01/test.jpg", ContentFile(content))
    return Attachment.objects.create(
        message=message, status=Attachment.Status.STORED, kind="image", content_type="image/jpeg", file=name
    )


def test_forgetting_a_client_deletes_his_files(storage, django_capture_on_commit_callbacks):
    from cobranca.privacy import forget_client
    from conversations.tests.factories import ConversationFactory, MessageFactory

    client = ClientFactory(phone=f"+{PHONE}")
    attachment = _stored_file(MessageFactory(conversation=ConversationFactory(client=client)))
    other = _stored_file(MessageFactory())
    path = storage / attachment.file.name

    with django_capture_on_commit_callbacks(execute=True):
        forget_client(client=client)

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.REMOVED and not attachment.file
    assert attachment.url == "" and attachment.filename == ""
    assert not path.exists()
    assert (storage / other.file.name).exists()


def test_retention_deletes_old_files_and_keeps_recent_ones(
    settings, storage, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from cobranca.retention import prune_old_data
    from conversations.tests.factories import MessageFactory

    settings.RETENTION_DAYS_MESSAGES = 30
    old = _stored_file(MessageFactory(sent_at=timezone.now() - dt.timedelta(days=40)))
    old_path = storage / old.file.name
    recent = _stored_file(MessageFactory())

    assert prune_old_data(dry_run=True)["attachments"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        counts = prune_old_data()

    assert counts["attachments"] == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == Attachment.Status.REMOVED and not old.file and not old_path.exists()
    assert recent.status == Attachment.Status.STORED and (storage / recent.file.name).exists()
