"""Telling look-alike characters apart in the end-to-end id's random tail (O/0, I/l/1, S/5, B/8, Z/2...) by
drawing each candidate and comparing it with the picture.

Tesseract reads the tail without any word to lean on, and on phone text the look-alikes differ by a pixel or
two. But their *shapes in context* differ much more: in a sans font "O" is far wider than "0", so every
character after it sits elsewhere; "1" has a flag, "l" is taller than "I". So, for the id line Tesseract
read, we find the installed font that draws that line most like the picture, then for each tail character
that has look-alikes we draw the line with each look-alike in its place and keep the one whose drawing of
that character and its two neighbours matches the picture best (normalised cross-correlation, allowing a
few pixels of shift). Pure Pillow + numpy; a few hundred milliseconds at most.

The fonts are the ones installed on this machine (DejaVu and Liberation, from Debian packages): they draw
like the common sans fonts of the apps, but a receipt in a very different font gains less (no font fits
well, and then nothing is changed: see MIN_FIT)."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from billing.receipts.lookalikes import choices_for, fit_tail, tail_alphabets
from billing.receipts.picture import best_match, cap_box, extent, ink_of, text_rows

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSansNarrow-Regular.ttf",
    "LiberationSansNarrow-Bold.ttf",
)  # fmt: skip
RENDER_SIZE = 48  # pixels per em of the drawings (scaled onto the picture)
CAP = 24  # the picture is zoomed so that the id's digits are this many pixels high
BLUR = 0.5  # pixels of Gaussian blur on both sides of a comparison: a crisp drawing and a soft photo
MIN_FIT = 0.6  # below this correlation no installed font draws the id like the picture: change nothing
PASSES = 2
MARGIN = 0.005  # a look-alike replaces what Tesseract read only when it matches clearly better
CELL_MARGIN = 0.1  # look-alikes scoring within this of the best are judged again on their own cell
FLAT_TOPS = "EBDFHKLMNPRTUZ57"  # capitals and digits whose top is a flat bar at the capitals' height
FLAT_BOTTOMS = "EBDLZ12"  # capitals and digits whose bottom is a flat bar on the line
CHUNK = 4  # characters drawn at a time when judging how well a font fits a row


@cache
def _fonts() -> tuple[ImageFont.FreeTypeFont, ...]:
    found = []
    for name in FONT_FILES:
        for folder in FONT_DIRS:
            if (folder / name).exists():
                found.append(ImageFont.truetype(str(folder / name), RENDER_SIZE))
                break
    return tuple(found)


def _resize(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    picture = Image.fromarray(np.clip(ink * 255, 0, 255).astype(np.uint8))
    picture = picture.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR)
    return np.asarray(picture.filter(ImageFilter.GaussianBlur(BLUR)), np.float32) / 255


@lru_cache(maxsize=16)  # the same row is drawn again for each font step and each choice; bounded memory
def _draw(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    _left, _top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right + 4, bottom + 4), 255)
    ImageDraw.Draw(canvas).text((2, 2), text, font=font, fill=0)
    return 1.0 - np.asarray(canvas, dtype=np.float32) / 255.0


@cache
def _band(font: ImageFont.FreeTypeFont) -> tuple[int, int]:
    """The rows of a drawing from the tallest ascender to the deepest descender: the same for every
    candidate, so a "Q" and an "O" are compared over the same rows (the Q's tail counts)."""
    return max(0, 2 + font.getbbox("lbdfhk")[1] - 1), 2 + font.getbbox("gjpqyQ")[3] + 1


class _Row:
    """A row of the picture zoomed to CAP, and where a drawing of its text in the chosen font lands on it."""

    def __init__(self, ink: np.ndarray, text: str, zoom: float):
        self.text = text
        self.pad = 16  # room for a drawing's ascenders and descenders beyond the row's ink
        self.picture = np.pad(_resize(ink, round(ink.shape[1] * zoom), round(ink.shape[0] * zoom)), self.pad)
        self.font, self.scale, self.left, self.top, self.fit = None, 1.0, 0, 0, -1.0

    def place(self, font, scale: float, left: int, top: int, first: int, last: int, dxs: int, dys: int):
        """(correlation, dx, dy) of characters first..last-1 drawn at `scale`, the drawing's ink left at
        `left` and its top at `top` in the picture."""
        drawing = _draw(font, self.text)
        ink_left = extent(drawing.sum(axis=0))[0]
        start = ink_left if first == 0 else int(2 + font.getlength(self.text[:first]))
        end = int(np.ceil(2 + font.getlength(self.text[:last])))
        band = _band(font)
        piece = drawing[band[0] : band[1], start:end]
        if piece.size == 0:
            return (-1.0, 0, 0)
        template = _resize(piece, round(piece.shape[1] * scale), round(piece.shape[0] * scale))
        x = left + round((start - ink_left) * scale)
        return best_match(self.picture, template, x, top + round(band[0] * scale), dxs, dys)

    def chunked(self, font, scale: float, left: int, top: int, dys: int) -> tuple[float, int, int]:
        """How well the whole row, drawn `CHUNK` characters at a time, matches the picture: each piece may
        move a few pixels from where the previous one ended up, so a misread wide letter ("O" for "0") costs
        only its own piece. (mean correlation weighted by width, the first piece's dx and dy)"""
        total = weight = 0.0
        dx_sum = dy_sum = 0
        offsets = []
        for start in range(0, len(self.text), CHUNK):
            end = min(len(self.text), start + CHUNK)
            score, dx, dy = self.place(font, scale, left + dx_sum, top + dy_sum, start, end, 3, dys)
            dx_sum, dy_sum = dx_sum + dx, dy_sum + dy
            offsets.append((dx_sum, dy_sum))
            dys = 1  # the row's height is found on the first piece
            total += score * (end - start)
            weight += end - start
        self.trial_offsets = offsets
        return total / weight, 0, 0

    def fit_font(self, fonts, known: int, picture_cap: tuple[int, int, int], zoom: float, width: int) -> None:
        """The font whose drawing of the whole row matches best (the digits alone cannot tell a monospaced
        font from a proportional one: their digits all have one width), at the scale of the row's width (a
        misread tail letter changes it by a percent at most; the digits' height, by one pixel of blur, 4 %).
        The digits give the height to align on."""
        p_left, p_top, _ = (round(v * zoom) + self.pad for v in picture_cap)
        for font in fonts:
            drawing = _draw(font, self.text)
            drawn_cap = cap_box(drawing, 0.8 * known / len(self.text))
            if drawn_cap is None:
                continue
            _, d_top, _ = drawn_cap
            d_left, d_right = extent(drawing.sum(axis=0))
            scale = width * zoom / (d_right - d_left)
            top = p_top - round(d_top * scale)
            score, dx, dy = self.chunked(font, scale, p_left, top, 2)
            if score > self.fit:
                self.font, self.scale, self.fit = font, scale, score
                self.left, self.top, self.offsets = p_left + dx, top + dy, self.trial_offsets

    def follow(self, other: _Row, zoom: float, ink_left: int) -> None:
        """Place this row (the id's next one) with the font and scale of `other`: search where it sits."""
        self.font, self.scale = other.font, other.scale
        left = round(ink_left * zoom) + self.pad
        drawing = _draw(self.font, self.text)
        band = extent(drawing.sum(axis=1))
        middle = round((self.picture.shape[0] - (band[0] + band[1]) * self.scale) / 2)
        self.fit, dx, dy = self.chunked(self.font, self.scale, left, middle, 6)
        self.left, self.top, self.offsets = left + dx, middle + dy, self.trial_offsets

    def replace_text(self, text: str) -> None:
        """The row's text corrected: where its pieces sit is found again."""
        self.text = text
        self.chunked(self.font, self.scale, self.left, self.top, 0)
        self.offsets = self.trial_offsets

    def best(self, position: int, choices: str) -> str:
        """The choice for the character at `position` whose drawing, with its two neighbours, fits best.
        The shift found is kept for the next characters (small scale errors add up along the row). When
        `choices` leave out the character read (it is outside the tail's alphabet), the best of them
        replaces it whatever the margin."""
        current = self.text[position]
        left, top = self._anchor(position)
        scores = {}
        for choice in choices:
            saved, self.text = self.text, self.text[:position] + choice + self.text[position + 1 :]
            first, last = max(0, position - 1), position + 2
            scores[choice] = self.place(self.font, self.scale, left, top, first, last, 2, 0)
            self.text = saved
        chosen = max(scores, key=lambda c: (scores[c][0], c == current))
        unclear = current in scores and scores[chosen][0] < scores[current][0] + MARGIN
        if unclear or (current in scores and scores[chosen][0] < MIN_FIT):
            chosen = current  # not clearly better, or the drawing has lost its place on the row
        chosen = self._by_cell(position, left, top, scores, chosen)
        if chosen in "Il" and {"I", "l"} <= set(scores):
            chosen = self._taller_or_not(position, left + scores[chosen][1], top) or chosen
        if chosen in "O0D" and "D" in scores and len(scores) > 1:
            chosen = self._stem_or_not(position, left + scores[chosen][1], top, scores, chosen)
        if chosen in "QO0D" and "Q" in scores:
            deeper = self._deeper_or_not(position, left + scores[chosen][1], top)
            if deeper == "Q":
                chosen = "Q"
            elif deeper == "O" and chosen == "Q":  # nothing reaches below the line: the best of the others
                chosen = max((c for c in scores if c != "Q"), key=lambda c: scores[c][0])
        self.text = self.text[:position] + chosen + self.text[position + 1 :]
        return chosen

    def _by_cell(self, position: int, left: int, top: int, scores: dict, chosen: str) -> str:
        """Of the look-alikes scoring within CELL_MARGIN of `chosen`, the one whose own cell (advance width,
        ascender to descender) fits best: over three characters an 8's waist or an F's lower bar are a few
        pixels among many. Not for a glyph reaching left of its cell (a "j"'s hook): its cell cuts it off."""
        if scores[chosen][0] < MIN_FIT or self.font.getbbox(chosen)[0] < 0:
            return chosen
        close = [c for c in scores if scores[c][0] >= scores[chosen][0] - CELL_MARGIN]
        close = [c for c in close if self.font.getbbox(c)[0] >= 0]
        if len(close) < 2:
            return chosen
        saved, cell = self.text, {}
        for choice in close:
            self.text = saved[:position] + choice + saved[position + 1 :]
            cell[choice] = self.place(self.font, self.scale, left, top, position, position + 1, 2, 1)[0]
        self.text = saved
        return max(cell, key=lambda c: (cell[c], c == chosen))

    def _anchor(self, position: int) -> tuple[int, int]:
        """Where the drawing's origin sits for judging the character at `position`: from where its piece of
        the row was found, moved to fit the (already judged) characters before it: the character itself may
        be a misread wide letter that would pull the drawing off."""
        shift_x, shift_y = self.offsets[max(0, position - 3) // CHUNK]
        left, top = self.left + shift_x, self.top + shift_y
        if position < 2:
            return left, top
        _, dx, dy = self.place(self.font, self.scale, left, top, max(0, position - 3), position, 5, 2)
        return left + dx, top + dy

    def _top_gap(self, position: int, left: int, top: int) -> float | None:
        """How far (pixels) the ink of the character at `position` starts above where the drawing puts the
        top of that same character: the picture's top edge is where its ink crosses one half."""
        column, expected = self._column(position, left, top, bottom=False)
        if column is None:
            return None
        y = int(np.argmax(column >= 0.5))
        if y == 0:
            return None
        edge = y - (column[y] - 0.5) / max(1e-6, column[y] - column[y - 1])  # where it crosses one half
        return expected - edge

    def _bottom_gap(self, position: int, left: int, top: int) -> float | None:
        """How far (pixels) the ink of the character at `position` ends below where the drawing puts the
        bottom of that same character (the picture's edge where its ink crosses one half)."""
        column, expected = self._column(position, left, top, bottom=True, inner=True)
        if column is None:
            return None
        y = len(column) - 1 - int(np.argmax(column[::-1] >= 0.5))
        if y >= len(column) - 1:
            return None
        edge = y + (column[y] - 0.5) / max(1e-6, column[y] - column[y + 1])
        return edge - expected

    def _column(self, position: int, left: int, top: int, bottom: bool, inner: bool = False):
        """(the picture's darkest ink per row over the character at `position`'s width, where the drawing
        puts that character's top or bottom edge), (None, None) when there is no ink there. `inner`: over
        the middle of its width only, clear of a neighbour's descender ("J", "g") a pixel off."""
        drawing = _draw(self.font, self.text)
        ink_left = extent(drawing.sum(axis=0))[0]
        start = 2 + self.font.getlength(self.text[:position])
        end = 2 + self.font.getlength(self.text[: position + 1])
        if inner:
            start, end = start + (end - start) * 0.25, end - (end - start) * 0.15
        x0 = left + round((start - ink_left) * self.scale)
        x1 = left + round((end - ink_left) * self.scale)
        edge = 2 + self.font.getbbox(self.text[position])[3 if bottom else 1]
        column = self.picture[:, max(0, x0) : max(0, x1)].max(axis=1) if x1 > x0 else None
        if column is None or column.size == 0 or column.max() < 0.5:
            return None, None
        return column, top + edge * self.scale

    def _stem_or_not(self, position: int, left: int, top: int, scores: dict, chosen: str) -> str:
        """ "D" or the best-scoring of the round ones ("O", "0"): the D's left side is a straight stem, ink
        over its whole height, where a round letter's left edge touches a few rows only (NCC over three
        characters sees the corners hardly more than a pixel of width). The picture's share of inked rows in
        the character's leftmost ink columns is compared with the same share on each one's drawing."""
        picture_share = self._stem_share(self._cell(position, left, top))
        if picture_share is None:
            return chosen
        round_one = max((c for c in scores if c in "O0"), key=lambda c: scores[c][0], default=None)
        if round_one is None:
            return chosen
        shares = {c: self._stem_share(self._drawn_cell(c)) for c in ("D", round_one)}
        if None in shares.values():
            return chosen
        return min(shares, key=lambda c: abs(shares[c] - picture_share))

    def _cell(self, position: int, left: int, top: int) -> np.ndarray:
        """The picture under the character at `position`, from the capitals' top to the line."""
        drawing = _draw(self.font, self.text)
        ink_left = extent(drawing.sum(axis=0))[0]
        start = 2 + self.font.getlength(self.text[:position])
        end = 2 + self.font.getlength(self.text[: position + 1])
        x0 = left + round((start - ink_left) * self.scale)
        x1 = left + round((end - ink_left) * self.scale)
        y0, y1 = (top + round((2 + edge) * self.scale) for edge in self.font.getbbox("H")[1::2])
        return self.picture[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]

    def _drawn_cell(self, char: str) -> np.ndarray:
        """`char` drawn alone in the row's font, at its scale and with the picture's blur."""
        drawing = _draw(self.font, char)
        y0, y1 = (2 + edge for edge in self.font.getbbox("H")[1::2])
        piece = drawing[y0:y1, 2 : 2 + max(1, round(self.font.getlength(char)))]
        return _resize(piece, round(piece.shape[1] * self.scale), round(piece.shape[0] * self.scale))

    @staticmethod
    def _stem_share(cell: np.ndarray) -> float | None:
        if cell.size == 0 or cell.shape[0] < 4:
            return None
        columns = np.flatnonzero(cell.max(axis=0) >= 0.5)
        if not columns.size:
            return None
        stem = cell[:, columns[0] : columns[0] + 2].max(axis=1)
        return float((stem >= 0.5).mean())

    def _deeper_or_not(self, position: int, left: int, top: int) -> str | None:
        """ "Q" or "O" (standing for any of "O", "0", "D") by depth: the Q's tail reaches below the line where
        the others end (a pixel or two of a thin stroke, which NCC over three characters hardly sees);
        None when it cannot be measured. Measured against the nearest flat-bottomed capitals and digits, so
        the blur's widening of an edge cancels out."""
        return self._nearer_edge(position, left, top, "QO", FLAT_BOTTOMS, self._bottom_gap)

    def _taller_or_not(self, position: int, left: int, top: int) -> str | None:
        """ "I" or "l" by height: "l" rises above the capitals and digits by 3-4 % of the text's size (a
        pixel or so: NCC alone hardly sees it). Measured against the nearest flat-topped capitals and
        digits, so the blur's own widening of an edge cancels out."""
        return self._nearer_edge(position, left, top, "Il", FLAT_TOPS, self._top_gap)

    def _nearer_edge(self, position: int, left: int, top: int, choices: str, flat: str, gap) -> str | None:
        """Of `choices`, the one whose drawn edge (`gap`: `_top_gap` or `_bottom_gap`) lies where the
        picture's does, once the edge's offset on the nearest 3 characters of `flat` (flat at that edge) is
        taken off; None when it cannot be measured."""
        saved = self.text
        nearest = sorted(
            (n for n, c in enumerate(saved) if c in flat and n != position), key=lambda n: abs(n - position)
        )[:3]
        bias = [b for b in (gap(n, *self._anchor(n)) for n in nearest) if b is not None]
        if not bias:
            return None
        gaps = {}
        for choice in choices:
            self.text = saved[:position] + choice + saved[position + 1 :]
            gaps[choice] = gap(position, left, top)
        self.text = saved
        if None in gaps.values():
            return None
        calibrated = {c: abs(g - float(np.median(bias))) for c, g in gaps.items()}
        return min(calibrated, key=calibrated.get)


def refine_tail(crop: Image.Image, candidates: list[str], tail_from: int = 21) -> str | None:
    """The id `crop` shows (the picture of the id on one or two rows): of `candidates` (what Tesseract read,
    and the same with one character of the tail dropped when it read one too many), the one whose drawing
    fits the picture best, then each look-alike of its tail replaced by the one that looks most like the
    picture. The first candidate unchanged when no installed font draws the id like the picture."""
    try:
        return _refine(crop, candidates, tail_from)
    finally:
        _draw.cache_clear()  # a worker reads receipts for hours: keep no drawings between them


def _refine(crop: Image.Image, candidates: list[str], tail_from: int) -> str | None:
    fonts = _fonts()
    candidates = [c for c in dict.fromkeys(candidates) if len(c) == 32]
    if not fonts or not candidates:
        return fit_tail(candidates[0], tail_from) if candidates else None
    ink = ink_of(crop)
    rows = text_rows(ink)
    best = None
    for candidate in candidates:
        tried = fonts if best is None else (best[1][0][0].font,)
        placed = _place_rows(ink, rows, candidate, tail_from, tried)
        if placed is not None:
            fit = sum(row.fit * (last - first) for row, first, last in placed) / len(candidate)
            if best is None or fit > best[0] + 0.005:
                best = (fit, placed, candidate)
    if best is None or best[0] < MIN_FIT:
        return fit_tail(candidates[0], tail_from)
    _, placed, chosen = best
    alphabets = tail_alphabets(chosen[tail_from:]) or [None] * (len(chosen) - tail_from)
    result = list(chosen)
    for row, first, last in placed:
        for n in range(PASSES):  # again: a character judged beside a misread neighbour may change
            if n:
                row.replace_text("".join(result[first:last]))
            for position in range(max(first, tail_from), last):
                choices = choices_for(result[position], alphabets[position - tail_from])
                if len(choices) > 1 or choices != result[position]:
                    result[position] = row.best(position - first, choices)
    return "".join(result)


def _place_rows(ink: np.ndarray, rows: list[tuple[int, int]], e2eid: str, tail_from: int, fonts):
    """[(row, first character, last character)] of the id's rows placed on the picture, None when the crop
    does not look like one or two rows of text starting with the id's digits."""
    if len(rows) == 1:
        spans = [(0, len(e2eid))]
    elif len(rows) == 2:
        spans = _split(ink, rows, e2eid)
    else:
        return None
    (top, bottom), (first, last) = rows[0], spans[0]
    known = min(last, tail_from) - first
    cap = cap_box(ink[top:bottom], 0.8 * known / (last - first)) if known >= 6 else None
    if cap is None or cap[2] - cap[1] < 4:
        return None
    zoom = CAP / (cap[2] - cap[1])
    best, best_fit = None, -1.0
    # Each font on every row: a wrapped id's first row is all digits, which many fonts draw alike.
    for font in fonts:
        placed = []
        for n, ((top, bottom), (first, last)) in enumerate(zip(rows, spans, strict=True)):
            row = _Row(ink[top:bottom], e2eid[first:last], zoom)
            columns = extent(ink[top:bottom].sum(axis=0))
            if columns is None:
                return None
            if n == 0:
                row.fit_font((font,), known, cap, zoom, columns[1] - columns[0])
            else:
                row.follow(placed[0][0], zoom, columns[0])
            if row.font is None:
                break
            placed.append((row, first, last))
        else:
            fit = sum(row.fit * (last - first) for row, first, last in placed) / len(e2eid)
            if fit > best_fit:
                best, best_fit = placed, fit
    return best


def _split(ink: np.ndarray, rows: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Where a wrapped id breaks: the cut whose two halves' drawn widths are in the ratio of the rows'."""
    widths = []
    for top, bottom in rows:
        columns = extent(ink[top:bottom].sum(axis=0))
        widths.append((columns[1] - columns[0]) if columns else 1)
    font = _fonts()[0]
    ratio = widths[0] / max(1, widths[1])
    cut = min(
        range(4, len(text) - 3),
        key=lambda k: abs(font.getlength(text[:k]) / max(1.0, font.getlength(text[k:])) - ratio),
    )
    return [(0, cut), (cut, len(text))]
