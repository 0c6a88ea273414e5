"""Field-level parsing for imports: column names, dates, CPF/CNPJ and the per-row validation."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from unidecode import unidecode

from billing.money import AmountError, parse_brl_amount
from billing.phones import PhoneError, normalize_phone

# Canonical field → names accepted in headers / JSON keys (compared after `normalize_header`).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "codigo",
        "cod",
        "id_externo",
        "external_id",
        "id_cobranca",
        "codigo_cobranca",
        "referencia",
        "ref",
        "fatura",
        "numero_fatura",
        "titulo",
        "numero",
    ),
    "name": (
        "name",
        "nome",
        "cliente",
        "nome_cliente",
        "nome_do_cliente",
        "devedor",
        "nome_completo",
        "razao_social",
    ),
    "phone": (
        "phone",
        "telefone",
        "celular",
        "whatsapp",
        "fone",
        "tel",
        "telefone_celular",
        "numero_whatsapp",
        "numero_celular",
        "contato",
        "telefone_whatsapp",
        "cel",
    ),
    "amount": (
        "amount",
        "valor",
        "valor_r",
        "valor_devido",
        "valor_total",
        "valor_em_aberto",
        "saldo",
        "valor_cobranca",
        "value",
    ),
    "due_date": (
        "due_date",
        "vencimento",
        "data_vencimento",
        "data_de_vencimento",
        "dt_vencimento",
        "vcto",
        "venc",
        "data",
    ),
    "description": (
        "description",
        "descricao",
        "historico",
        "referente",
        "referente_a",
        "observacao",
        "obs",
        "produto",
        "servico",
    ),
    "document": ("document", "documento", "cpf", "cnpj", "cpf_cnpj", "cpf_ou_cnpj", "doc"),
    "email": ("email", "e_mail", "correio_eletronico"),
}
REQUIRED_FIELDS = ("name", "phone", "amount", "due_date")
# pt-BR labels used in error messages and in the rejected-rows CSV.
FIELD_LABELS = {
    "id": "id",
    "name": "nome",
    "phone": "telefone",
    "amount": "valor",
    "due_date": "vencimento",
    "description": "descricao",
    "document": "documento",
    "email": "email",
}
_ALIAS_TO_FIELD = {alias: field for field, aliases in FIELD_ALIASES.items() for alias in aliases}

MAX_NAME = 200
MAX_DESCRIPTION = 500
MAX_ID = 100
MAX_EMAIL = 254


def normalize_header(raw: object) -> str:
    """'Data de Vencimento ' → 'data_de_vencimento'; 'Valor (R$)' → 'valor_r'."""
    text = unidecode(str(raw or "")).strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def field_for_header(raw: object) -> str | None:
    return _ALIAS_TO_FIELD.get(normalize_header(raw))


# --- dates
# -------------------------------------------------------------------------------------------------------

_ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.+\-Z]*)?$")
_DMY_RE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
MIN_YEAR, MAX_YEAR = 1900, 2100


def parse_due_date(raw: object) -> dt.date:
    """A real calendar date from a date/datetime object or text: dd/mm/aaaa, d/m/aaaa, dd/mm/aa (aa ≤ 68 →
    20aa, as Python's %y), dd-mm-aaaa, dd.mm.aaaa or ISO aaaa-mm-dd (a time part is ignored). Numbers are
    refused here; the XLSX reader converts date serials itself, because a JSON/CSV number is never a date the
    user meant."""
    if isinstance(raw, dt.datetime):
        value = raw.date()
    elif isinstance(raw, dt.date):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise ValueError("vencimento ausente")
        # Fast paths for the two shapes nearly every file uses: 2026-01-15 and 15/01/2026.
        if len(text) == 10:
            try:
                if text[4] == "-" and text[7] == "-" and text.isascii():
                    value = dt.date.fromisoformat(text)
                elif text[2] == "/" and text[5] == "/" and text.replace("/", "").isdigit():
                    value = dt.date(int(text[6:]), int(text[3:5]), int(text[:2]))
                else:
                    value = None
            except ValueError:
                raise ValueError("data inexistente") from None
            if value is not None:
                if not MIN_YEAR <= value.year <= MAX_YEAR:
                    raise ValueError(f"data fora do intervalo aceito ({MIN_YEAR}–{MAX_YEAR})")
                return value
        match = _ISO_RE.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
        else:
            match = _DMY_RE.match(text)
            if not match:
                raise ValueError("data em formato não reconhecido (use dd/mm/aaaa)")
            day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
            if len(match.group(3)) == 2:
                year += 2000 if year <= 68 else 1900
        try:
            value = dt.date(year, month, day)
        except ValueError:
            raise ValueError("data inexistente") from None
    elif raw is None:
        raise ValueError("vencimento ausente")
    else:
        raise ValueError("data com tipo inválido (use texto dd/mm/aaaa)")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"data fora do intervalo aceito ({MIN_YEAR}–{MAX_YEAR})")
    return value


# --- CPF / CNPJ
# --------------------------------------------------------------------------------------------------


def _cpf_ok(digits: str) -> bool:
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for size in (9, 10):
        total = sum(int(d) * w for d, w in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        if (total * 10 % 11) % 10 != int(digits[size]):
            return False
    return True


def _cnpj_ok(value: str) -> bool:
    """CNPJ check digits; also the alphanumeric CNPJ (2026): each character counts as ord(c) - 48."""
    if len(value) != 14 or not value[12:].isdigit() or len(set(value)) == 1:
        return False
    for size in (12, 13):
        weights = (
            [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2] if size == 12 else [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
        )
        total = sum((ord(c) - 48) * w for c, w in zip(value[:size], weights, strict=True))
        dv = 11 - total % 11
        if (0 if dv >= 10 else dv) != int(value[size]):
            return False
    return True


def normalize_document(raw: object) -> str:
    """CPF/CNPJ → bare digits (or the 14 characters of an alphanumeric CNPJ), '' when empty.

    Spreadsheets drop leading zeros of numeric cells, so short numbers are left-padded: to 11 when that gives
    a valid CPF, otherwise to 14 when that gives a valid CNPJ."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        raise ValueError("CPF/CNPJ com tipo inválido")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError("CPF/CNPJ inválido")
        raw = int(raw)
    if isinstance(raw, Decimal):
        if raw != raw.to_integral_value():
            raise ValueError("CPF/CNPJ inválido")
        raw = int(raw)
    if not isinstance(raw, (str, int)):
        raise ValueError("CPF/CNPJ com tipo inválido")
    text = re.sub(r"[\s./\-]", "", str(raw)).upper()
    if not text:
        return ""
    if text.isdigit():
        if len(text) <= 11 and _cpf_ok(text.zfill(11)):
            return text.zfill(11)
        if len(text) <= 14 and _cnpj_ok(text.zfill(14)):
            return text.zfill(14)
        if len(text) > 14:
            raise ValueError("CPF/CNPJ com dígitos demais")
        return _raise_document(text)
    if re.fullmatch(r"[0-9A-Z]{12}\d{2}", text):
        if _cnpj_ok(text):
            return text
        return _raise_document(text)
    raise ValueError("CPF/CNPJ com caracteres inválidos")


def _raise_document(text: str) -> str:
    kind = "CPF" if len(text) <= 11 else "CNPJ"
    raise ValueError(f"{kind} com dígito verificador inválido")


# --- row validation
# ----------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class FieldError:
    row: int
    field: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "value": self.value, "message": self.message}


