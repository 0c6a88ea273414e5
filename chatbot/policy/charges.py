"""The part of a turn that finds the charge the debtor means and words charges, totals and PIX."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chatbot.pix import PixError, pix_payload, pix_txid

from .common import (
    _ALL_CHARGES,
    _ALL_WORDS,
    _FOLLOW_UP_WORDS,
    _HALF,
    _MONTHS,
    _NOT_ALL,
    HALF_ENTITY,
    PENDING_CHARGE_CHOICE,
    UNKNOWN_STREAK_HANDOFF,
    _choice_number,
    _description,
    charge_label,
    day,
    money,
)
from .parsing import as_date, as_decimal, fold
from .replies import phrase, reply
from .types import DISPUTED, PAYMENT_CLAIMED, ActionKind, ChargeSnapshot, _jsonable


class _ChargesMixin:
    """The part of a turn that finds the charge the debtor means and words charges, totals and PIX."""

    # --- charges --------------------------------------------------------------------------------------------

    def _charge_by_id(self, charge_id: Any) -> ChargeSnapshot | None:
        return next((c for c in self.snap.actionable_charges if c.id == charge_id), None)

    def _focus_charge(self) -> ChargeSnapshot | None:
        """The charge in focus: the caller's (the reminder quoted or the last reminder, when newer), else the
        one this conversation last talked about."""
        for charge_id in (self.snap.focus_charge_id, self.context.get("focus_charge_id")):
            if charge_id is not None and (charge := self._charge_by_id(charge_id)) is not None:
                return charge
        return None

    def _named(
        self, charges: list[ChargeSnapshot], *, by_amount: bool = True
    ) -> tuple[list[ChargeSnapshot], bool]:
        """The charges the debtor's words point at, and whether they pointed at all: an amount (the charge's
        or its installment's; unless `by_amount` is False), its reference, its description, a month ("a de
        dezembro": due month or description) or, outside a promise, its due date. Each clue that fits
        narrows the list."""
        folded = fold(self.text)
        tokens = set(folded.replace(".", " ").split())
        pool, applied = list(charges), False

        def narrow(fits: list[ChargeSnapshot]) -> None:
            nonlocal pool, applied
            if fits:
                pool, applied = fits, True

        amount = as_decimal(self.entities.get("amount")) if by_amount else None
        if amount is not None:
            narrow([c for c in pool if amount in (c.amount, c.owed, c.agreement_installment_amount)])
        narrow([c for c in pool if len(c.reference) >= 3 and fold(c.reference) in tokens])
        narrow([c for c in pool if len(c.description) >= 4 and fold(c.description) in folded])
        months = {_MONTHS[t] for t in tokens if t in _MONTHS}
        if months:
            narrow(
                [
                    c
                    for c in pool
                    if c.due_date.month in months
                    or any(name in fold(c.description).split() for name, m in _MONTHS.items() if m in months)
                ]
            )
        due = as_date(self.entities.get("date"))
        if due is not None and self.intent != "promessa_pagamento":
            narrow([c for c in pool if c.due_date == due])
        return pool, applied

    def _paid_named(self) -> str | None:
        """The debtor names a charge that no open charge fits but one paid lately does ("já paguei a de
        novembro", "o pix da de novembro"): it is paid, said with the amount and day received, and nothing
        is done to another charge. None: the words fit an open charge, or no paid one."""
        if self.chosen is not None or self.chose_all or not self.snap.recent_paid:
            return None
        open_ = self.snap.actionable_charges
        if open_ and self._named(open_)[1]:
            return None
        # An amount smaller than what an open charge owes may be a part of it ("paguei 120"): not a name.
        amount = as_decimal(self.entities.get("amount"))
        by_amount = amount is None or all(amount >= c.owed for c in open_)
        named, applied = self._named(list(self.snap.recent_paid), by_amount=by_amount)
        if not applied or len(named) != 1:
            return None
        paid = named[0]
        values = {
            "cobranca": self._label(paid),
            "valor": money(paid.paid_amount or paid.amount),
            "pago_em": (paid.paid_on or paid.due_date).strftime("%d/%m"),
        }
        if open_:
            key = "cobranca_ja_paga_outras"
        elif any(c.status == PAYMENT_CLAIMED for c in self.snap.charges):
            # Nothing open, but a payment the debtor informed is still being checked: not "nothing open".
            key = "cobranca_ja_paga_em_conferencia"
        else:
            key = "cobranca_ja_paga"
        return reply(key, **values)

    def _bare_follow_up(self) -> str | None:
        """A message that only names a charge ("e a de dezembro?", "e a mensalidade de dezembro?"), whatever
        the classifier made of it (a greeting, thanks, an opt-out...): the last topic (PIX, promise,
        negotiation; the PIX by default) for the charge named, or "it is paid" for a charge paid lately.
        None: the message says more than a charge's name, or names none."""
        tokens = fold(self.text).replace(".", " ").split()
        charges = [*self.snap.actionable_charges, *self.snap.recent_paid]
        names = {word for c in charges for word in fold(f"{c.description} {c.reference}").split()}
        if not tokens or any(
            t not in _FOLLOW_UP_WORDS
            and t not in _MONTHS
            and t not in names
            and not any(ch.isdigit() for ch in t)
            for t in tokens
        ):
            return None
        named, applied = self._named(self.snap.actionable_charges)
        if not (applied and len(named) == 1):
            return self._paid_named()
        return self._continue_topic(named[0])

    def _continue_topic(self, charge: ChargeSnapshot) -> str:
        """The last topic's answer (PIX, promise, negotiation; the PIX by default) for the charge named."""
        last = [*self.context.get("last_intents", [])][-1:] or [""]
        topics = ("informacoes_pagamento", "promessa_pagamento", "negociacao", "dificuldade_financeira")
        self.intent = last[0] if last[0] in topics else "informacoes_pagamento"
        self.chosen = charge
        self.entities.pop("amount", None)
        return self._handler()()

    def _target(self, *, prefer_free: bool = False) -> ChargeSnapshot | None:
        """The charge this turn is about: the one the debtor picked or named, else the one in focus, else the
        only candidate. None with `self.ambiguous` set when several fit (the caller asks which one), or
        with nothing open. `prefer_free`: without a name or focus, charges under an agreement step aside."""
        charges = self.snap.actionable_charges
        self.ambiguous = []
        if not charges:
            return None
        if self.chosen is not None:
            return self._focus_on(self.chosen)
        named, applied = self._named(charges)
        if applied and len(named) == 1:
            return self._focus_on(named[0])
        focus = self._focus_charge()
        if focus is not None and focus in named:
            return self._focus_on(focus)
        pool = named
        if prefer_free and not applied:
            pool = [c for c in pool if not c.under_agreement] or pool
        if len(pool) == 1:
            return self._focus_on(pool[0])
        self.ambiguous = pool
        return None

    def _focus_on(self, charge: ChargeSnapshot) -> ChargeSnapshot:
        self.updates["focus_charge_id"] = charge.id
        self.updates["focus_at"] = self.now.isoformat()
        return charge

    def _ask_which(self, *, allow_all: bool = False) -> str:
        """Several open charges and none in focus: list them briefly and ask (pending `charge_choice`, which
        keeps the intent and entities of this message to finish its flow once the debtor answers)."""
        options = self.ambiguous or self.snap.actionable_charges
        entities = {key: _jsonable(value) for key, value in self.entities.items()}
        if self._says_half():
            # "paguei metade" is read from the text, which the answer ("2") no longer carries.
            entities[HALF_ENTITY] = True
        self._set_pending(
            PENDING_CHARGE_CHOICE,
            intent=self.intent,
            entities=entities,
            options=[c.id for c in options],
            allow_all=allow_all,
        )
        lines = "\n".join(self._short(n, c) for n, c in enumerate(options, 1))
        if allow_all:
            total = sum((c.owed for c in options), Decimal("0"))
            return reply("qual_cobranca_pix", quantidade=len(options), opcoes=lines, total=money(total))
        return reply("qual_cobranca", quantidade=len(options), opcoes=lines)

    def _says_half(self) -> bool:
        """ "metade" in this message, or in the one whose charge the debtor just picked."""
        return bool(self.entities.get(HALF_ENTITY)) or bool(_HALF.search(fold(self.text)))

    def _answer_charge_choice(self) -> str | None:
        data = self._pending_data()
        options = [c for c in (self._charge_by_id(i) for i in data.get("options") or []) if c is not None]
        if not options:
            return None
        folded = fold(self.text).replace(".", " ").strip()
        chosen: ChargeSnapshot | None = None
        chose_all = bool(data.get("allow_all")) and any(f" {word} " in f" {folded} " for word in _ALL_WORDS)
        number = _choice_number(folded)
        if number is not None and 1 <= number <= len(options):
            chosen = options[number - 1]
        elif not chose_all:
            named, applied = self._named(options)
            if applied and len(named) == 1:
                chosen = named[0]
        if chosen is None and not chose_all:
            if self.intent != "desconhecido":
                return None  # a new topic: its own flow
            streak = int(self.context.get("unknown_streak") or 0) + 1
            if streak >= UNKNOWN_STREAK_HANDOFF:
                return self._not_understood()
            self.updates["unknown_streak"] = streak
            return reply("qual_cobranca_nao_entendi", quantidade=len(options))
        self.chosen, self.chose_all = chosen, chose_all
        self.intent = data.get("intent") or self.intent
        self.entities = {**(data.get("entities") or {}), **{k: v for k, v in self.entities.items() if v}}
        if chosen is not None:
            # The amount that named the charge is no partial promise.
            self.entities.pop("amount", None)
        self._set_pending(None)
        return self._handler()()

    def _all_charges_meant(self) -> bool:
        """The debtor means all the open charges: he says so ("todas", "as duas", "o total"), the amount he
        mentions is their total, or he answered "todas"."""
        charges = self.snap.actionable_charges
        if len(charges) < 2:
            return False
        if self.chose_all:
            return True
        if _ALL_CHARGES.search(_NOT_ALL.sub(" ", fold(self.text))):
            # "me manda o pix de todas", "quero pagar as duas": every charge, unless one is named.
            named, applied = self._named(charges)
            if not (applied and len(named) == 1):
                return True
        amount = as_decimal(self.entities.get("amount"))
        totals = (sum(c.amount for c in charges), sum(c.owed for c in charges))
        return len(charges) > 1 and amount is not None and amount in totals

    def _total_line(self) -> str:
        charges = self.snap.actionable_charges
        if len(charges) < 2:
            return ""
        total = sum((c.owed for c in charges), Decimal("0"))
        return phrase("em_aberto", quantidade=len(charges), total=money(total))

    def _label(self, charge: ChargeSnapshot) -> str:
        return charge_label(amount=charge.amount, due_date=charge.due_date, description=charge.description)

    def _short(self, n: int, charge: ChargeSnapshot) -> str:
        values = {
            "n": n,
            "descricao": _description(charge) or phrase("sem_descricao"),
            "valor": money(charge.amount),
            "vencimento": day(charge.due_date),
        }
        if charge.under_agreement:
            return phrase("escolha_com_acordo", acordo=self._agreement_phrase(charge), **values)
        return phrase("escolha", **values)

    def _agreement_phrase(self, charge: ChargeSnapshot) -> str:
        """The agreement in force: "acordo de 3x de R$ 63,30", "acordo de pagamento à vista de R$ 170,91"."""
        if (charge.agreement_installments or 1) > 1:
            return phrase(
                "acordo_parcelado",
                parcelas=charge.agreement_installments,
                parcela=money(charge.amount_due_now),
            )
        return phrase("acordo_a_vista", valor=money(charge.amount_due_now))

    def _creditor_footer(self) -> str:
        creditor = self.snap.creditor
        digits = "".join(ch for ch in creditor.document if ch.isalnum())
        values = {
            "credor": creditor.name,
            "tipo_documento": "CPF" if len(digits) == 11 else "CNPJ",
            "documento": creditor.document.strip(),
            "endereco": creditor.address.strip(),
        }
        key = {
            (True, True): "rodape_completo",
            (True, False): "rodape_sem_endereco",
            (False, True): "rodape_sem_documento",
            (False, False): "rodape_so_nome",
        }[(bool(values["documento"]), bool(values["endereco"]))]
        return phrase(key, **{k: v for k, v in values.items() if v})

    def _pix(self, amount: Decimal, reference: str) -> str | None:
        creditor = self.snap.creditor
        try:
            return pix_payload(
                key=creditor.pix_key,
                name=creditor.name,
                city=creditor.city,
                amount=amount,
                txid=pix_txid(reference),
            )
        except PixError:
            return None

    def _pix_block(self, amount: Decimal, reference: str) -> str:
        code = self._pix(amount, reference)
        if code is None:
            # No PIX key configured: say so instead of sending a broken code; an operator follows up.
            self._do(ActionKind.FLAG, reason="PIX não configurado: enviar dados de pagamento")
            return reply("pix_indisponivel")
        return reply("pix", valor=money(amount), codigo=code)

    def _no_charge_reply(self) -> str:
        statuses = {c.status for c in self.snap.charges}
        if PAYMENT_CLAIMED in statuses:
            return reply("sem_cobranca_em_conferencia")
        if DISPUTED in statuses:
            return reply("sem_cobranca_contestada")
        if self.snap.recent_payment is not None:
            amount, paid_on = self.snap.recent_payment
            return reply("pagamento_recente", valor=money(amount), pago_em=paid_on.strftime("%d/%m"))
        return reply("sem_cobranca")
