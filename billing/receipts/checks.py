"""Does a receipt prove that this charge was paid to this creditor? Each check says yes, no, or "could not
tell" (a field not read), with a pt-BR message for the inbox:

- recipient: the creditor's CNPJ/CPF (settings.CREDITOR_DOCUMENT) or Pix key (settings.PIX_KEY); the name
  alone (settings.CREDITOR_NAME) is not enough (an edited name over another recipient's document is the
  usual fake);
- amount: what the charge, one of its agreement's open installments, or a pending promise asks, and the same
  amount wherever the receipt prints it (an edited header over the original detail line shows here);
- date: not in the future, not before the charge could be paid (`earliest_payment`: the earlier of its
  creation and PAID_BEFORE_DUE before its due date), and the minute inside the end-to-end id (UTC) agrees
  with the printed time (an edited date shows);
- e2eid: present, well formed, and not already used to settle (or claimed for) another charge.

`evaluate` is pure (the bench runs it on generated receipts); `expectations_for` and `e2eid_used_elsewhere`
read the database for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import product

from unidecode import unidecode

from billing.receipts.documents import digits_of
from billing.receipts.fields import SAO_PAULO, ReceiptReading, e2eid_time

DATE_SLACK = dt.timedelta(minutes=10)  # phone clocks and the PSP's may differ a little
E2E_MINUTES_SLACK = 3
# Characters OCR mistakes for each other in the random tail of an e2eid.
_LOOKALIKES = {"O": "0", "0": "O", "I": "1", "1": "I", "l": "1"}
MAX_VARIANTS = 16
# A payment claim ("paguei 120, o resto dia 5") older than this before the receipt no longer names its amount.
STATED_WITHIN = dt.timedelta(days=7)
PAYMENT_CLAIM_INTENT = "confirmacao_pagamento"
# How long before its due date a charge may have been paid: the date check's lower bound is the earlier of the
# charge's creation and this before its due date (an old debt imported today was payable long before).
PAID_BEFORE_DUE = dt.timedelta(days=90)


@dataclass(frozen=True)
class Expectation:
    """An amount the receipt may rightly show: `label` for the operator, `installment_id` when it is one."""

    amount: Decimal
    label: str
    installment_id: int | None = None
    partial: bool = False  # a part of the balance the debtor said he paid ("paguei 120")


@dataclass(frozen=True)
class Creditor:
    name: str
    document: str
    key: str


@dataclass(frozen=True)
class Check:
    code: str
    ok: bool | None  # None: could not be checked (field not read)
    message: str


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    matched: Expectation | None = None

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.ok is False]

    def as_json(self) -> list[dict]:
        return [asdict(check) for check in self.checks]


def brl(amount: Decimal) -> str:
    whole, cents = f"{amount:.2f}".split(".")
    return f"R$ {int(whole):,}".replace(",", ".") + f",{cents}"


def _name_key(text: str) -> set[str]:
    stop = {"ltda", "sa", "s/a", "me", "eireli", "de", "da", "do", "dos", "das", "e"}
    return {
        w for w in unidecode(text or "").lower().replace(".", " ").split() if w not in stop and len(w) > 1
    }


def check_recipient(reading: ReceiptReading, creditor: Creditor) -> Check:
    document = reading.recipient_document or ""
    if document and "*" not in document:
        if digits_of(document) == digits_of(creditor.document):
            return Check("recipient", True, f"Recebedor: CNPJ/CPF do credor ({document}).")
        return Check("recipient", False, f"Recebedor com outro CNPJ/CPF ({document}), não o do credor.")
    if reading.recipient_key:
        if reading.recipient_key.strip().lower() == creditor.key.strip().lower():
            return Check("recipient", True, "Recebedor: chave Pix do credor.")
        return Check("recipient", False, f"Chave Pix de outro recebedor ({reading.recipient_key}).")
    wanted = _name_key(creditor.name)
    if reading.recipient_name and wanted and wanted <= _name_key(reading.recipient_name):
        return Check("recipient", None, "Só o nome do recebedor confere; CNPJ/CPF e chave não foram lidos.")
    if reading.recipient_name:
        return Check("recipient", False, f"Recebedor não é o credor ({reading.recipient_name}).")
    return Check("recipient", None, "Recebedor não lido.")


def check_amount(
    reading: ReceiptReading, expected: list[Expectation], balance: Decimal | None = None
) -> tuple[Check, Expectation | None]:
    """The amount against what is owed. With the charge's `balance`, a smaller amount nobody announced is a
    plausible partial payment: not a mismatch, but a person confirms it (ok None)."""
    if reading.amount is None:
        return Check("amount", None, "Valor não lido."), None
    if len(set(reading.amounts_seen)) > 1:
        shown = ", ".join(brl(amount) for amount in reading.amounts_seen)
        return Check(
            "amount", False, f"O comprovante mostra valores diferentes ({shown}): possível edição."
        ), None
    # What the charge would still owe once this payment counts (never the balance before it).
    rest = f"; saldo após este pagamento: {brl(max(balance - reading.amount, Decimal(0)))}" if balance else ""
    # A part the debtor said he paid is labelled as such even when a promise has the same amount (the promise
    # is for the rest): the stated parts are tried first.
    ordered = sorted(expected, key=lambda e: not e.partial)
    for expectation in ordered:
        if reading.amount == expectation.amount:
            label = expectation.label
            if expectation.partial:
                label = f"{label} (pagamento parcial{rest})"
            return Check("amount", True, f"Valor {brl(reading.amount)} = {label}."), expectation
    if balance is not None and 0 < reading.amount < balance:
        return Check(
            "amount",
            None,
            f"Valor {brl(reading.amount)} menor que o saldo ({brl(balance)}): pagamento parcial, "
            f"conferir{rest}.",
        ), None
    owed = "; ".join(f"{e.label} {brl(e.amount)}" for e in expected[:4]) or "nada em aberto"
    return Check("amount", False, f"Valor {brl(reading.amount)} não confere ({owed})."), None


def earliest_payment(charge_created_at: dt.datetime | None, due_date: dt.date | None) -> dt.datetime | None:
    """The earliest plausible payment time for a charge: the earlier of its creation and PAID_BEFORE_DUE
    before its due date, less one day. The row's creation alone is wrong for an old debt imported today (the
    debtor may have paid it before the import)."""
    bounds = [charge_created_at] if charge_created_at is not None else []
    if due_date is not None:
        bounds.append(dt.datetime.combine(due_date, dt.time.min, tzinfo=SAO_PAULO) - PAID_BEFORE_DUE)
    return min(bounds) - dt.timedelta(days=1) if bounds else None


def check_date(
    reading: ReceiptReading,
    *,
    charge_created_at: dt.datetime | None,
    now: dt.datetime,
    due_date: dt.date | None = None,
) -> Check:
    if reading.paid_at is None:
        return Check("date", None, "Data do pagamento não lida.")
    shown = reading.paid_at.strftime("%d/%m/%Y %H:%M")
    if reading.paid_at > now + DATE_SLACK:
        return Check("date", False, f"Data no futuro ({shown}).")
    earliest = earliest_payment(charge_created_at, due_date)
    if earliest is not None and reading.paid_at < earliest:
        why = "antes de a cobrança existir"
        if due_date is not None:
            why = (
                f"antes da criação da cobrança e mais de {PAID_BEFORE_DUE.days} dias antes do vencimento "
                f"({due_date:%d/%m/%Y})"
            )
        return Check("date", False, f"Pago em {shown}, {why}.")
    moment = e2eid_time(reading.e2eid) if reading.e2eid else None
    if moment is not None:
        gap = abs((reading.paid_at.replace(second=0) - moment).total_seconds()) / 60
        if gap > E2E_MINUTES_SLACK + 1:
            return Check("date", False, f"Data impressa ({shown}) diverge da data do identificador do Pix.")
    return Check("date", True, f"Data plausível ({shown}).")


def check_e2eid(reading: ReceiptReading, *, used_elsewhere: bool) -> Check:
    if not reading.e2eid:
        return Check("e2eid", None, "Identificador do Pix (E2E) não lido.")
    if used_elsewhere:
        return Check("e2eid", False, f"O Pix {reading.e2eid} já foi usado para outra cobrança.")
    return Check("e2eid", True, f"Identificador {reading.e2eid} ainda não usado.")


def evaluate(
    reading: ReceiptReading,
    *,
    creditor: Creditor,
    expected: list[Expectation],
    charge_created_at: dt.datetime | None,
    now: dt.datetime,
    e2eid_used_elsewhere: bool = False,
    balance: Decimal | None = None,
    due_date: dt.date | None = None,
) -> Verdict:
    """Every check of one receipt against one charge (pure). `balance`: what the charge still owes (a smaller
    amount is then a partial payment to confirm, not a mismatch). `due_date`: the charge's, for the date's
    lower bound (`earliest_payment`)."""
    amount, matched = check_amount(reading, expected, balance)
    return Verdict(
        checks=[
            check_recipient(reading, creditor),
            amount,
            check_date(reading, charge_created_at=charge_created_at, now=now, due_date=due_date),
            check_e2eid(reading, used_elsewhere=e2eid_used_elsewhere),
        ],
        matched=matched,
    )


def e2eid_variants(e2eid: str) -> list[str]:
    """The id as read, then the same id with look-alike characters of its random tail swapped (O/0, I/1, l/1),
    at most MAX_VARIANTS: what to ask the PSP, and what counts as "the same Pix" when looking for reuse."""
    head, tail = e2eid[:21], e2eid[21:]
    options = [(ch, _LOOKALIKES[ch]) if ch in _LOOKALIKES else (ch,) for ch in tail]
    variants = []
    for combo in product(*options):
        variants.append(head + "".join(combo))
        if len(variants) >= MAX_VARIANTS:
            break
    return variants


# --- Reading the database for the checks --------------------------------------------------------------------


def creditor_from_settings() -> Creditor:
    from django.conf import settings

    return Creditor(name=settings.CREDITOR_NAME, document=settings.CREDITOR_DOCUMENT, key=settings.PIX_KEY)


def expectations_for(charge, stated: list[Decimal] | tuple[Decimal, ...] = ()) -> list[Expectation]:
    """The amounts a receipt for `charge` may rightly show: its open installments (balance and full amount),
    the charge's balance and amount, pending promises, and the parts of the balance the debtor said he paid
    (`stated`, see `stated_amounts`)."""
    from billing.models import Agreement, Installment, PromiseToPay

    found: list[Expectation] = []
    installments = Installment.objects.filter(
        agreement__charge=charge, agreement__status=Agreement.Status.ACTIVE, status=Installment.Status.OPEN
    ).order_by("number")
    for installment in installments:
        found.append(Expectation(installment.balance, f"parcela {installment.number}", installment.pk))
        if installment.amount != installment.balance:
            found.append(Expectation(installment.amount, f"parcela {installment.number}", installment.pk))
    found.append(Expectation(charge.balance, "saldo da cobrança"))
    if charge.amount != charge.balance:
        found.append(Expectation(Decimal(charge.amount), "valor da cobrança"))
    # A stated part is kept even when a promise has its amount ("paguei 120, o resto (120) dia 5"): the
    # receipt is the part paid, not the promise, and `check_amount` tries the stated parts first.
    known = {e.amount for e in found}
    found += [
        Expectation(amount, "pagamento informado pelo devedor", partial=True)
        for amount in dict.fromkeys(stated)
        if amount < charge.balance and amount not in known
    ]
    promises = charge.promises.filter(status=PromiseToPay.Status.PENDING, amount__isnull=False)
    found += [Expectation(promise.amount, "promessa de pagamento") for promise in promises]
    return [e for e in found if e.amount > 0]


def stated_amounts(message) -> list[Decimal]:
    """The amounts the debtor said he paid ("paguei 120") in his messages of the last STATED_WITHIN before
    `message` (the one carrying the receipt), newest first: the classifier's `amount` entity of his payment
    claims (`confirmacao_pagamento`, or corrected to it by an operator)."""
    from django.db.models import Q

    from conversations.models import Message

    claims = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Message.Direction.IN,
            pk__lte=message.pk,
            created_at__gte=message.created_at - STATED_WITHIN,
        )
        .filter(
            Q(corrected_intent=PAYMENT_CLAIM_INTENT) | Q(corrected_intent="", intent=PAYMENT_CLAIM_INTENT)
        )
        .order_by("-pk")
        .values_list("entities", flat=True)[:5]
    )
    amounts = []
    for entities in claims:
        try:
            amount = Decimal(str((entities or {}).get("amount")))
        except ArithmeticError:
            continue
        if amount.is_finite() and amount > 0:
            amounts.append(amount.quantize(Decimal("0.01")))
    return amounts


def e2eid_used_elsewhere(e2eid: str | None, *, charge_id: int | None, exclude_check_id: int | None) -> bool:
    """True when this Pix (or a look-alike reading of it) settled another charge, or another receipt for
    another charge carries it."""
    from billing.models import Payment, ReceiptCheck

    if not e2eid:
        return False
    variants = e2eid_variants(e2eid)
    paid = Payment.objects.filter(e2eid__in=variants).exclude(charge_id=charge_id).exists()
    claimed = (
        ReceiptCheck.objects.filter(e2eid__in=variants)
        .exclude(pk=exclude_check_id)
        .exclude(charge_id=charge_id)
        .exclude(status__in=[ReceiptCheck.Status.REJECTED, ReceiptCheck.Status.REFUSED])
        .exists()
    )
    return paid or claimed
