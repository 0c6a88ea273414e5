"""What a debtor's file really is, from its first bytes (never from the type his phone declared).

Only what the inbox can show safely is kept: JPEG, PNG and WebP pictures, PDF documents and the audio formats
WhatsApp uses (OGG/Opus voice notes, MP3, M4A/MP4 audio, AMR, WAV). Anything else (an executable, HTML, SVG,
a ZIP, a video) is refused: its bytes are not stored."""

from __future__ import annotations

# (kind, content type, file extension) by signature.
IMAGE, PDF, AUDIO = "image", "pdf", "audio"


def sniff(content: bytes) -> tuple[str, str, str] | None:
    """(kind, content type, extension) of a file by its magic bytes, or None when it is none of the kept
    formats."""
    head = content[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return IMAGE, "image/jpeg", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE, "image/png", "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return IMAGE, "image/webp", "webp"
    if head.startswith(b"%PDF-"):
        return PDF, "application/pdf", "pdf"
    if head.startswith(b"OggS"):
        return AUDIO, "audio/ogg", "ogg"
    if head.startswith(b"#!AMR"):
        return AUDIO, "audio/amr", "amr"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AUDIO, "audio/wav", "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return AUDIO, "audio/mpeg", "mp3"
    if head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B ", b"mp42", b"isom", b"dash"):
        # An MP4 container: WhatsApp sends voice and music this way; a video would need a player we do not
        # offer, so it is kept only when WAHA announced audio (see `conversations.services`).
        return AUDIO, "audio/mp4", "m4a"
    return None
