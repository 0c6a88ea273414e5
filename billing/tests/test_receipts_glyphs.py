"""The e2eid tail's look-alikes told apart by drawing them (billing.receipts.glyphs) and the candidates a
re-read may hold (billing.receipts.fields.e2eid_candidates). The crops are drawn here with the installed
fonts, the way a phone draws the id: no Tesseract needed."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from billing.receipts import glyphs, lookalikes
from billing.receipts.fields import e2eid_candidates, extract

TRUE_ID = "E00360305202602141701PQ0TE27NIEN"
HEX_ID = "E60701190202604110424f1c0d1e87a5"


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
    read = "E6O7O119O2O26O4I1O424f1c0d1le87a5"  # 12 tail characters: an "l" seen where there is none
    candidates = e2eid_candidates(read)
    assert candidates[0] == "E60701190202604110424f1c0d1le87a"  # as read, the digits repaired, cut at 11
    assert HEX_ID in candidates
    assert all(len(c) == 32 and c.startswith("E6070119020260411042") for c in candidates)
    assert e2eid_candidates("E60701190202604110424f1c0d1e87a5") == [HEX_ID]
    assert e2eid_candidates("E60701190202613110424f1c0d1e87a5") == []  # month 13: no id at all


def test_a_j_read_as_a_bracket_or_a_parenthesis_is_a_j_again():
    # Tesseract's Portuguese model reads a tail's "J" as "]" or ")"; its letters-only re-read drops it.
    assert e2eid_candidates("E10573521202606150\n255]98QB9GX30G") == ["E10573521202606150255J98QB9GX30G"]
    assert e2eid_candidates("E02038232202604072302RGMITIV)8IG") == ["E02038232202604072302RGMITIVJ8IG"]
    reading = extract("ID da transação:\nE02038232202604072302RGMITIV]8IG\n")
    assert reading.e2eid == "E02038232202604072302RGMITIVJ8IG"


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
    candidates = e2eid_candidates("E60701190202604110424f1c0d1le87a5")
    assert candidates[0] != HEX_ID
    assert glyphs.refine_tail(crop, candidates) == HEX_ID


def test_an_id_wrapped_on_two_rows_is_judged_row_by_row(fonts):
    truth = "E00416968202607292238PG05RC955A8"
    crop = _crop([truth[:18], truth[18:]], "DejaVuSans.ttf", 32, blur=0.6)
    assert glyphs.refine_tail(crop, ["E00416968202607292238PG05RC9S5AB"]) == truth
    assert glyphs.refine_tail(crop, ["E00416968202607292238PG05RC9S5A8"]) == truth


def test_a_picture_that_is_not_the_id_changes_nothing_but_what_the_tails_shape_rules_out(fonts):
    misread = "E00360305202602141701PqOTe27NlEN"  # mixed case: no shape to hold it to
    blank = Image.new("L", (600, 40), 255)
    assert glyphs.refine_tail(blank, [misread]) == misread
    other_text = _crop(["Comprovante de transferência Pix"], "DejaVuSans.ttf", 30)
    assert glyphs.refine_tail(other_text, [misread]) == misread
    assert glyphs.refine_tail(blank, []) is None
    # Capitals and digits but one "l": an "I" (no drawing can say whether it was a "1").
    fitted = glyphs.refine_tail(blank, ["E00360305202602141701PQOTE27NlEN"])
    assert fitted == "E00360305202602141701PQOTE27NIEN"
    assert glyphs.refine_tail(blank, ["E60701190202604110424f1cOd1e87a5"]) == HEX_ID  # O in lowercase hex: 0


def test_the_tails_shape_is_told_from_what_was_read():
    assert lookalikes.tail_alphabets("f1c0d1e87a5") == [lookalikes.LOWER_TAIL] + [lookalikes.HEX_TAIL] * 10
    assert lookalikes.tail_alphabets("sacaffOo2f7") is not None  # two look-alikes of 0
    assert lookalikes.tail_alphabets("PQ0TE27NIEN") == [lookalikes.UPPER_TAIL] * 11
    assert lookalikes.tail_alphabets("HC5TC7XAKlA") == [lookalikes.UPPER_TAIL] * 11  # one look-alike
    assert lookalikes.tail_alphabets("lzGdErzqTU7") is None  # mixed case
    assert lookalikes.tail_alphabets("HC5TC7XAKlr") is None  # two lowercase: not capitals
    assert lookalikes.tail_alphabets("1234567890A") == [lookalikes.UPPER_TAIL] * 11  # digits alone: not hex
    assert lookalikes.tail_alphabets("a1b2xyzw345") is None  # four not hex nor look-alikes of it
    # Ten digits after the first character: hex (the first a lowercase letter or a digit), not capitals.
    hex_shape = [lookalikes.LOWER_TAIL] + [lookalikes.HEX_TAIL] * 10
    assert lookalikes.tail_alphabets("s6472376582") == hex_shape
    assert lookalikes.tail_alphabets("56472376582") == hex_shape


def test_look_alikes_are_judged_only_within_the_tails_shape(fonts):
    # "l" in a capitals-and-digits tail is an "I" or a "1" (never "l", "i" or "j"): the drawing picks which.
    truth = "E00000000202601180756HC5TC7XAKIA"
    crop = _crop([truth], "LiberationSans-Regular.ttf", 30, blur=0.6)
    assert glyphs.refine_tail(crop, ["E00000000202601180756HC5TC7XAKlA"]) == truth
    truth_1 = "E00000000202601180756HC5TC7XAK1A"
    crop_1 = _crop([truth_1], "LiberationSans-Regular.ttf", 30, blur=0.6)
    assert glyphs.refine_tail(crop_1, ["E00000000202601180756HC5TC7XAKlA"]) == truth_1


def test_the_pages_reading_of_the_id_competes_with_the_crops_re_read(fonts, monkeypatch):
    # The crop's re-read saw a digit twice and lost a tail letter; the page's reading had it right: the
    # drawing tells which one the picture shows.
    from billing.receipts import ocr

    truth = "E60746948202610192109WGUPVZPZDDS"
    drawn = _crop([truth], "DejaVuSans.ttf", 26, blur=0.5)
    page = Image.new("L", (ocr.OCR_WIDTH, drawn.height), 255)
    page.paste(drawn, (0, 0))
    box = {"left": [8], "top": [4], "width": [drawn.width - 16], "height": [drawn.height - 8]}
    data = {"text": [truth], **box}
    misread = {"text": ["E607469482026101921009WGUPVZPZDS"]}
    monkeypatch.setattr(ocr, "_tesseract_data", lambda *args: misread)
    assert ocr._reread_id(page, 1.0, data, [[0]]) == [truth]


def test_the_id_is_cut_where_it_is_on_a_picture_left_at_its_own_size(fonts, monkeypatch):
    # A picture within 5 % of OCR_WIDTH is read as it is (an image-only PDF's page rasterised at 2,000 px
    # is ~920 px wide): the id's box must not be scaled as if it had been resized to OCR_WIDTH (the crop
    # fell tens of pixels off, on the blank below the id, and the drawing could not judge its tail).
    from billing.receipts import ocr

    truth = "E31872495202601221133se4f3649701"
    drawn = _crop([truth], "DejaVuSans.ttf", 22, blur=0.5)
    page = Image.new("L", (round(ocr.OCR_WIDTH * 1.04), 1600), 255)
    page.paste(drawn, (20, 1400))
    box = {"left": [28], "top": [1404], "width": [drawn.width - 16], "height": [drawn.height - 8]}
    page_data = {"text": [truth], "conf": [90], "block_num": [1], "par_num": [1], "line_num": [1], **box}
    crops = []

    def tesseract(image, lang, config):
        if "whitelist" not in config:
            return page_data
        crops.append(image)
        return {"text": [truth]}

    monkeypatch.setattr(ocr, "_tesseract_data", tesseract)
    ocr.ocr(page)
    assert len(crops) == 1
    assert min(crops[0].getdata()) < 128  # the id's ink is in the crop


@pytest.mark.parametrize("font_file", ["DejaVuSans.ttf", "LiberationSans-Regular.ttf", "DejaVuSans-Bold.ttf"])
def test_a_q_is_told_from_an_o_by_its_tail_below_the_line(fonts, font_file):
    for truth, misread in (
        ("E020382322026022413545BTC8GR5K0Q", "E020382322026022413545BTC8GR5K0O"),
        ("E02038232202607221106QJCWEFGTUPR", "E02038232202607221106OJCWEFGTUPR"),
        ("E318724952026101317459IDZGODTXGG", "E318724952026101317459IDZGQDTXGG"),
        ("E01181521202608091950aBtScQBN2n5", "E01181521202608091950aBtScOBN2n5"),
        ("E228964312026020105032FWELLAZMOJ", "E228964312026020105032FWELLAZMQJ"),  # J's hook is not a tail
    ):
        crop = _crop([truth], font_file, 24, blur=0.7)
        assert glyphs.refine_tail(crop, [misread]) == truth, (font_file, truth)


@pytest.mark.parametrize("font_file", ["DejaVuSans.ttf", "LiberationSans-Regular.ttf"])
def test_an_f_read_as_a_one_in_a_hex_tail_is_an_f_again(fonts, font_file):
    # "f" read as "l" (not hex: turned into "1") or as "1" itself: the drawing tells the f's hook and bar.
    truth = "E02038232202605221058b7ff6327241"
    crop = _crop([truth], font_file, 24, blur=0.7)
    assert glyphs.refine_tail(crop, ["E02038232202605221058b7lf6327241"]) == truth
    assert glyphs.refine_tail(crop, ["E02038232202605221058b71f6327241"]) == truth


@pytest.mark.parametrize("size", [16, 18])
def test_a_d_is_told_from_an_o_or_a_zero_by_its_straight_stem(fonts, size):
    for truth, misread in (
        ("E10573521202604051743OICILSO1U8X", "E10573521202604051743DICILSD1U8X"),
        ("E6070119020260106202346FR0A2NV4B", "E6070119020260106202346FRDA2NV4B"),
        ("E02038232202604050138ZDHDI3ZSPK4", "E02038232202604050138ZDHOI3ZSPK4"),
        ("E0000000020260209160745DNMDWRX6O", "E0000000020260209160745DNMDWRX6D"),
    ):
        crop = _crop([truth], "DejaVuSans.ttf", size, blur=0.8)
        assert glyphs.refine_tail(crop, [misread]) == truth, (size, truth)


def test_an_h_read_for_a_b_in_a_hex_tail_is_a_b_again(fonts):
    truth = "E02038232202606070602c1fc83cbae7"
    crop = _crop([truth], "DejaVuSans.ttf", 24, blur=0.7)
    assert glyphs.refine_tail(crop, ["E02038232202606070602c1fc83chae7"]) == truth


@pytest.mark.parametrize(
    ("size", "truth", "misread"),
    [
        (20, "XMN8BHJ63NI", "XMNBBHJ63NI"),  # an 8 read as B: its waist is a few pixels of the cell
        (24, "XMN8BHJ63NI", "XMNBBHJ63NI"),
        (26, "S22YT8BEX0I", "S22YTB8EX0I"),  # an 8 and a B side by side, read swapped
        (20, "wsLSLKxs66F", "wsLSLKxs66I"),  # the last character: an F's bars, no right neighbour
    ],
)
def test_close_look_alikes_are_judged_again_on_their_own_cell(fonts, size, truth, misread):
    # Over three characters the drawings of 8 and B (or I and F) score within a hundredth: the neighbours,
    # the same in both, flatten the difference. Judged on its own cell, the right one stands out.
    head = "E00360305202605261759"
    crop = _crop([head + truth], "DejaVuSans.ttf", size, blur=0.7 if size != 24 else 0.5)
    assert glyphs.refine_tail(crop, [head + misread]) == head + truth


def test_a_rows_faint_descenders_stay_in_it():
    # The id's row as a crop's ink profile has it: letters from row 8 to 31, then only the hooks of a "g"
    # and a "j" down to row 38, 1-3 % of the darkest row's ink (a 3 % threshold cut them off, and a "g"
    # whose hook was gone looked like a "q").
    import numpy as np

    from billing.receipts.picture import text_rows

    ink = np.zeros((46, 400), dtype=np.float32)
    ink[8:32, 10:390] = 0.6
    ink[32:39, 200:204] = 0.9  # the hooks: 4 columns of 400
    ink[36:38, 196:200] = 0.9
    [(top, bottom)] = text_rows(ink)
    assert top <= 8 and bottom >= 39
