"""Drawing helpers for the test receipts (`billing.receipts.generator`): a phone-screen canvas that draws text
with PIL and records every string with its position, so the same receipt can also be written as a PDF with a
real text layer. Fonts come from Debian packages (fonts-dejavu-core, fonts-liberation)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FAMILIES = {
    "dejavu": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "liberation": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    "narrow": ("LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
}


@cache
def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    return FONT_DIRS[0] / ("DejaVuSans-Bold.ttf" if "Bold" in name else "DejaVuSans.ttf")


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


@dataclass(frozen=True)
class Palette:
    bg: tuple[int, int, int]
    fg: tuple[int, int, int]
    muted: tuple[int, int, int]
    accent: tuple[int, int, int]
    card: tuple[int, int, int]
    on_accent: tuple[int, int, int] = (255, 255, 255)

    def dark(self) -> Palette:
        """The app's dark theme: light text on near-black, the accent kept."""
        return Palette(
            bg=(18, 18, 20), fg=(236, 236, 236), muted=(150, 150, 156), accent=self.accent, card=(34, 34, 38)
        )


@dataclass
class Drawn:
    x: float
    y: float
    size: float
    text: str
    bold: bool
    family: str


class Canvas:
    """A phone screen `width` × `height` pixels; sizes are given for a 1080-pixel-wide screen and scaled."""

    def __init__(self, width: int, height: int, palette: Palette, family: str = "dejavu"):
        self.width, self.height = width, height
        self.palette = palette
        self.family = family
        self.scale = width / 1080
        self.image = Image.new("RGB", (width, height), palette.bg)
        self.draw = ImageDraw.Draw(self.image)
        self.drawn: list[Drawn] = []
        self.y = 0.0
        self.margin = 64

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def font(self, size: float, bold: bool = False, family: str | None = None) -> ImageFont.FreeTypeFont:
        regular, heavy = FAMILIES[family or self.family]
        return _font(heavy if bold else regular, self.px(size))

    def width_of(self, text: str, size: float, bold: bool = False, family: str | None = None) -> float:
        return self.draw.textlength(text, font=self.font(size, bold, family)) / self.scale

    def text(
        self, x: float, y: float, text: str, size: float, *, bold=False, color=None, align="left", family=None
    ):
        """Draw `text` with its top-left (or top-right/centre, by `align`) at (x, y) in 1080-wide units."""
        font = self.font(size, bold, family)
        width = self.width_of(text, size, bold, family)
        left = {"left": x, "right": x - width, "center": x - width / 2}[align]
        self.draw.text((self.px(left), self.px(y)), text, font=font, fill=color or self.palette.fg)
        self.drawn.append(Drawn(left, y, size, text, bold, family or self.family))

    def rect(self, x0: float, y0: float, x1: float, y1: float, color, radius: float = 0) -> None:
        box = (self.px(x0), self.px(y0), self.px(x1), self.px(y1))
        self.draw.rounded_rectangle(box, radius=self.px(radius), fill=color)

    def rule(self, gap: float = 28) -> None:
        self.y += gap
        self.rect(self.margin, self.y, 1080 - self.margin, self.y + 2, self.palette.muted)
        self.y += gap

    def status_bar(self, clock: str, battery: int) -> None:
        """The phone's status bar: a clock and the battery, as every screenshot has."""
        self.text(48, 22, clock, 30, bold=True)
        self.text(1032, 22, f"{battery}%", 28, align="right")
        self.y = 90

    def row(self, label: str, value: str, size: float = 34, gap: float = 22) -> None:
        """Label on the left (muted), value on the right (bold), one line."""
        self.text(self.margin, self.y, label, size, color=self.palette.muted)
        self.text(1080 - self.margin, self.y, value, size, bold=True, align="right")
        self.y += size * 1.25 + gap

    def line(
        self, text: str, size: float = 34, *, bold=False, color=None, align="left", gap=18.0, family=None
    ):
        x = {"left": self.margin, "center": 540, "right": 1080 - self.margin}[align]
        self.text(x, self.y, text, size, bold=bold, color=color, align=align, family=family)
        self.y += size * 1.25 + gap

    def stacked(self, label: str, value: str, size: float = 36, gap: float = 30) -> None:
        """Small muted label with the value under it."""
        self.line(label, size * 0.8, color=self.palette.muted, gap=6)
        self.line(value, size, bold=True, gap=gap)

    def wrapped(self, text: str, size: float, per_line: int, **kwargs) -> None:
        for start in range(0, len(text), per_line):
            self.line(text[start : start + per_line], size, **kwargs)