def display_value(raw: object, limit: int = 100) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (dt.date, dt.datetime)):
        text = raw.strftime("%d/%m/%Y")
    else:
        text = str(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(raw: object, *, label: str) -> str:
    if type(raw) is str:
        text = raw.strip()
        if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\u00a0" in text:
            text = " ".join(text.split())
        return text
    if raw is None:
        return ""
    if isinstance(raw, bool) or isinstance(raw, (dict, list, tuple)):
        raise ValueError(f"{label} com tipo inválido")
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, Decimal) and raw == raw.to_integral_value() and raw.is_finite():
        return str(int(raw))
    if isinstance(raw, (int, float, Decimal)):
        return str(raw)
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.strftime("%d/%m/%Y")
    raise ValueError(f"{label} com tipo inválido")


def auto_id_key() -> bytes:
    return _auto_id_key(settings.SUPPRESSION_HASH_KEY)


@functools.lru_cache(maxsize=4)
def _auto_id_key(secret: str) -> bytes:
    """The key of the generated ids: derived from SUPPRESSION_HASH_KEY (secret, never rotated), so an `auto-…`
    id cannot be recomputed from a guessed phone number by whoever reads it (an export, a forgotten client's
    charge kept for accounting)."""
    return hashlib.sha256(b"cobranca.auto-external-id|" + secret.encode()).digest()


