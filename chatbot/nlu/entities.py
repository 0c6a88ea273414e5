"""Amounts, installment counts and promised dates in debtors' messages.

Rules first, because the phrases debtors use ("dia 15", "semana que vem", "fim do mes",
"sexta feira") are exactly the ones dateparser does not understand, and because running
``search_dates`` over whole messages produces false hits ("agora", "ter", "18h"). dateparser is
only called on a span already isolated by a rule ("15 de marco de 2027"). Every relative date is
resolved against ``now`` in America/Sao_Paulo and is never in the past: "dia 15" said on the 20th
means the 15th of next month.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from unidecode import unidecode

from .counts import asked_count

__all__ = [
    "LOCAL_TZ",
    "asked_count",
    "extract_amount",
    "extract_date",
    "extract_entities",
    "extract_installments",
]

LOCAL_TZ = ZoneInfo("America/Sao_Paulo")

NUMBER_WORDS: dict[str, int] = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "onze": 11,
    "doze": 12,
    "treze": 13,
    "quatorze": 14,
    "catorze": 14,
    "quinze": 15,
    "dezesseis": 16,
    "dezessete": 17,
    "dezoito": 18,
    "dezenove": 19,
    "vinte": 20,
    "vinte e quatro": 24,
    "trinta": 30,
    "trinta e seis": 36,
    "quarenta e oito": 48,
}
_NUM = r"(\d{1,2}|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + r")"

WEEKDAYS: dict[str, int] = {
    "segunda": 0,
    "terca": 1,
    "quarta": 2,
    "quinta": 3,
    "sexta": 4,
    "sabado": 5,
    "domingo": 6,
}
MONTHS: dict[str, int] = {
    name: i
    for i, name in enumerate(
        [
            "janeiro",
            "fevereiro",
            "marco",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ],
        start=1,
    )
}

# --- amounts -----------------------------------------------------------------------------------------
_INT_PART = r"\d{1,3}(?:\.\d{3})+|\d+"
_CURRENCY_RE = re.compile(rf"r\$\s*({_INT_PART})(?:([,.])(\d{{1,2}}))?(?!\d)(\s*mil\b)?")
_REAIS_RE = re.compile(
    rf"(?<![\d/,.])({_INT_PART})(?:,(\d{{1,2}}))?(\s*mil)?\s*(?:reais|real|conto|contos|pila)\b"
)
_DECIMAL_COMMA_RE = re.compile(r"(?<![\d/,.$])(\d{1,3}(?:\.\d{3})+|\d+),(\d{2})(?![\d/])")
# Bare amounts in a negotiation ("entrada de 200", "consigo dar 300 a vista", "parcelas de 150", "posso pagar
# 50 por mes"): a number without "R$" counts only next to a money cue, and never when a unit follows it.
_BARE_NUMBER = rf"(?P<int>{_INT_PART})(?:,(?P<cents>\d{{2}}))?"
_NOT_MONEY_AFTER = (
    r"(?!\d|[.,]\d|\s*(?:x\b|vez|vezes|parcela|parcelas|prestac|dias|dia(?!\s+\d)|semana|semanas|mes\b|meses|ano|anos"
    r"|h\b|hs\b|hora|horas|min|%|/|-\d|o\b|a\b(?!\s*vista)|filho|filhos|pessoa|pessoas|boleto|boletos"
    r"|de\s+(?:" + "|".join(MONTHS) + r")))"
)
_BARE_CUES_BEFORE = (
    # "entrada de 200", "parcelas de 150", "valor de 90", "3 vezes de 100", "3x de 100"
    r"(?:\b(?:entrada|sinal|parcelas?|prestac(?:ao|oes)|mensalidades?|valor|vezes)|\d\s*x)\s+(?:no\s+valor\s+)?de\s+"
    r"(?:uns\s+|umas\s+)?",
    # "consigo dar 300", "posso pagar 50", "ofereco 500", "fecha em 600"
    r"\b(?:dar|dou|daria|pagar|pago|paguei|transferi|depositei|pagaria|consigo|posso|ofereco|oferecer|tenho|juntei|deposito|depositar"
    r"|transfiro|transferir|mando|mandar|faco|fazer|fecho|fechar|fecha|quito|quitar|proponho|arrumo|arrumar)\s+"
    r"(?:(?:so|somente|apenas|ate|uns|umas|mais|no\s+maximo|no\s+minimo|por|em|com|o\s+valor\s+de)\s+)*",
)
_BARE_BEFORE_RES = tuple(re.compile(cue + _BARE_NUMBER + _NOT_MONEY_AFTER) for cue in _BARE_CUES_BEFORE)
# "200 de entrada", "300 a vista", "50 por mes", "150 cada parcela"
_BARE_AFTER_RE = re.compile(
    r"(?<![\d/,.$])"
    + _BARE_NUMBER
    + r"\s+(?:de\s+entrada|na\s+entrada|a\s+vista|avista|por\s+mes|mensais|mensal|ao\s+mes|cada\s+parcela"
    r"|por\s+parcela|de\s+sinal|no\s+pix)\b"
)

# --- installments ------------------------------------------------------------------------------------
_TIMES_X_RE = re.compile(r"(?<![\d/,.$])(\d{1,2})\s*x(?![a-z0-9])")
_PARCELAS_RE = re.compile(rf"\b{_NUM}\s+(?:parcelas|prestacoes|parcelinhas|vezes)\b")
_EM_N_RE = re.compile(
    rf"\b(?:parcel\w*|divid\w*|fazer|faz|fatiar)\s+(?:em|por)\s+{_NUM}\b(?!\s*(?:de\s+)?(?:reais|/))"
)

# --- dates -------------------------------------------------------------------------------------------
_ORDINAL_FOLLOWERS = (
    r"(?:via|parcela|prestacao|vez|opcao|chance|copia|mensagem|conta|fatura|pessoa|divida|e\b)"
)
_NEXT_WEEK = r"(\s+(?:que\s+vem|da\s+semana\s+que\s+vem|da\s+proxima\s+semana))?"
_WEEKDAY_RE = re.compile(
    r"\b(?:(proxima|nessa|essa|esta)\s+)?(segunda|terca|quarta|quinta|sexta|sabado|domingo)"
    r"(?:\s*-?\s*feira|(?![a-z]))(?!\s*-?\s*" + _ORDINAL_FOLLOWERS + r")" + _NEXT_WEEK
)
# "6a feira", "6ª-feira", "2a feira que vem": the ordinal needs "feira" ("2a via" is a copy of a bill).
_NUMERIC_WEEKDAY_RE = re.compile(
    r"(?<![\d,./])(?:(proxima|nessa|essa|esta)\s+)?([2-6])\s*[ao]?\s*-?\s*feira\b" + _NEXT_WEEK
)
# "sex", "seg.", "qua": typed abbreviations; they need a lead-in ("na sex", "ate qua") or "feira"/"que vem",
# because "ter", "dom" and "sex" are also ordinary words.
_ABBREVIATED_WEEKDAYS = {"seg": 0, "ter": 1, "qua": 2, "qui": 3, "sex": 4, "sab": 5, "dom": 6}
_ABBREVIATED_WEEKDAY_RE = re.compile(
    r"\b(?:(?:na|no|nessa|nesse|essa|esta|ate|pra|para|(?P<proxima>proxima)|pago|pagar|pagarei|deposito"
    r"|transfiro|acerto|quito)\s+)(?P<led>seg|ter|qua|qui|sex|sab|dom)\b\.?(?:\s*-?\s*feira)?(?P<next>"
    + _NEXT_WEEK
    + r")"
    # At the start of the message "ter" (to have) and "dom" (a title) are too often not days.
    + r"|^(?P<first>seg|qua|qui|sex|sab)\b\.?(?:\s*-?\s*feira)?(?P<first_next>\s+que\s+vem)?"
    + r"|\b(?P<bare>seg|ter|qua|qui|sex|sab|dom)\b\.?(?:\s*-?\s*feira|(?P<bare_next>\s+que\s+vem))"
)
_NUMERIC_DATE_RE = re.compile(r"(?<![\d$,.])(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?(?![\d/])")
_MONTH_NAME_RE = re.compile(r"\b(\d{1,2})\s+de\s+(" + "|".join(MONTHS) + r")(?:\s+de\s+(\d{4}))?\b")
_DAY_RE = re.compile(
    r"\bdia\s+(\d{1,2})(?!\s*(?:x|h|hs|horas|/|-\d|%))\b"
    r"(\s+(?:do|deste|desse)\s+(?:mes\s+que\s+vem|proximo\s+mes|outro\s+mes|mes\s+seguinte))?"
)
_RELATIVE_DAYS_RE = re.compile(rf"\b(?:daqui\s+(?:a\s+)?|em\s+){_NUM}\s+(dias?|semanas?)\b")
_FIXED_RE = re.compile(
    r"\b(depois\s+de\s+amanha|amanha|amnh|amn|amanhan|hoje|hj|hje|"
    r"(?:fim|final)\s+(?:do|deste|desse|de)\s+mes(?:\s+que\s+vem)?|"
    r"(?:comeco|inicio)\s+do\s+mes(?:\s+que\s+vem)?|"
    r"semana\s+que\s+vem|proxima\s+semana|mes\s+que\s+vem|proximo\s+mes|fim\s+de\s+semana|final\s+de\s+semana|"
    r"daqui\s+(?:a\s+)?uma\s+semana)\b"
)


# "esta semana", "até o fim da semana", "final da semana que vem": the last business day of that week.
_WEEK_END_RE = re.compile(
    r"\b(?:(?:fim|final)\s+(?:da|desta|dessa|de\s+esta|de\s+essa)\s+semana|(?:n?esta|n?essa)\s+semana)"
    r"(\s+que\s+vem)?\b|\b(?:fim|final)\s+da\s+(?:proxima|outra)\s+semana\b()"
)
# "quinto dia útil", "5º dia util do mes que vem", "próximo dia útil".
_ORDINALS = {
    "primeiro": 1, "1o": 1, "1": 1, "segundo": 2, "2o": 2, "2": 2, "terceiro": 3, "3o": 3, "3": 3,
    "quarto": 4, "4o": 4, "4": 4, "quinto": 5, "5o": 5, "5": 5, "sexto": 6, "6o": 6, "6": 6,
    "setimo": 7, "7o": 7, "7": 7, "oitavo": 8, "8o": 8, "8": 8, "nono": 9, "9o": 9, "9": 9,
    "decimo": 10, "10o": 10, "10": 10,
}  # fmt: skip
_BUSINESS_DAY_RE = re.compile(
    r"\b(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r"|proximo)\s*"
    r"dia\s+util\b"
    r"(\s+(?:do|deste|desse)\s+(?:mes\s+que\s+vem|proximo\s+mes|outro\s+mes|mes\s+seguinte))?"
)
# Payday: the debtor pays when his salary arrives (the 5th business day unless configured).
_PAYDAY_RE = re.compile(
    r"\b(?:(?:no\s+)?dia\s+do\s+(?:meu\s+)?(?:pagamento|salario|pagto)|"
    r"quando\s+(?:eu\s+)?(?:receber|recebo|me\s+pagarem|pagarem|o\s+(?:meu\s+)?salario\s+(?:cair|sair|entrar)|"
    r"(?:cair|sair|entrar)\s+(?:o\s+)?(?:meu\s+)?(?:salario|pagamento))|"
    r"(?:assim\s+que|logo\s+que)\s+(?:eu\s+)?receber)\b"
)
# Later today: "à noite", "mais tarde", "depois das 18h", "pago agora". Only when nothing else names a day.
_LATER_TODAY_RE = re.compile(
    r"\b(?:a|de|essa|esta|hoje\s+a)\s+noite\b|\b(?:mais\s+tarde|logo\s+mais|daqui\s+a\s+pouco|"
    r"ainda\s+hoje|ate\s+o\s+fim\s+do\s+dia|no\s+fim\s+do\s+dia|hoje\s+mesmo)\b|"
    r"\bdepois\s+d[ao]s?\s+\d{1,2}\s*(?:h|hs|horas)?\b|"
    r"\b(?:pag\w*|transfir\w*|transfer\w*|deposit\w*|mand\w*|faco|fazendo|acert\w*|quit\w*)\s+agora\b"
)


def _prepare(text: str) -> str:
    """Lowercase ASCII with single spaces; digits and money punctuation are kept."""
    return re.sub(r"\s+", " ", unidecode(text).lower()).strip()


def _to_int(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _decimal(int_part: str, cents: str | None, thousands: str | None = None) -> Decimal | None:
    try:
        value = Decimal(int_part.replace(".", "") + ("." + cents.ljust(2, "0") if cents else ""))
    except InvalidOperation:
        return None
    if thousands and thousands.strip():
        value *= 1000
    return value


def extract_amount(text: str) -> Decimal | None:
    """First money amount: "R$ 150,50", "R$1.234,56", "150 reais", "1.234,56" (bare comma decimals)."""
    prepared = _prepare(text)
    for match in _CURRENCY_RE.finditer(prepared):
        int_part, separator, cents, thousands = match.groups()
        if separator == "." and cents and len(cents) == 2 and "." not in int_part:
            return _decimal(int_part, cents, thousands)  # "R$ 150.50": a dot used as decimal point
        if separator == ",":
            return _decimal(int_part, cents, thousands)
        return _decimal(int_part, None, thousands)
    match = _REAIS_RE.search(prepared)
    if match:
        return _decimal(match.group(1), match.group(2), match.group(3))
    match = _DECIMAL_COMMA_RE.search(prepared)
    if match:
        return _decimal(match.group(1), match.group(2))
    return _bare_amount(prepared)


def _bare_amount(prepared: str) -> Decimal | None:
    """The first number that a negotiation cue marks as money; at least 10 (smaller ones are counts)."""
    found: list[tuple[int, Decimal]] = []
    for regex in (*_BARE_BEFORE_RES, _BARE_AFTER_RE):
        for match in regex.finditer(prepared):
            value = _decimal(match.group("int"), match.group("cents"))
            if value is not None and value >= 10:
                found.append((match.start("int"), value))
    return min(found)[1] if found else None


def extract_installments(text: str) -> int | None:
    """Number of installments: "3x", "em 3 vezes", "tres parcelas", "parcelar em dez"; of several, the one
    asked for (`asked_count`)."""
    prepared = _prepare(text)
    candidates: list[tuple[int, int, int]] = []
    for regex in (_TIMES_X_RE, _PARCELAS_RE, _EM_N_RE):
        for match in regex.finditer(prepared):
            value = _to_int(match.group(1))
            if 1 <= value <= 72:
                candidates.append((match.start(), match.end(), value))
    return asked_count(prepared, candidates)


def _local_today(now: datetime) -> date:
    if now.tzinfo is not None:
        now = now.astimezone(LOCAL_TZ)
    return now.date()


def _add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day_of_month or day.day, last))


def _end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _resolve_weekday(today: date, weekday: int, next_week: bool) -> date:
    """Plain weekday: its next occurrence after today. "que vem"/"proxima": that day in next calendar week."""
    if next_week:
        return _next_monday(today) + timedelta(days=weekday)
    ahead = (weekday - today.weekday()) % 7
    return today + timedelta(days=ahead or 7)


def _resolve_day_of_month(today: date, day: int, next_month: bool) -> date | None:
    if not 1 <= day <= 31:
        return None
    if next_month or day < today.day:
        return _add_months(today.replace(day=1), 1, day)
    return _add_months(today.replace(day=1), 0, day)


def _resolve_fixed(today: date, phrase: str) -> date:
    phrase = re.sub(r"\s+", " ", phrase)
    if phrase in ("hoje", "hj", "hje"):
        return today
    if phrase in ("amanha", "amn", "amnh", "amanhan"):
        return today + timedelta(days=1)
    if phrase.startswith("depois de"):
        return today + timedelta(days=2)
    if phrase.startswith(("fim d", "final d")) and phrase.split()[2] == "mes":
        base = _add_months(today.replace(day=1), 1) if phrase.endswith("que vem") else today
        return _end_of_month(base)
    if phrase.startswith(("comeco", "inicio")):
        return _add_months(today.replace(day=1), 2 if phrase.endswith("que vem") else 1)
    if phrase in ("semana que vem", "proxima semana"):
        return _next_monday(today)
    if phrase.startswith(("fim de semana", "final de semana")):
        return today + timedelta(days=(5 - today.weekday()) % 7)
    if phrase.startswith("daqui"):
        return today + timedelta(days=7)
    return _add_months(today.replace(day=1), 1)  # "mes que vem" / "proximo mes": its first day


@lru_cache(maxsize=16)
def _national_holidays(year: int) -> frozenset[date]:
    import holidays  # the dispatch window uses the same calendar

    return frozenset(holidays.country_holidays("BR", years=year))


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a Brazilian national holiday."""
    return day.weekday() < 5 and day not in _national_holidays(day.year)


