"""The PIX code a message gives the debtor: a static BR Code, or a `cobv` at the creditor's PSP.

`PIX_PROVIDER=static` (default): the BR Code built here (`chatbot.pix`), with the amount owed; no payment
notice ever comes back for it. `PIX_PROVIDER=api_pix`: a Pix charge with a due date (`cobv`) at the PSP, made
when a message first needs it (`cobv_ensure`) and kept in a `PixCobv` row:

- one cobv per charge, or per agreement installment while an agreement is active (what "me manda o pix"
  pays is the agreement's next open installment);
- the txid is deterministic: `CI` + charge id (12 digits) + installment id (12 digits, 0 for the charge) +
  `V` + version (3 digits), 30 alphanumerics (the spec wants 26-35). A new version is made only when the
  current one cannot be used any more (a Pix already paid it, or the PSP refuses to revise it);
- the body: due date, debtor CPF/CNPJ and name, `valor.original` = what is owed now (the installment's or
  the charge's balance), fine (`multa`, modality 2 = percent, capped at the CDC's 2 %) and interest (`juros`,
  modality 3 = percent a month, calendar days) from settings, and for a discounted single payment
  (agreement "à vista") the full balance with the discount as `desconto` modality 1 (fixed value until the due
  date) so paying late costs the discount;
- what was sent is summed up in `version_key`: a changed amount, due date or debtor PATCHes the same txid;
- an overdue charge gets a cobv due `PIX_COBV_OVERDUE_DAYS` days from today (the fine and interest run from
  there), kept until that date passes;
- a debtor without a CPF/CNPJ cannot get a cobv (the spec requires `devedor`): `PixChargeUnavailable`, which
  the message paths turn into the static code and an operator notice.

No network call runs inside a transaction here: the row is written before and after the PSP's answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from loguru import logger

from billing.models import Agreement, Charge, Client, Installment, Payment, PixCobv
from billing.payments.pix_removal import cobvs_retire_on_commit
from billing.pix_api import PixApiError, PixNotFound, get_pix_client
from chatbot.pix import MAX_TXID, PixError, pix_payload_for, pix_txid
from cobranca.exceptions import ApplicationError

__all__ = [
    "CDC_MAX_FINE_PERCENT",
    "PixChargeUnavailable",
    "PixCode",
    "amount_owed",
    "cobv_body",
    "cobv_ensure",
    "message_pix_code",
    "pix_code_for",
    "psp_codes_in_text",
    "txid_for",
]

CDC_MAX_FINE_PERCENT = Decimal("2.00")
CENT = Decimal("0.01")
ZERO = Decimal("0")
# Days a cobv stays payable after its due date (with fine and interest); the spec's default is 30.
VALIDITY_AFTER_DUE_DAYS = 30
PAYABLE_STATUSES = (
    Charge.Status.OPEN,
    Charge.Status.PROMISED,
    Charge.Status.NEGOTIATING,
    Charge.Status.PAYMENT_CLAIMED,
)


class PixChargeUnavailable(ApplicationError):
    """No cobv can be made for this charge (no CPF/CNPJ, nothing owed); the message says why, in pt-BR."""


@dataclass(frozen=True)
class PixCode:
    """What a message shows: the code, the amount it asks for and, when it is the static fallback of an
    api_pix setup, why (`fallback_reason`, for the operator)."""

    code: str
    amount: Decimal
    txid: str = ""
    fallback_reason: str = ""


def _money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(CENT):f}"


def _digits(value: str) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def txid_for(charge_id: int, installment_id: int | None, version: int) -> str:
    return f"CI{charge_id:012d}{installment_id or 0:012d}V{version:03d}"


def _active_agreement(charge: Charge) -> Agreement | None:
    return charge.agreements.filter(status=Agreement.Status.ACTIVE).order_by("-pk").first()


def next_open_installment(charge: Charge) -> Installment | None:
    """The installment "me manda o pix" pays under an active agreement: its earliest open one."""
    agreement = _active_agreement(charge)
    if agreement is None:
        return None
    return agreement.schedule.filter(status=Installment.Status.OPEN).order_by("number").first()


def amount_owed(charge: Charge, installment: Installment | None = None) -> tuple[Installment | None, Decimal]:
    """(the installment that is paid, what is owed now): the named or next open installment's balance under
    an active agreement, else the charge's balance."""
    installment = installment or next_open_installment(charge)
    if installment is not None:
        return installment, installment.balance
    return None, charge.balance


