"""Six ways Brazilian bank apps lay out a Pix receipt, drawn from scratch for the test generator: the words
and the order of the facts follow what the apps commonly show; colours, shapes and fonts are ours, no bank's.

Each layout draws a `Shown` receipt on a `Canvas` and says whether it prints the seconds of the time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from billing.receipts.canvas import Canvas, Palette

MONTHS = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"]
MONTH_NAMES = [
    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
]  # fmt: skip
WEEKDAYS = ["Seg", "Ter", "Qua", "Qui", "Sex", "Sáb", "Dom"]


@dataclass
class Shown:
    """What one receipt shows. `amounts` holds the amount for each place it is printed (an edited fake may
    differ between them)."""

    amounts: list[Decimal]
    paid_at: dt.datetime
    e2eid: str
    recipient_name: str
    recipient_document: str  # formatted CNPJ/CPF or a masked CPF
    recipient_bank: str
    recipient_key: str | None
    payer_name: str
    payer_document: str
    bank: str
    agency: str
    account: str
    clock: str
    battery: int

    def amount(self, place: int = 0) -> Decimal:
        return self.amounts[min(place, len(self.amounts) - 1)]

    @property
    def doc_label(self) -> str:
        return "CNPJ" if "/" in self.recipient_document else "CPF"


def brl(value: Decimal, symbol: bool = True) -> str:
    whole, cents = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"R$ {grouped},{cents}" if symbol else f"{grouped},{cents}"


def _footer_id(c: Canvas, s: Shown, label: str, size: float = 30, per_line: int = 40) -> None:
    c.line(label, size, color=c.palette.muted, gap=6)
    c.wrapped(s.e2eid, size, per_line)


def layout_purple_card(c: Canvas, s: Shown) -> None:
    """Title, date line, big amount, then 'Destino' and 'Origem' as label/value rows; the id at the bottom."""
    c.rect(64, c.y + 10, 150, c.y + 96, c.palette.accent, radius=43)
    c.y += 130
    c.line("Comprovante de transferência", 46, bold=True)
    t = s.paid_at
    c.line(f"{t.day:02d} {MONTHS[t.month - 1].upper()} {t.year} - {t:%H:%M:%S}", 32, color=c.palette.muted)
    c.rule()
    c.line("Valor", 32, color=c.palette.muted, gap=4)
    c.line(brl(s.amount(0)), 58, bold=True, color=c.palette.accent)
    c.row("Tipo de transferência", "Pix")
    c.rule()
    c.line("Destino", 40, bold=True)
    c.row("Nome", s.recipient_name)
    c.row(s.doc_label, s.recipient_document)
    c.row("Instituição", s.recipient_bank)
    if s.recipient_key:
        c.row("Chave Pix", s.recipient_key)
    c.rule()
    c.line("Origem", 40, bold=True)
    c.row("Nome", s.payer_name)
    c.row("Instituição", s.bank)
    c.row("Agência", s.agency)
    c.row("Conta", s.account)
    c.row("CPF", s.payer_document)
    c.rule()
    _footer_id(c, s, "ID da transação:")


def layout_orange_lines(c: Canvas, s: Shown) -> None:
    """A coloured header bar, then lower-case 'label: value' lines, the amount repeated at the end."""
    c.rect(0, c.y, 1080, c.y + 170, c.palette.accent)
    c.text(64, c.y + 55, "Pix realizado", 50, bold=True, color=c.palette.on_accent)
    c.y += 220
    c.line(f"valor: {brl(s.amount(0))}", 40, bold=True)
    c.line(f"data da transferência: {s.paid_at:%d/%m/%Y}", 34)
    c.line(f"horário: {s.paid_at:%H:%M}", 34)
    c.rule()
    c.line(f"para: {s.recipient_name}", 34, bold=True)
    c.line(f"{s.doc_label}: {s.recipient_document}", 34)
    c.line(f"instituição: {s.recipient_bank}", 34)
    if s.recipient_key:
        c.line(f"chave Pix: {s.recipient_key}", 34)
    c.rule()
    c.line(f"de: {s.payer_name}", 34, bold=True)
    c.line(f"CPF: {s.payer_document}", 34)
    c.line(f"instituição: {s.bank}", 34)
    c.line(f"agência: {s.agency}  conta: {s.account}", 34)
    c.rule()
    c.line(f"valor total: {brl(s.amount(1))}", 34)
    _footer_id(c, s, "ID da transação", 32, per_line=32)


def layout_red_blocks(c: Canvas, s: Shown) -> None:
    """Labels above values in blocks: 'Dados de quem recebeu', 'Dados de quem pagou'."""
    c.line("Comprovante Pix", 48, bold=True, align="center", color=c.palette.accent)
    c.line("Transferência realizada com sucesso", 30, align="center", color=c.palette.muted)
    c.rule()
    c.stacked("Valor", brl(s.amount(0)), 44)
    c.stacked("Data e hora", f"{s.paid_at:%d/%m/%Y - %H:%M:%S}")
    c.rule()
    c.line("Dados de quem recebeu", 38, bold=True, color=c.palette.accent)
    c.stacked("Nome", s.recipient_name)
    c.stacked(s.doc_label, s.recipient_document)
    c.stacked("Instituição", s.recipient_bank)
    c.rule()
    c.line("Dados de quem pagou", 38, bold=True, color=c.palette.accent)
    c.stacked("Nome", s.payer_name)
    c.stacked("CPF", s.payer_document)
    c.stacked("Instituição", s.bank)
    c.rule()
    c.stacked("ID da transação", s.e2eid, 32)


def layout_mono_slip(c: Canvas, s: Shown) -> None:
    """A printed-slip look in capitals and a fixed-width font, amount without the currency sign."""
    c.family = "mono"
    c.rect(40, c.y, 1040, c.height - 40, c.palette.card, radius=12)
    c.y += 40
    c.line(s.bank.upper(), 34, bold=True, align="center")
    c.line("COMPROVANTE DE PIX", 36, bold=True, align="center")
    c.line("-" * 34, 32, align="center")
    c.line(f"DATA: {s.paid_at:%d/%m/%Y}", 32)
    c.line(f"HORA: {s.paid_at:%H:%M:%S}", 32)
    c.line(f"VALOR: {brl(s.amount(0), symbol=False)}", 32, bold=True)
    c.line("-" * 34, 32, align="center")
    c.line(f"PAGO PARA: {s.recipient_name.upper()}", 28)
    c.line(f"{s.doc_label}: {s.recipient_document}", 30)
    if s.recipient_key:
        c.line(f"CHAVE PIX: {s.recipient_key}", 28)
    c.line(f"INSTITUICAO: {s.recipient_bank.upper()}", 28)
    c.line("-" * 34, 32, align="center")
    c.line(f"PAGADOR: {s.payer_name.upper()}", 28)
    c.line(f"CPF: {s.payer_document}", 30)
    c.line("-" * 34, 32, align="center")
    c.line("ID:", 30)
    c.line(s.e2eid, 30)


def layout_wallet_sentence(c: Canvas, s: Shown) -> None:
    """A sentence on top ('Você pagou R$ x' / 'para NAME'), details in cards, the id wrapped on two lines."""
    c.rect(440, c.y + 10, 640, c.y + 210, c.palette.accent, radius=100)
    c.y += 250
    c.line("Pix enviado", 44, bold=True, align="center")
    c.line(f"Você pagou {brl(s.amount(0))}", 40, align="center")
    c.line(f"para {s.recipient_name}", 36, bold=True, align="center")
    t = s.paid_at
    c.line(f"em {t.day:02d} de {MONTH_NAMES[t.month - 1]} de {t.year} às {t:%Hh%M}", 32, align="center")
    c.y += 20
    top = c.y
    c.rect(40, top, 1040, top + 420, c.palette.card, radius=28)
    c.y += 30
    c.line("Recebedor", 36, bold=True)
    c.row(s.doc_label, s.recipient_document, 32)
    c.row("Instituição", s.recipient_bank, 32)
    c.row("Valor", brl(s.amount(1)), 32)
    c.y = top + 450
    top = c.y
    c.rect(40, top, 1040, top + 330, c.palette.card, radius=28)
    c.y += 30
    c.line("Pagador", 36, bold=True)
    c.row("Nome", s.payer_name, 32)
    c.row("Instituição", s.bank, 32)
    c.y = top + 360
    _footer_id(c, s, "Código da transação", 34, per_line=18)


def layout_dark_summary(c: Canvas, s: Shown) -> None:
    """Weekday and short month, 'Quem recebeu' / 'Quem pagou' with the name first and the facts under it."""
    c.line("Pix enviado", 44, bold=True, color=c.palette.accent)
    c.line(brl(s.amount(0)), 60, bold=True)
    t = s.paid_at
    c.line(
        f"{WEEKDAYS[t.weekday()]}, {t.day:02d} {MONTHS[t.month - 1]} {t.year} - {t:%H:%M}",
        32,
        color=c.palette.muted,
    )
    c.rule()
    c.line("Quem recebeu", 32, color=c.palette.muted, gap=8)
    c.line(s.recipient_name, 38, bold=True)
    c.line(f"{s.doc_label} {s.recipient_document}", 32)
    c.line(f"Instituição {s.recipient_bank}", 32)
    if s.recipient_key:
        c.line(f"Chave {s.recipient_key}", 32)
    c.rule()
    c.line("Quem pagou", 32, color=c.palette.muted, gap=8)
    c.line(s.payer_name, 38, bold=True)
    c.line(f"CPF {s.payer_document}", 32)
    c.line(f"Instituição {s.bank}", 32)
    c.rule()
    _footer_id(c, s, "ID da transação", 30)


@dataclass(frozen=True)
class Layout:
    name: str
    draw: Callable[[Canvas, Shown], None]
    palette: Palette
    seconds: bool  # prints the seconds of the time
    amount_places: int  # how many times the amount is printed
    family: str = "dejavu"


def _palette(bg, fg, muted, accent, card) -> Palette:
    return Palette(bg=bg, fg=fg, muted=muted, accent=accent, card=card)


WHITE = (255, 255, 255)
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "purple_card", layout_purple_card,
        _palette(WHITE, (30, 30, 30), (110, 110, 110), (120, 40, 200), (245, 245, 245)), True, 1,
    ),
    Layout(
        "orange_lines", layout_orange_lines,
        _palette(WHITE, (20, 20, 20), (90, 90, 90), (236, 112, 0), (245, 245, 245)), False, 2, "liberation",
    ),
    Layout(
        "red_blocks", layout_red_blocks,
        _palette((250, 250, 250), (25, 25, 25), (105, 105, 105), (204, 9, 47), (240, 240, 240)), True, 1,
        "liberation",
    ),
    Layout(
        "mono_slip", layout_mono_slip,
        _palette((230, 236, 245), (10, 10, 10), (70, 70, 70), (250, 220, 0), WHITE), True, 1, "mono",
    ),
    Layout(
        "wallet_sentence", layout_wallet_sentence,
        _palette(WHITE, (25, 25, 25), (100, 100, 100), (17, 199, 111), (243, 246, 244)), False, 2,
    ),
    Layout(
        "dark_summary", layout_dark_summary,
        _palette(WHITE, (20, 20, 20), (110, 110, 110), (255, 122, 0), (245, 245, 245)), False, 1, "narrow",
    ),
)  # fmt: skip