def nth_business_day(year: int, month: int, n: int) -> date:
    day = date(year, month, 1)
    count = 0
    while True:
        if is_business_day(day):
            count += 1
            if count == n:
                return day
        day += timedelta(days=1)


def _resolve_business_day(today: date, n: int, next_month: bool) -> date:
    """The n-th business day of this month, or of the next one when it has passed (or was asked for)."""
    first = today.replace(day=1)
    candidate = nth_business_day(first.year, first.month, n)
    if next_month or candidate < today:
        following = _add_months(first, 1)
        candidate = nth_business_day(following.year, following.month, n)
    return candidate


def _next_business_day(today: date) -> date:
    day = today + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def _resolve_week_end(today: date, next_week: bool) -> date:
    """The Friday of this week (of next week with "que vem"); on a weekend, this week's Sunday."""
    if next_week:
        return _next_monday(today) + timedelta(days=4)
    if today.weekday() <= 4:
        return today + timedelta(days=4 - today.weekday())
    return today + timedelta(days=6 - today.weekday())


def resolve_payday(today: date, payday_day: int | None = None) -> date:
    """The next payday on or after today: day ``payday_day`` of the month, or the 5th business day."""
    if payday_day:
        return _resolve_day_of_month(today, payday_day, False) or today
    return _resolve_business_day(today, 5, False)