def static_code(charge: Charge, amount: Decimal) -> str:
    """Today's static BR Code (chatbot.pix) for an amount, with the charge's reference as its txid."""
    return pix_payload_for(amount=amount, reference=charge.external_id or f"COB{charge.pk}")


_COB_REFERENCE = re.compile(r"^COB(\d{1,18})$")
_SEPARATORS = "[^A-Za-z0-9]*"


def charge_for_static_txid(txid: str) -> Charge | None:
    """The payable charge whose static BR Code carries `txid` (`static_code`: chatbot.pix.pix_txid of its
    reference, the external id or "COB<pk>"), when exactly one does; None otherwise (no such charge, or
    several references that read alike once their punctuation is dropped: an operator decides)."""
    if not txid or not txid.isalnum() or not txid.isascii():
        return None
    # The txid is the reference without its non-alphanumerics (and cut at MAX_TXID): find references made of
    # its characters with anything between them, then compare exactly.
    pattern = "^" + _SEPARATORS + _SEPARATORS.join(re.escape(ch) for ch in txid) + _SEPARATORS
    pattern += "" if len(txid) >= MAX_TXID else "$"
    payable = Charge.objects.filter(status__in=PAYABLE_STATUSES)
    found = {c.pk: c for c in payable.filter(external_id__regex=pattern) if pix_txid(c.external_id) == txid}
    if match := _COB_REFERENCE.match(txid):
        for charge in payable.filter(pk=int(match.group(1))):
            if not charge.external_id:
                found[charge.pk] = charge
    return next(iter(found.values())) if len(found) == 1 else None


def _debtor(charge: Charge) -> dict[str, str]:
    client = charge.client
    digits = _digits(client.document)
    kind = {11: "cpf", 14: "cnpj"}.get(len(digits))
    if kind is None:
        raise PixChargeUnavailable(
            "Cliente sem CPF/CNPJ válido: a cobrança Pix com vencimento exige o documento do devedor. "
            "Cadastre o CPF/CNPJ do cliente; até lá ele recebe o PIX estático.",
            {"client": client.pk, "charge": charge.pk},
        )
    return {kind: digits, "nome": client.name[:200]}


def _due_date(target_due: dt.date, current: PixCobv | None, today: dt.date) -> dt.date:
    if target_due >= today:
        return target_due
    if current is not None and current.due_date >= today:
        return current.due_date  # an overdue charge keeps its cobv's date until that date passes
    return today + dt.timedelta(days=settings.PIX_COBV_OVERDUE_DAYS)


def cobv_body(*, charge: Charge, installment: Installment | None, amount: Decimal, due_date: dt.date) -> dict:
    """The CobVSolicitada for what is owed (see the module docstring)."""
    valor: dict = {"original": _money(amount)}
    fine = min(Decimal(settings.PIX_FINE_PERCENT), CDC_MAX_FINE_PERCENT)
    if fine > 0:
        valor["multa"] = {"modalidade": 2, "valorPerc": _money(fine)}
    interest = Decimal(settings.PIX_INTEREST_MONTHLY_PERCENT)
    if interest > 0:
        valor["juros"] = {"modalidade": 3, "valorPerc": _money(interest)}
    agreement = installment.agreement if installment is not None else None
    if agreement is not None and agreement.discount_percent > 0 and agreement.installments == 1:
        full = charge.balance
        discount = full - amount
        if discount > 0:
            valor["original"] = _money(full)
            valor["desconto"] = {
                "modalidade": 1,
                "descontoDataFixa": [{"data": due_date.isoformat(), "valorPerc": _money(discount)}],
            }
    return {
        "calendario": {
            "dataDeVencimento": due_date.isoformat(),
            "validadeAposVencimento": VALIDITY_AFTER_DUE_DAYS,
        },
        "devedor": _debtor(charge),
        "valor": valor,
        "chave": settings.PIX_KEY,
        "solicitacaoPagador": charge.title[:140],
    }


