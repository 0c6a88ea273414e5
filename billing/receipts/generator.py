"""Test receipts: Pix receipts drawn in the six layouts of `billing.receipts.layouts`, with what phones do to
them (screen sizes, JPEG compression, dark mode, a slight rotation), as PDFs with a text layer and without,
and edited fakes (amount or recipient changed after the payment). Every file's truth goes to `labels.json`.

Deterministic for a seed: the tuning seed and the measuring seed give different receipts. Used by
`manage.py generate_receipts`, the tests and bench/bench_receipts.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
import string
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from PIL import Image

from billing.receipts import documents
from billing.receipts.banks import BANKS
from billing.receipts.canvas import Canvas, font_path
from billing.receipts.checks import Creditor
from billing.receipts.layouts import LAYOUTS, Layout, Shown

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# fpdf2 subsets the fonts with fontTools, which logs every table it prunes.
logging.getLogger("fontTools").setLevel(logging.WARNING)
SCREENS = ((1080, 2340), (1080, 1920), (720, 1600), (1170, 2532), (828, 1792), (1080, 2400))
FIRST = (
    "Maria José Ana João Francisca Antônio Luiza Carlos Paulo Juliana Márcia Rafael Fernanda Lucas Aline "
    "Sebastião Patrícia Gabriel Tânia Diego"
).split()
LAST = (
    "Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Ribeiro Carvalho Araújo "
    "Conceição "
    "Nascimento Barbosa Moreira Melo Cardoso"
).split()
COMPANY_WORDS = ["Comercial", "Distribuidora", "Serviços", "Atacado", "Mercado", "Construtora", "Auto Peças"]
FAKE_KINDS = ("amount_all", "amount_header", "recipient_name", "recipient_full")


def _check_digits(base: list[int], weights_from: int) -> int:
    total = sum(d * w for d, w in zip(base, range(weights_from, 1, -1), strict=False))
    return 0 if total % 11 < 2 else 11 - total % 11


def random_cpf(rng: random.Random) -> str:
    base = [rng.randrange(10) for _ in range(9)]
    base.append(_check_digits(base, 10))
    base.append(_check_digits(base, 11))
    return "".join(map(str, base))


def random_cnpj(rng: random.Random) -> str:
    while True:
        digits = "".join(str(rng.randrange(10)) for _ in range(8)) + "0001"
        for _ in range(2):
            weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][-len(digits) :]
            total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
            digits += str(0 if total % 11 < 2 else 11 - total % 11)
        if documents.cnpj_valid(digits):
            return digits


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"


def _masked_cpf(rng: random.Random) -> str:
    cpf = random_cpf(rng)
    return f"***.{cpf[3:6]}.{cpf[6:9]}-**"


def _e2eid(rng: random.Random, ispb: str, paid_at: dt.datetime) -> str:
    stamp = paid_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M")
    style = rng.random()
    if style < 0.4:
        tail = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11))
    elif style < 0.8:
        tail = rng.choice("sabcdef") + "".join(rng.choice("0123456789abcdef") for _ in range(10))
    else:
        tail = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(11))
    return f"E{ispb}{stamp}{tail}"


def _amount(rng: random.Random) -> Decimal:
    roll = rng.random()
    top = 300 if roll < 0.5 else 1500 if roll < 0.85 else 25000
    return Decimal(rng.randrange(500, top * 100)) / 100


def sample_shown(rng: random.Random, creditor: Creditor, to_creditor: bool) -> Shown:
    """A genuine receipt's facts: to the creditor or to somebody else."""
    ispb = rng.choice(list(BANKS))
    start = dt.datetime(2026, 1, 2, tzinfo=SAO_PAULO)
    paid_at = start + dt.timedelta(seconds=rng.randrange(0, 330 * 86400))
    if to_creditor:
        name, document, key = creditor.name, creditor.document, creditor.key if rng.random() < 0.5 else None
    elif rng.random() < 0.6:
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(LAST)} Ltda"
        document, key = documents.format_document(random_cnpj(rng)), None
    else:
        name, document, key = _person(rng), _masked_cpf(rng), None
    return Shown(
        amounts=[_amount(rng)],
        paid_at=paid_at,
        e2eid=_e2eid(rng, ispb, paid_at),
        recipient_name=name,
        recipient_document=document,
        recipient_bank=BANKS[rng.choice(list(BANKS))],
        recipient_key=key,
        payer_name=_person(rng),
        payer_document=_masked_cpf(rng),
        bank=BANKS[ispb],
        agency=f"{rng.randrange(1, 9999):04d}",
        account=f"{rng.randrange(10000, 9999999)}-{rng.randrange(10)}",
        clock=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        battery=rng.randrange(5, 100),
    )


