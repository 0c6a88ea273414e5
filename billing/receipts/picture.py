"""The ink of the end-to-end id's crop (dark text on light, as `ocr.clean` leaves it): its text rows, the
extent of a profile, the capitals' height of a row, and where a drawing matches it best (normalised
cross-correlation). Pure numpy: `billing.receipts.glyphs` draws the candidates and judges them with these."""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image


def ink_of(image: Image.Image) -> np.ndarray:
    """0 for the background, 1 for full ink: the picture is dark text on light (as `ocr.clean` leaves it),
    the background not always white (a card's grey), the text not always black."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    paper, ink = float(np.median(grey)), float(np.percentile(grey, 1))
    if paper - ink < 32:  # no text at all
        return np.zeros_like(grey)
    return np.clip((paper - grey) / (paper - ink), 0.0, 1.0)


def extent(profile: np.ndarray, share: float = 0.05) -> tuple[int, int] | None:
    """(first, last + 1) of the cells of a profile above `share` of its maximum; None when it is empty."""
    if not profile.size or profile.max() <= 0:
        return None
    cells = np.flatnonzero(profile > profile.max() * share)
    return int(cells[0]), int(cells[-1]) + 1


def text_rows(ink: np.ndarray) -> list[tuple[int, int]]:
    """The text rows of a crop (top, bottom), from its horizontal ink profile; slivers dropped."""
    profile = ink.sum(axis=1)
    if not profile.size or profile.max() <= 0:
        return []
    dark = profile > profile.max() * 0.03
    rows, start = [], None
    for y, on in enumerate([*dark.tolist(), False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            rows.append((start, y))
            start = None
    tallest = max((b - a for a, b in rows), default=0)
    rows = [(a, b) for a, b in rows if b - a >= tallest * 0.5]
    # Thin strokes fall under the threshold (a "g"'s hook: 1-3 % of the row's darkest line): each row
    # grows over the faint ink touching it, then a few pixels more.
    faint = profile > profile.max() * 0.005
    edges = [0] + [(b + a) // 2 for (_, b), (a, _) in itertools.pairwise(rows)] + [len(profile)]
    grown = []
    for n, (a, b) in enumerate(rows):
        while a > edges[n] and faint[a - 1]:
            a -= 1
        while b < edges[n + 1] and faint[b]:
            b += 1
        grown.append((max(a - 4, edges[n]), min(b + 4, edges[n + 1])))
    return grown


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / norm if norm else 0.0


def best_match(picture: np.ndarray, template: np.ndarray, left: int, top: int, dxs: int, dys: int):
    """(best correlation, dx, dy) of `template` placed around (left, top) in `picture`."""
    height, width = template.shape
    best = (-1.0, 0, 0)
    for dy in range(-dys, dys + 1):
        for dx in range(-dxs, dxs + 1):
            x, y = left + dx, top + dy
            if x < 0 or y < 0:
                continue
            window = picture[y : y + height, x : x + width]
            if window.shape == template.shape:
                score = ncc(window, template)
                if score > best[0]:
                    best = (score, dx, dy)
    return best


def cap_box(ink: np.ndarray, share: float) -> tuple[int, int, int] | None:
    """(left, cap top, cap bottom) of a row of ink, the cap height measured on its first `share` of width:
    the id's digits, all as high as a capital (a tail letter may reach below or above)."""
    columns = extent(ink.sum(axis=0))
    if columns is None:
        return None
    x0, x1 = columns
    cap = extent(ink[:, x0 : x0 + max(1, int((x1 - x0) * share))].sum(axis=1))
    return (x0, *cap) if cap else None
