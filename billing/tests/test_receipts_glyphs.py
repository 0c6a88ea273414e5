"""The e2eid tail's look-alikes told apart by drawing them (billing.receipts.glyphs) and the candidates a
re-read may hold (billing.receipts.fields.e2eid_candidates). The crops are drawn here with the installed
fonts, the way a phone draws the id: no Tesseract needed."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from billing.receipts import glyphs
from billing.receipts.fields import e2eid_candidates

TRUE_ID = "E00360305202602141701PQ0TE27NIEN"
HEX_ID = "E60701190202604110424f1c0d1e87la"


@pytest.fixture
def fonts():
    if not glyphs._fonts():
        message = "Fontes DejaVu/Liberation ausentes (fonts-dejavu-core, fonts-liberation)."
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _crop(rows: list[str], font_file: str, size: int, blur: float = 0.0) -> Image.Image:
    """The id as a phone app draws it: grey text on white, one or two rows, slightly soft."""
    font = None
    for folder in glyphs.FONT_DIRS:
        if (folder / font_file).exists():
            font = ImageFont.truetype(str(folder / font_file), size)
    assert font is not None
    width = int(max(font.getlength(row) for row in rows)) + 24
    image = Image.new("L", (width, round(size * 1.6 * len(rows)) + 8), 255)
    draw = ImageDraw.Draw(image)
    for n, row in enumerate(rows):
        draw.text((12, 6 + n * round(size * 1.6)), row, font=font, fill=30)
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


def test_a_re_read_with_one_character_too_many_offers_each_drop():
    read = "E6O7O119O2O26O4I1O424f1c0d1le87la"  # 12 tail characters: an "l" seen twice
    candidates = e2eid_candidates(read)
    assert candidates[0] == "E60701190202604110424f1c0d1le87l"  # as read, the digits repaired, cut at 11
    assert HEX_ID in candidates
    assert all(len(c) == 32 and c.startswith("E6070119020260411042") for c in candidates)
    assert e2eid_candidates("E60701190202604110424f1c0d1e87la") == [HEX_ID]
    assert e2eid_candidates("E60701190202613110424f1c0d1e87la") == []  # month 13: no id at all


def test_o_read_for_zero_and_l_for_i_are_put_right_in_a_proportional_font(fonts):
    crop = _crop([TRUE_ID], "DejaVuSans.ttf", 30, blur=0.6)
    misread = "E00360305202602141701PQOTE27NlEN"
    assert glyphs.refine_tail(crop, [misread]) == TRUE_ID


def test_look_alikes_are_judged_in_a_narrow_font_too(fonts):
    truth = "E10573521202604102030N06P1IXUWD1"
    crop = _crop([truth], "LiberationSansNarrow-Regular.ttf", 28, blur=0.5)
    assert glyphs.refine_tail(crop, ["E10573521202604102030NO6P1lXUWD1"]) == truth


def test_the_right_drop_is_chosen_when_the_re_read_had_an_extra_character(fonts):
    crop = _crop([HEX_ID], "LiberationSans-Regular.ttf", 30, blur=0.5)
    candidates = e2eid_candidates("E60701190202604110424f1c0d1le87la")
    assert candidates[0] != HEX_ID
    assert glyphs.refine_tail(crop, candidates) == HEX_ID


def test_an_id_wrapped_on_two_rows_is_judged_row_by_row(fonts):
    truth = "E00416968202607292238PG05RC955A8"
    crop = _crop([truth[:18], truth[18:]], "DejaVuSans.ttf", 32, blur=0.6)
    assert glyphs.refine_tail(crop, ["E00416968202607292238PG05RC9S5AB"]) == truth
    assert glyphs.refine_tail(crop, ["E00416968202607292238PG05RC9S5A8"]) == truth


def test_a_picture_that_is_not_the_id_changes_nothing(fonts):
    misread = "E00360305202602141701PQOTE27NlEN"
    blank = Image.new("L", (600, 40), 255)
    assert glyphs.refine_tail(blank, [misread]) == misread
    other_text = _crop(["Comprovante de transferência Pix"], "DejaVuSans.ttf", 30)
    assert glyphs.refine_tail(other_text, [misread]) == misread
    assert glyphs.refine_tail(blank, []) is None