def derived_external_id(phone: str, due_date: dt.date, description: str, *, key: bytes | None = None) -> str:
    """A stable id for rows without one, so re-importing the same spreadsheet updates instead of duplicating:
    one charge per phone, due date and description. Keyed BLAKE2b (a MAC), never a bare hash of the phone."""
    digest = hashlib.blake2b(
        f"{phone}|{due_date.isoformat()}|{description}".encode(),
        digest_size=10,
        key=auto_id_key() if key is None else key,
    ).hexdigest()
    return f"auto-{digest}"


# A validated row, kept compact (marshal-able) between the two passes:
# (row, external_id, id_given, name, phone, document, email, amount str, due ISO str, description)
CleanRow = tuple


# long-function: one check per field in column order; a list of independent checks
def clean_row(row_number: int, values: dict[str, object]) -> tuple[CleanRow | None, list[FieldError]]:
    """Validate one row given as canonical field → raw value. Returns the clean tuple or the errors."""
    errors: list[FieldError] = []

    def fail(field: str, message: str) -> None:
        errors.append(FieldError(row_number, FIELD_LABELS[field], display_value(values.get(field)), message))

    name = ""
    try:
        name = _text(values.get("name"), label="nome")
        if not name:
            fail("name", "nome ausente")
        elif len(name) > MAX_NAME:
            fail("name", f"nome longo demais (máximo {MAX_NAME} caracteres)")
    except ValueError as exc:
        fail("name", str(exc))

    phone = ""
    try:
        phone = normalize_phone(values.get("phone"))
    except PhoneError as exc:
        fail("phone", str(exc))

    amount: Decimal | None = None
    try:
        amount = parse_brl_amount(values.get("amount"))
    except AmountError as exc:
        fail("amount", str(exc))

    due: dt.date | None = None
    try:
        due = parse_due_date(values.get("due_date"))
    except ValueError as exc:
        fail("due_date", str(exc))

    description = ""
    try:
        description = _text(values.get("description"), label="descrição")
        if len(description) > MAX_DESCRIPTION:
            fail("description", f"descrição longa demais (máximo {MAX_DESCRIPTION} caracteres)")
    except ValueError as exc:
        fail("description", str(exc))

    document = ""
    try:
        document = normalize_document(values.get("document"))
    except ValueError as exc:
        fail("document", str(exc))

    email = ""
    try:
        email = _text(values.get("email"), label="e-mail").lower()
        if email and (len(email) > MAX_EMAIL or not _EMAIL_RE.match(email)):
            fail("email", "e-mail inválido")
    except ValueError as exc:
        fail("email", str(exc))

    external_id = ""
    try:
        external_id = _text(values.get("id"), label="id")
        if len(external_id) > MAX_ID:
            fail("id", f"id longo demais (máximo {MAX_ID} caracteres)")
    except ValueError as exc:
        fail("id", str(exc))

    if errors:
        return None, errors
    id_given = bool(external_id)
    if not id_given:
        external_id = derived_external_id(phone, due, description)
    return (
        row_number,
        external_id,
        id_given,
        name,
        phone,
        document,
        email,
        str(amount),
        due.isoformat(),
        description,
    ), []
