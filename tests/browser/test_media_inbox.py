"""A debtor's picture, PDF and voice note in a real browser: sent through the WAHA simulator, downloaded by
the task (sync mode, inside the webhook request), then shown in the operator's conversation page under the
project's CSP: the picture really loads (from the operators-only URL), the audio has a player, the PDF a
download link; no console error (a CSP violation is one)."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

from billing.tests.factories import ChargeFactory, ClientFactory
from conversations.models import Attachment, Conversation
from tests.browser.helpers import make_operator, open_session
from whatsapp.simulator.testing import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HMAC_KEY = "browser-media-hmac"
PHONE = "5511912340000"


def tiny_png() -> bytes:
    """A real 2x2 red PNG, so the browser decodes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def wired(live_server, waha_settings, waha_simulator, monkeypatch, settings, tmp_path):
    from django_q.conf import Conf

    settings.WAHA_WEBHOOK_HMAC_KEY = HMAC_KEY
    settings.MEDIA_ROOT = tmp_path
    settings.CHATBOT_TYPING_MAX_SECONDS = 0
    monkeypatch.setattr(Conf, "SYNC", True)
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=HMAC_KEY)
    make_operator()
    return live_server


def test_the_operator_sees_the_picture_the_player_and_the_pdf_link(wired, waha_simulator, browser):
    client = ClientFactory(name="Ana Lima", phone=f"+{PHONE}")
    ChargeFactory(client=client)
    waha_simulator.inbound(PHONE, "", media=tiny_png(), mimetype="image/png", filename="comprovante.png")
    waha_simulator.inbound(PHONE, "", media=b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", mimetype="application/pdf")
    waha_simulator.inbound(PHONE, "", media=b"OggS\x00\x02" + b"\x00" * 40, mimetype="audio/ogg; codecs=opus")
    wait_for(
        lambda: Attachment.objects.filter(status=Attachment.Status.STORED).count() == 3,
        timeout=20,
        message="three files stored",
    )
    conversation = Conversation.objects.get(client=client)

    session = open_session(browser, wired.url, "desktop")
    page = session.page
    page.goto(f"{wired.url}/painel/conversas/{conversation.pk}/")
    image = page.locator(".wa-attachment[data-kind=image] img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 2", arg=image.element_handle())
    expect(page.locator(".wa-attachment[data-kind=audio] audio")).to_have_attribute("controls", "")
    pdf = page.locator(".wa-attachment[data-kind=pdf] a")
    expect(pdf).to_contain_text("PDF enviado pelo cliente")
    with page.expect_download() as download:
        pdf.click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert not session.errors, session.errors
    session.context.close()