def make_fake(rng: random.Random, real: Shown, creditor: Creditor, kind: str, layout: Layout) -> Shown:
    """The receipt as a fraudster edits it: the charge's amount over a smaller payment, or the creditor's name
    (and document) over another recipient's."""
    if kind == "amount_all":
        fake_amount = (real.amount() * Decimal(rng.choice(["2", "3", "5", "10"]))).quantize(Decimal("0.01"))
        return replace(real, amounts=[fake_amount] * layout.amount_places)
    if kind == "amount_header":
        fake_amount = (real.amount() * Decimal(rng.choice(["2", "3", "10"]))).quantize(Decimal("0.01"))
        return replace(real, amounts=[fake_amount] + [real.amount()] * (layout.amount_places - 1))
    if kind == "recipient_name":
        return replace(real, recipient_name=creditor.name)
    return replace(real, recipient_name=creditor.name, recipient_document=creditor.document)


def render(layout: Layout, shown: Shown, size: tuple[int, int], dark: bool) -> Canvas:
    palette = layout.palette.dark() if dark else layout.palette
    canvas = Canvas(size[0], size[1], palette, layout.family)
    canvas.status_bar(shown.clock, shown.battery)
    layout.draw(canvas, shown)
    return canvas


def phone_image(canvas: Canvas, rng: random.Random, rotate: float) -> Image.Image:
    image = canvas.image
    if rotate:
        image = image.rotate(
            rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=canvas.palette.bg
        )
    return image


def text_pdf(canvas: Canvas) -> bytes:
    """A PDF whose page is the receipt written as text (selectable, what `pdftotext` reads), like the PDFs the
    apps share."""
    pdf = FPDF(unit="pt", format=(595, 595 * canvas.height / canvas.width))
    pdf.set_auto_page_break(False)
    pdf.add_page()
    ratio = 595 / 1080
    for family, (regular, bold) in {"dejavu": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")}.items():
        pdf.add_font(family, "", str(font_path(regular)))
        pdf.add_font(family, "B", str(font_path(bold)))
    for item in canvas.drawn:
        pdf.set_font("dejavu", "B" if item.bold else "", item.size * ratio * 0.9)
        pdf.text(item.x * ratio, (item.y + item.size) * ratio, item.text)
    return bytes(pdf.output())


def image_pdf(image: Image.Image) -> bytes:
    """A scanned-style PDF: the picture alone, no text layer."""
    pdf = FPDF(unit="pt", format=(image.width * 0.5, image.height * 0.5))
    pdf.add_page()
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    buffer.seek(0)
    pdf.image(buffer, x=0, y=0, w=image.width * 0.5, h=image.height * 0.5)
    return bytes(pdf.output())


def _label(shown: Shown, layout: Layout) -> dict:
    paid_at = shown.paid_at if layout.seconds else shown.paid_at.replace(second=0)
    return {
        "amount": f"{shown.amount(0):.2f}",
        "paid_at": paid_at.isoformat(),
        "e2eid": shown.e2eid,
        "recipient_name": shown.recipient_name,
        "recipient_document": shown.recipient_document,
        "payer_name": shown.payer_name,
        "bank": shown.bank,
    }


def generate_one(
    rng: random.Random, index: int, creditor: Creditor, fake_rate: float
) -> tuple[str, bytes, dict]:
    """(file name, bytes, label) of receipt number `index`."""
    layout = LAYOUTS[index % len(LAYOUTS)] if index < len(LAYOUTS) else rng.choice(LAYOUTS)
    fake = rng.choice(FAKE_KINDS) if rng.random() < fake_rate else None
    if fake == "amount_header" and layout.amount_places < 2:
        fake = "amount_all"
    real = sample_shown(rng, creditor, to_creditor=fake not in ("recipient_name", "recipient_full"))
    shown = make_fake(rng, real, creditor, fake, layout) if fake else real
    size = rng.choice(SCREENS)
    dark = rng.random() < 0.2
    rotate = round(rng.uniform(-3, 3), 1) if rng.random() < 0.25 else 0.0
    canvas = render(layout, shown, size, dark)
    roll = rng.random()
    if roll < 0.15:
        kind, ext, content = "pdf_text", "pdf", text_pdf(canvas)
    elif roll < 0.27:
        kind, ext, content = "pdf_image", "pdf", image_pdf(phone_image(canvas, rng, rotate))
    else:
        image = phone_image(canvas, rng, rotate)
        buffer = io.BytesIO()
        if rng.random() < 0.3:
            kind, ext = "png", "png"
            image.save(buffer, "PNG")
        else:
            kind, ext = "jpeg", "jpg"
            image.save(buffer, "JPEG", quality=rng.randrange(40, 96))
        content = buffer.getvalue()
    name = f"receipt_{index:04d}.{ext}"
    label = {
        "file": name,
        "layout": layout.name,
        "format": kind,
        "size": list(size),
        "dark": dark,
        "rotation": rotate if kind != "pdf_text" else 0.0,
        "fake": fake,
        "shown": _label(shown, layout),
        "real": {**_label(real, layout), "to_creditor": real.recipient_document == creditor.document},
    }
    return name, content, label


def generate(out: Path, *, count: int, seed: int, creditor: Creditor, fake_rate: float = 0.1) -> list[dict]:
    """Write `count` receipts and `labels.json` into `out`; return the labels."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    labels = []
    for index in range(count):
        name, content, label = generate_one(rng, index, creditor, fake_rate)
        (out / name).write_bytes(content)
        labels.append(label)
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
    return labels