def _resolve_numeric(today: date, day: int, month: int, year_text: str | None) -> date | None:
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _parse_span_with_dateparser(span: str, now: datetime) -> date | None:
    """Month-name spans ("15 de marco de 2027"): dateparser knows every Portuguese month spelling."""
    import dateparser

    base = now.astimezone(LOCAL_TZ).replace(tzinfo=None) if now.tzinfo else now
    parsed = dateparser.parse(
        span,
        languages=["pt"],
        settings={"DATE_ORDER": "DMY", "PREFER_DATES_FROM": "future", "RELATIVE_BASE": base},
    )
    return parsed.date() if parsed else None


def extract_date(text: str, now: datetime, *, payday_day: int | None = None) -> date | None:
    """The first date mentioned, resolved to a concrete calendar day on or after today.

    Named days win over vaguer hints: "quando receber" (payday, ``payday_day`` of the month or the 5th
    business day) counts only when no day is named, and "à noite" / "mais tarde" (today) only after that.
    """
    prepared = _prepare(text)
    today = _local_today(now)
    found: list[tuple[int, date]] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], value: date | None) -> None:
        start, end = match.span()
        if value is None or any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        found.append((start, value))

    for match in _MONTH_NAME_RE.finditer(prepared):
        add(match, _parse_span_with_dateparser(match.group(0), now))
    for match in _BUSINESS_DAY_RE.finditer(prepared):
        which = match.group(1)
        if which == "proximo":
            add(match, _next_business_day(today))
        else:
            add(match, _resolve_business_day(today, _ORDINALS[which], bool(match.group(2))))
    for match in _NUMERIC_DATE_RE.finditer(prepared):
        add(match, _resolve_numeric(today, int(match.group(1)), int(match.group(2)), match.group(3)))
    for match in _DAY_RE.finditer(prepared):
        add(match, _resolve_day_of_month(today, int(match.group(1)), bool(match.group(2))))
    for match in _RELATIVE_DAYS_RE.finditer(prepared):
        amount = _to_int(match.group(1))
        days = amount * (7 if match.group(2).startswith("semana") else 1)
        add(match, today + timedelta(days=days) if days <= 365 else None)
    for match in _WEEK_END_RE.finditer(prepared):
        add(match, _resolve_week_end(today, match.group(1) is not None or match.group(2) is not None))
    for match in _WEEKDAY_RE.finditer(prepared):
        next_week = bool(match.group(3)) or match.group(1) == "proxima"
        add(match, _resolve_weekday(today, WEEKDAYS[match.group(2)], next_week))
    for match in _NUMERIC_WEEKDAY_RE.finditer(prepared):
        next_week = bool(match.group(3)) or match.group(1) == "proxima"
        add(match, _resolve_weekday(today, int(match.group(2)) - 2, next_week))
    for match in _ABBREVIATED_WEEKDAY_RE.finditer(prepared):
        parts = match.groupdict()
        weekday = parts["led"] or parts["first"] or parts["bare"]
        next_week = any(parts[key] for key in ("proxima", "next", "first_next", "bare_next"))
        add(match, _resolve_weekday(today, _ABBREVIATED_WEEKDAYS[weekday], next_week))
    for match in _FIXED_RE.finditer(prepared):
        add(match, _resolve_fixed(today, match.group(1)))
    if not found:
        for match in _PAYDAY_RE.finditer(prepared):
            add(match, resolve_payday(today, payday_day))
    if not found:
        for match in _LATER_TODAY_RE.finditer(prepared):
            add(match, today)
    return min(found)[1] if found else None


def extract_entities(text: str, now: datetime, *, payday_day: int | None = None) -> dict[str, Any]:
    """``{"amount": Decimal, "installments": int, "date": date}``, each key only when found.

    ``payday_day``: the day of the month "quando eu receber" means; None for the 5th business day.
    """
    entities: dict[str, Any] = {}
    amount = extract_amount(text)
    if amount is not None:
        entities["amount"] = amount
    installments = extract_installments(text)
    if installments is not None:
        entities["installments"] = installments
    when = extract_date(text, now, payday_day=payday_day)
    if when is not None:
        entities["date"] = when
    return entities