def _version_key(body: dict) -> str:
    devedor = repr(sorted(body["devedor"].items()))
    parts = [body["calendario"]["dataDeVencimento"], devedor, repr(body["valor"])]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _usable(cobv: PixCobv | None) -> bool:
    """A cobv takes one Pix: once money arrived for it (even partly), the next code is a new version."""
    return cobv is not None and not Payment.objects.filter(txid=cobv.txid).exists()


def _save_answer(cobv: PixCobv, answer: dict, *, body: dict, key: str, amount: Decimal, due: dt.date) -> None:
    code = answer.get("pixCopiaECola")
    if not isinstance(code, str) or not code:
        raise PixApiError("bad_response", "the cobv answer has no pixCopiaECola", permanent=False)
    cobv.amount, cobv.due_date, cobv.version_key = amount, due, key
    cobv.pix_copia_e_cola = code
    cobv.location = str(answer.get("location") or "")[:255]
    cobv.psp_response = answer
    cobv.save(
        update_fields=[
            "amount",
            "due_date",
            "version_key",
            "pix_copia_e_cola",
            "location",
            "psp_response",
            "updated_at",
        ]
    )


def _revision(body: dict) -> dict:
    return {k: body[k] for k in ("calendario", "devedor", "valor")}


def _create(charge: Charge, installment: Installment | None) -> PixCobv:
    """A new version's row (before the PSP is called: the txid is reserved, a crash leaves a row to retry)."""
    existing = PixCobv.objects.filter(charge=charge, installment=installment).count()
    for version in range(existing + 1, existing + 20):
        try:
            return PixCobv.objects.create(
                charge=charge,
                installment=installment,
                txid=txid_for(charge.pk, installment.pk if installment else None, version),
                amount=Decimal("0.01"),
                due_date=timezone.localdate(),
                version_key="",
            )
        except IntegrityError:
            continue  # another worker took this version meanwhile
    raise ApplicationError("Não foi possível reservar um txid para a cobrança Pix.", {"charge": charge.pk})


def _put(cobv: PixCobv, body: dict) -> dict:
    """PUT the cobv; a PUT refused because the txid exists (a first PUT whose answer was lost) revises it."""
    client = get_pix_client()
    try:
        return client.put_cobv(cobv.txid, body)
    except PixApiError as exc:
        if not exc.permanent or exc.reason != "invalid_request":
            raise
        try:
            client.get_cobv(cobv.txid)
        except PixNotFound:
            raise exc from None
        return client.patch_cobv(cobv.txid, _revision(body))


def cobv_ensure(*, charge: Charge, installment: Installment | None = None) -> PixCobv:
    """The cobv for what the charge (or its installment) owes now, created or revised at the PSP.

    Raises PixChargeUnavailable (nothing owed, no CPF/CNPJ) or PixApiError (the PSP failed). Never call it
    inside a transaction: it talks to the PSP."""
    if charge.status not in PAYABLE_STATUSES:
        raise PixChargeUnavailable("Esta cobrança não está em aberto.", {"charge": charge.pk})
    installment, amount = amount_owed(charge, installment)
    if amount <= 0:
        raise PixChargeUnavailable("Nada a pagar nesta cobrança.", {"charge": charge.pk})
    today = timezone.localdate()
    current = (
        PixCobv.objects.filter(charge=charge, installment=installment, status=PixCobv.Status.ACTIVE)
        .order_by("-pk")
        .first()
    )
    if not _usable(current):
        current = None
    target_due = installment.due_date if installment is not None else charge.due_date
    due = _due_date(target_due, current, today)
    body = cobv_body(charge=charge, installment=installment, amount=amount, due_date=due)
    key = _version_key(body)
    if current is not None and current.version_key == key and current.pix_copia_e_cola:
        return current
    if current is not None and current.pix_copia_e_cola:
        try:
            answer = get_pix_client().patch_cobv(current.txid, _revision(body))
            _save_answer(current, answer, body=body, key=key, amount=amount, due=due)
            logger.info("pix.cobv_revised charge={} txid={}", charge.pk, current.txid)
            return current
        except PixApiError as exc:
            if not exc.permanent:
                raise
            # The PSP will not revise it (paid meanwhile, removed, expired): retire it, make a new version.
            logger.warning("pix.cobv_not_revisable txid={} reason={}", current.txid, exc.reason)
            PixCobv.objects.filter(pk=current.pk).update(status=PixCobv.Status.REMOVED)
            current = None
    cobv = current or _create(charge, installment)
    answer = _put(cobv, body)
    _save_answer(cobv, answer, body=body, key=key, amount=amount, due=due)
    logger.info("pix.cobv_created charge={} txid={}", charge.pk, cobv.txid)
    if cobv.txid[-3:] != "001":  # a new version: the older ones must not be paid any more
        cobvs_retire_on_commit(charge)
    return cobv


