"""From a file's bytes to text: a PDF's own text layer (poppler's `pdftotext`), else its first page rasterised
(`pdftoppm`, bounded size), and pictures cleaned up for Tesseract (`por`) through pytesseract.

Every external program runs with a timeout and an address-space limit, so a hostile file costs a bounded
amount of time and memory; Tesseract runs on one thread (OMP_THREAD_LIMIT=1: the worker shares the
machine)."""

from __future__ import annotations

import io
import itertools
import os
import re
import resource
import subprocess
import tempfile
from pathlib import Path

import pytesseract
from PIL import Image, ImageFilter, ImageOps, ImageStat

from billing.receipts import glyphs
from billing.receipts.fields import e2eid_candidates
from billing.receipts.files import MAX_PDF_PAGES, MAX_PIXELS, MAX_TEXT_CHARS, ReceiptRefused

# Pillow's own guard raises at 2× this; we refuse before decoding anything.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
TOOL_TIMEOUT = 20  # seconds, per external program
TOOL_MEMORY = 512 * 1024 * 1024  # address space of each external program
RASTER_LONG_SIDE = 2000  # pixels of the rasterised PDF page's long side, whatever its declared size...
RASTER_MAX_LONG_SIDE = 3200  # ...or its picture's own long side, up to this (a phone screenshot: 2340-2532)
OCR_WIDTH = 900  # text on phone screenshots is large: this width keeps it ~25-35 px high, and Tesseract fast
TESSERACT_CONFIG = "--oem 1 --psm 4"
INK_GAIN = 1.8  # how far from the background counts as full ink (1 / 1.8: 55 % of the way to black)


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (TOOL_MEMORY, TOOL_MEMORY))


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        return subprocess.run(  # noqa: S603 - fixed program names, the file is a temporary path
            args, capture_output=True, timeout=TOOL_TIMEOUT, preexec_fn=_limit_memory, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ReceiptRefused("O PDF demorou demais para ser lido: recusado.") from exc


# --- PDF ----------------------------------------------------------------------------------------------------


def pdf_pages(path: Path) -> int:
    done = _run(["pdfinfo", str(path)])
    if done.returncode != 0:
        raise ReceiptRefused("PDF corrompido ou protegido: não foi possível abri-lo.")
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    return 0


def pdf_text(path: Path) -> str:
    """The text layer of the first pages ('' when the PDF is only pictures)."""
    pages = pdf_pages(path)
    if pages > MAX_PDF_PAGES:
        raise ReceiptRefused(f"PDF com páginas demais ({pages}; limite {MAX_PDF_PAGES}).")
    done = _run(["pdftotext", "-layout", "-l", "3", "-enc", "UTF-8", str(path), "-"])
    if done.returncode != 0:
        raise ReceiptRefused("PDF corrompido: não foi possível ler o texto.")
    if len(done.stdout) > MAX_TEXT_CHARS * 4:
        raise ReceiptRefused("PDF com texto demais para um comprovante: recusado.")
    text = done.stdout.decode("utf-8", "replace")
    if len(text) > MAX_TEXT_CHARS:
        raise ReceiptRefused("PDF com texto demais para um comprovante: recusado.")
    return text


def _largest_picture_side(path: Path) -> int:
    """The long side (pixels) of the largest picture on the first page, 0 when there is none: a scanned or
    shared screenshot PDF is one picture over the page, and rasterising it at its own size keeps every pixel
    of the small print (the e2eid's look-alikes are a pixel or two apart)."""
    done = _run(["pdfimages", "-list", "-f", "1", "-l", "1", str(path)])
    if done.returncode != 0:
        return 0
    sides = []
    for line in done.stdout.decode("utf-8", "replace").splitlines()[2:]:
        fields = line.split()
        if len(fields) > 4 and fields[2] == "image" and fields[3].isdigit() and fields[4].isdigit():
            sides.append(max(int(fields[3]), int(fields[4])))
    return max(sides, default=0)


def pdf_first_page(path: Path) -> Image.Image:
    """The first page as a picture, its long side that of the page's largest picture (RASTER_LONG_SIDE at
    least, RASTER_MAX_LONG_SIDE at most): a huge page box or picture cannot blow up."""
    long_side = min(RASTER_MAX_LONG_SIDE, max(RASTER_LONG_SIDE, _largest_picture_side(path)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "page"
        done = _run(
            [
                "pdftoppm",
                "-f",
                "1",
                "-l",
                "1",
                "-gray",
                "-png",
                "-scale-to",
                str(long_side),
                str(path),
                str(out),
            ]
        )
        produced = sorted(Path(tmp).glob("page*.png"))
        if done.returncode != 0 or not produced:
            raise ReceiptRefused("PDF corrompido: não foi possível desenhar a primeira página.")
        with Image.open(produced[0]) as page:
            page.load()
            return page.copy()


# --- Pictures -----------------------------------------------------------------------------------------------


def open_image(content: bytes) -> Image.Image:
    """The picture decoded, after checking its size and frames from the header alone."""
    try:
        image = Image.open(io.BytesIO(content))
    except (Image.DecompressionBombError, Image.UnidentifiedImageError, OSError) as exc:
        raise ReceiptRefused("Imagem corrompida ou grande demais: recusada.") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ReceiptRefused(f"Imagem grande demais ({width}×{height} pixels): recusada.")
    if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
        raise ReceiptRefused("Imagem animada (GIF/WebP/PNG animado) não é um comprovante: recusada.")
    try:
        image.load()
    except (Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ReceiptRefused("Imagem corrompida: recusada.") from exc
    return image


def clean(image: Image.Image) -> Image.Image:
    """Grey scale, light text on dark turned dark on light, contrast stretched, slight rotation straightened;
    at the picture's own resolution (`ocr` resizes it for Tesseract)."""
    grey = ImageOps.exif_transpose(image).convert("L")
    if ImageStat.Stat(grey).median[0] < 110:  # dark mode
        grey = ImageOps.invert(grey)
    grey = ImageOps.autocontrast(grey, cutoff=1)
    return deskew(grey)


def _ink_contrast(grey: Image.Image) -> Image.Image:
    """Coloured text (an app's accent colour, worse in dark mode) turns mid-grey in grey scale: push every
    pixel away from the background, so such text reads as dark as the rest. The background is the median.
    For the page's reading only: the e2eid's re-read keeps the plain strokes (heavier ones blur I/1/l)."""
    background = max(1, int(ImageStat.Stat(grey).median[0]))
    table = [
        round(255 * (1 - min(1.0, max(0.0, (background - v) / background) * INK_GAIN))) for v in range(256)
    ]
    return grey.point(table)


def _for_ocr(image: Image.Image) -> Image.Image:
    """Resized so that phone-screen text is ~25-35 pixels high: small screenshots are enlarged, big ones
    shrunk (Tesseract's time grows with the pixels, not with the text)."""
    scale = OCR_WIDTH / image.width
    if abs(scale - 1) <= 0.05:
        return image
    return image.resize((OCR_WIDTH, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


def _row_profile_score(image: Image.Image, angle: float) -> float:
    rotated = image.rotate(angle, resample=Image.Resampling.NEAREST, expand=False, fillcolor=255)
    dark = rotated.point(lambda v: 255 if v < 128 else 0)
    values = dark.resize((1, dark.height), Image.Resampling.BOX).tobytes()  # one grey byte per row
    return sum((a - b) ** 2 for a, b in itertools.pairwise(values))


def deskew(image: Image.Image) -> Image.Image:
    """Straighten a picture rotated by a few degrees: the angle whose rows of ink are sharpest (text lines
    give a spiky row profile only when level). Searched on a small copy."""
    side = max(1, image.width // 300)
    small = image.resize((max(1, image.width // side), max(1, image.height // side)), Image.Resampling.BOX)
    small = small.filter(ImageFilter.MinFilter(3))
    best, best_score = 0.0, _row_profile_score(small, 0.0)
    for angle in (-4, -3, -2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 3, 4):
        score = _row_profile_score(small, angle)
        if score > best_score * 1.02:
            best, best_score = angle, score
    if best == 0.0:
        return image
    return image.rotate(best, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


ID_START = re.compile(r"E[0-9OoIl|]{8}")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _tesseract_data(image: Image.Image, lang: str, config: str) -> dict:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # pytesseract passes our environment to tesseract
    try:
        return pytesseract.image_to_data(
            image, lang=lang, config=config, output_type=pytesseract.Output.DICT, timeout=TOOL_TIMEOUT
        )
    except RuntimeError as exc:  # pytesseract's timeout
        raise ReceiptRefused("A leitura da imagem demorou demais: recusada.") from exc


def ocr(image: Image.Image) -> tuple[str, float, list[str]]:
    """(text lines, mean word confidence 0–1, the end-to-end id re-read) of a cleaned picture."""
    small = _ink_contrast(_for_ocr(image))
    data = _tesseract_data(small, "por", TESSERACT_CONFIG)
    lines: dict[tuple[int, int, int], list[int]] = {}
    confidences = []
    for i, word in enumerate(data["text"]):
        if not word.strip():
            continue
        lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
        confidences.append(max(0.0, float(data["conf"][i])))
    text = "\n".join(" ".join(data["text"][i] for i in words) for words in lines.values())
    quality = (sum(confidences) / len(confidences) / 100) if confidences else 0.0
    ratio = image.width / small.width  # 1 when `_for_ocr` left the picture at its size
    return text, min(1.0, 0.5 + quality / 2), _reread_id(image, ratio, data, list(lines.values()))


def _reread_id(image: Image.Image, ratio: float, data: dict, lines: list[list[int]]) -> list[str]:
    """The end-to-end id read again from its own crop, enlarged, without the Portuguese dictionary and with
    only letters and digits allowed: the random tail has no words for the language model to lean on, and this
    pass gets O/0, I/1, s/5 right more often (a second re-read with the Portuguese model, voting, was tried:
    worse and slower). The id may wrap onto the next line. What it read (and, when it read one tail
    character too many, each way of dropping one), and what the page's reading had there, then go to
    `glyphs.refine_tail`, which picks the one that draws like the crop and re-judges the tail's look-alikes
    by drawing them."""
    for n, words in enumerate(lines):
        start = next((i for i in words if ID_START.match(data["text"][i])), None)
        if start is None:
            continue
        boxes = words[words.index(start) :]  # the id, and what follows it on its line if it was split
        if sum(len(data["text"][i]) for i in boxes) < 30 and n + 1 < len(lines):
            boxes += lines[n + 1]  # wrapped onto the next line
        # Cut from the full-resolution picture (`ratio` times the small copy Tesseract read): the small
        # copy lost the strokes that tell O from 0.
        left = (min(data["left"][i] for i in boxes) - 10) * ratio
        top = (min(data["top"][i] for i in boxes) - 6) * ratio
        right = (max(data["left"][i] + data["width"][i] for i in boxes) + 10) * ratio
        bottom = (max(data["top"][i] + data["height"][i] for i in boxes) + 6) * ratio
        crop = image.crop((max(0, round(left)), max(0, round(top)), round(right), round(bottom)))
        grow = 2 / ratio
        grown = crop.resize((round(crop.width * grow), round(crop.height * grow)), Image.Resampling.LANCZOS)
        psm = 7 if all(i in words for i in boxes) else 6
        config = f"--oem 1 --psm {psm} -c tessedit_char_whitelist={ID_CHARS}"
        read = "".join(_tesseract_data(grown, "eng", config)["text"]).replace(" ", "")
        # The page's own reading of the id competes too: the crop's re-read of a wrapped id can see a digit
        # twice and lose a tail character, where the page read both rows right. The drawing decides.
        candidates = e2eid_candidates(read) + e2eid_candidates("".join(data["text"][i] for i in boxes))
        if not candidates:
            return [read]
        return [glyphs.refine_tail(crop, candidates)]
    return []
