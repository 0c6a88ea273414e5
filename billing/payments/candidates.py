"""The charges a chunk of statement lines may pay, loaded with a few queries per chunk (never per line):
our txids named in the lines, and the open charges and agreement installments whose balance equals one of
the lines' amounts. `billing.payments.statements` decides with them; the rules are in its docstring."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Exists, ExpressionWrapper, F, OuterRef
from django.db.models.functions import Round, Upper
from django.utils import timezone

from billing.models import Agreement, Charge, Installment, PixCobv
from billing.payments.matching import LineIdentity, document_matches, name_matches, name_tokens
from billing.payments.ofx import OfxTransaction
from cobranca.masking import mask_document

__all__ = ["Candidate", "CandidateIndex", "Window"]


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


@dataclass(frozen=True, slots=True)
class Window:
    before: dt.timedelta
    after: dt.timedelta

    def holds(self, posted: dt.date, *, created: dt.date, due: dt.date) -> bool:
        return created - self.before <= posted <= max(due, created) + self.after


@dataclass(frozen=True, slots=True)
class Candidate:
    charge_id: int
    installment_id: int | None
    installment_number: int | None
    client_name: str
    client_document: str
    client_tokens: tuple[str, ...]
    balance: Decimal
    due_date: dt.date
    created: dt.date

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.charge_id, self.installment_id)

    def as_json(self) -> dict[str, Any]:
        """What the operator queue shows for a candidate: the document masked, as every list does."""
        return {
            "charge": self.charge_id,
            "installment": self.installment_id,
            "installment_number": self.installment_number,
            "client": self.client_name,
            "document": mask_document(self.client_document),
            "balance": str(self.balance),
            "due_date": self.due_date.isoformat(),
        }

    def identifies(self, ident: LineIdentity) -> bool:
        by_document = document_matches(ident.documents, self.client_document)
        if by_document is not None:
            return by_document
        return name_matches(list(self.client_tokens), ident.tokens)


class CandidateIndex:
    def __init__(self, txids: dict[str, Candidate], by_cents: dict[int, list[Candidate]]) -> None:
        self._txids = txids
        self._by_cents = by_cents

    @classmethod
    def load(cls, *, lines: list[OfxTransaction], idents: list[LineIdentity]) -> CandidateIndex:
        if not lines:
            return cls({}, {})
        tokens = {t.upper() for ident in idents for t in ident.txids}
        txids: dict[str, Candidate] = {}
        if tokens:
            cobvs = (
                PixCobv.objects.annotate(utxid=Upper("txid"))
                .filter(utxid__in=tokens)
                .select_related("charge__client", "installment")
            )
            for cobv in cobvs:
                txids[cobv.txid.upper()] = _from_charge(cobv.charge, cobv.installment)
        cents = {_cents(tx.amount) for tx in lines}
        return cls(txids, _by_amount(cents))

    def by_txid(self, ident: LineIdentity) -> Candidate | None:
        for txid in ident.txids:
            found = self._txids.get(txid.upper())
            if found is not None:
                return found
        return None

    def candidates(
        self,
        tx: OfxTransaction,
        ident: LineIdentity,
        window: Window,
        *,
        exclude: set[tuple[int, int | None]],
    ) -> tuple[list[Candidate], list[Candidate]]:
        """(charges that match amount, payer and window; charges of that amount in the window, as
        suggestions when none matches). One candidate per charge: its earliest installment left."""
        posted = timezone.localdate(tx.posted)
        in_window: list[Candidate] = []
        seen_charges: set[int] = set()
        for cand in self._by_cents.get(_cents(tx.amount), ()):
            if cand.key in exclude or cand.charge_id in seen_charges:
                continue
            if not window.holds(posted, created=cand.created, due=cand.due_date):
                continue
            seen_charges.add(cand.charge_id)
            in_window.append(cand)
        found = [c for c in in_window if c.identifies(ident)]
        return found, in_window


_BALANCE = ExpressionWrapper(
    Round((F("amount") - F("amount_paid")) * 100), output_field=DecimalField(max_digits=14, decimal_places=0)
)


def _by_amount(cents: set[int]) -> dict[int, list[Candidate]]:
    by_cents: dict[int, list[Candidate]] = defaultdict(list)
    # A charge under an agreement with installments is paid through them, never by its whole balance.
    plan = Installment.objects.filter(
        agreement__charge=OuterRef("pk"),
        agreement__status=Agreement.Status.ACTIVE,
        status=Installment.Status.OPEN,
    )
    charges = (
        Charge.objects.filter(status__in=Charge.OPEN_STATUSES)
        .annotate(balance_cents=_BALANCE, on_plan=Exists(plan))
        .filter(on_plan=False)
        .filter(balance_cents__in=sorted(cents))
        .select_related("client")
        .order_by("due_date", "pk")
    )
    for charge in charges:
        by_cents[_cents(charge.balance)].append(_from_charge(charge, None))
    installments = (
        Installment.objects.filter(
            status=Installment.Status.OPEN,
            agreement__status=Agreement.Status.ACTIVE,
            agreement__charge__status__in=Charge.OPEN_STATUSES,
        )
        .annotate(balance_cents=_BALANCE)
        .filter(balance_cents__in=sorted(cents))
        .select_related("agreement__charge__client")
        .order_by("agreement__charge_id", "number")
    )
    for inst in installments:
        by_cents[_cents(inst.balance)].append(_from_charge(inst.agreement.charge, inst))
    return by_cents


def _from_charge(charge: Charge, installment: Installment | None) -> Candidate:
    client = charge.client
    return Candidate(
        charge_id=charge.pk,
        installment_id=installment.pk if installment else None,
        installment_number=installment.number if installment else None,
        client_name=client.name,
        client_document=client.document,
        client_tokens=tuple(name_tokens(client.name)),
        balance=installment.balance if installment else charge.balance,
        due_date=installment.due_date if installment else charge.due_date,
        created=timezone.localdate(charge.created_at),
    )