def pix_code_for(charge: Charge, installment: Installment | None = None) -> str:
    """The PIX "copia e cola" for what the charge (or installment) owes now: the static BR Code, or the
    cobv's `pixCopiaECola` with PIX_PROVIDER=api_pix. Raises like `cobv_ensure` (and PixError for a static
    code that cannot be built)."""
    if settings.PIX_PROVIDER != "api_pix":
        installment, amount = amount_owed(charge, installment)
        return static_code(charge, amount)
    return cobv_ensure(charge=charge, installment=installment).pix_copia_e_cola


def message_pix_code(charge: Charge, installment: Installment | None = None) -> PixCode | None:
    """For a message (bot reply, template `{pix}`, régua): never raises. With api_pix, a PSP failure or a
    debtor without CPF/CNPJ falls back to the static code and says why in `fallback_reason`. None: no code
    can be given at all (no PIX key configured, nothing owed, the charge is not open)."""
    if charge.status not in PAYABLE_STATUSES:
        return None
    installment, amount = amount_owed(charge, installment)
    if amount <= 0:
        return None
    reason = ""
    if settings.PIX_PROVIDER == "api_pix":
        try:
            cobv = cobv_ensure(charge=charge, installment=installment)
            return PixCode(code=cobv.pix_copia_e_cola, amount=amount, txid=cobv.txid)
        except PixChargeUnavailable as exc:
            reason = exc.message
        except PixApiError as exc:
            reason = f"PSP indisponível ({exc.reason}): enviado o PIX estático, sem aviso de pagamento."
        logger.warning("pix.static_fallback charge={} reason={}", charge.pk, reason)
    try:
        return PixCode(code=static_code(charge, amount), amount=amount, fallback_reason=reason)
    except PixError:
        return None


def psp_codes_in_text(*, text: str, client: Client | None) -> tuple[str, list[str]]:
    """A message written with static codes (the bot's policy is pure and builds them itself) made to carry
    the PSP's: with PIX_PROVIDER=api_pix, each static code of one of the client's open charges found in
    `text` (the amount it owes now, as `amount_owed` and the bot's snapshot both say) is replaced by its
    cobv's `pixCopiaECola`. Returns the text and the reasons a code stayed static (for the operator).

    Called outside any transaction, where a message leaves: the bot's reply after its turn commits, the
    operator's "enviar o PIX", canned replies. A code for several charges at once stays static (no cobv
    covers more than one charge)."""
    if settings.PIX_PROVIDER != "api_pix" or client is None or not text or "br.gov.bcb.pix" not in text:
        return text, []
    reasons: list[str] = []
    charges = Charge.objects.filter(client=client, status__in=PAYABLE_STATUSES).order_by("due_date", "pk")
    for charge in charges.select_related("client"):
        installment, amount = amount_owed(charge)
        if amount <= 0:
            continue
        try:
            static = static_code(charge, amount)
        except PixError:
            return text, reasons
        if static not in text:
            continue
        pix = message_pix_code(charge, installment)
        if pix is None or pix.fallback_reason:
            reasons.append(pix.fallback_reason if pix else "sem código Pix")
            continue
        text = text.replace(static, pix.code)
    return text, reasons
