"""The part of a turn that handles promises, negotiation (offers, plans) and confirmations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from billing.money import agreement_terms

from .common import (
    _NEGOTIATION_WORDS,
    _NO,
    _NOT_NOW,
    _OVERRIDING,
    _PAY_NOW,
    _REST,
    _YES,
    AGREEMENT_FIRST_DUE_DAYS,
    CLAIMED_PART,
    CLAIMED_PART_TTL,
    PENDING_CONFIRM,
    PENDING_PLAN_CHOICE,
    PENDING_PROMISE_DATE,
    PENDING_RECEIPT,
    PROMISE_MAX_DAYS,
    UNKNOWN_STREAK_HANDOFF,
    _answer_word,
    _percent,
    day,
    half,
    money,
)
from .parsing import as_date, as_decimal, fold, is_date_only, parse_plan_choice
from .replies import phrase, reply
from .types import ActionKind, ChargeSnapshot, _jsonable

# The intent a "sim" acts as, by the kind of proposal it confirms.
_PROPOSAL_INTENT = {
    ActionKind.CREATE_AGREEMENT: "negociacao",
    ActionKind.CREATE_PROMISE: "promessa_pagamento",
    ActionKind.OPT_OUT: "opt_out",
}


class _DealsMixin:
    """The part of a turn that handles promises, negotiation (offers, plans) and confirmations."""

    # promise ------------------------------------------------------------------------------------------------

    def _wants_to_pay_now(self) -> bool:
        """ "quero pagar a de dezembro", "como faço pra pagar?": a payment now (no other day, no installment
        words, no "mas"/lack of money), answered with the PIX."""
        folded = fold(self.text)
        when = as_date(self.entities.get("date"))
        return (
            bool(_PAY_NOW.search(folded))
            and not _NEGOTIATION_WORDS.search(folded)
            and not _NOT_NOW.search(folded)
            and (when is None or when == self.today)
        )

    def _promise(self) -> str:
        if self._wants_to_pay_now():
            self.intent = "informacoes_pagamento"
            return self._payment_info()
        if (paid := self._paid_named()) is not None:
            return paid
        charge = self._target()
        if charge is None:
            return self._ask_which() if self.ambiguous else self._no_charge_reply()
        promised = as_date(self.entities.get("date"))
        if promised is None:
            self._set_pending(PENDING_PROMISE_DATE, charge_id=charge.id)
            return reply("promessa_qual_dia", cobranca=self._label(charge))
        return self._record_promise(charge, promised)

    def _answer_promise_date(self) -> str | None:
        promised = as_date(self.entities.get("date"))
        if promised and (is_date_only(self.text) or self.intent not in _OVERRIDING):
            charge = self._charge_by_id(self._pending_data().get("charge_id")) or self._target()
            if charge is None:
                if self.ambiguous:
                    self.intent = "promessa_pagamento"
                    return self._ask_which()
                self._set_pending(None)
                return self._no_charge_reply()
            return self._record_promise(charge, promised)
        if self.intent == "desconhecido":
            streak = int(self.context.get("unknown_streak") or 0) + 1
            if streak >= UNKNOWN_STREAK_HANDOFF:
                return self._not_understood()
            self.updates["unknown_streak"] = streak
            return reply("promessa_data_nao_entendi")
        return None

    def _promise_date_ok(self, promised: dt.date) -> bool:
        return self.today <= promised <= self.today + dt.timedelta(days=PROMISE_MAX_DAYS)

    def _record_promise(self, charge: ChargeSnapshot, promised: dt.date) -> str:
        if promised < self.today:
            self._set_pending(PENDING_PROMISE_DATE, charge_id=charge.id)
            return reply("promessa_data_passada")
        if promised > self.today + dt.timedelta(days=PROMISE_MAX_DAYS):
            self._set_pending(PENDING_PROMISE_DATE, charge_id=charge.id)
            return reply("promessa_longe_demais", dias=PROMISE_MAX_DAYS)
        amount = as_decimal(self.entities.get("amount"))
        if amount is None and (rest := self._rest_of_claimed_part(charge)) is not None:
            # "o resto pago semana que vem" after "paguei 100": the rest of that part, proposed first.
            self._propose_rest(charge, promised, rest)
            return reply(
                "promessa_restante_proposta",
                valor=money(rest),
                data=day(promised),
                cobranca=self._label(charge),
            )
        if amount is None and self._says_half():
            amount = half(charge.owed)  # "pago metade dia 15"
        if amount is not None and (amount >= charge.amount or amount == charge.agreement_installment_amount):
            amount = None  # the whole charge or its installment (or a total of several): a plain promise
        if amount is not None:
            self._propose(
                ActionKind.CREATE_PROMISE, charge_id=charge.id, promised_date=promised, amount=amount
            )
            return reply(
                "promessa_parcial_proposta",
                valor=money(amount),
                cobranca=self._label(charge),
                data=day(promised),
                restante=money(charge.amount - amount),
            )
        return self._promise_recorded(charge, promised, None)

    def _propose_rest(self, charge: ChargeSnapshot, promised: dt.date, rest: Decimal) -> None:
        """Keep a promise of the rest of a part claim for the debtor's "sim" (recorded by
        `_rest_promise_recorded`)."""
        self._propose(
            ActionKind.CREATE_PROMISE,
            charge_id=charge.id,
            promised_date=promised,
            amount=rest,
            rest_of_claim=True,
        )

    def _speaks_of_rest(self) -> bool:
        """ "o resto", "o restante", "o que falta", "a outra metade", "o saldo"."""
        return bool(_REST.search(fold(self.text)))

    def _rest_after(self, charge: ChargeSnapshot, part: Decimal) -> Decimal:
        """What the charge still owes once `part` (said to be paid) is counted: when the money received so far
        already covers the part, it was counted in the balance."""
        owed = charge.owed
        received = charge.amount - owed
        return owed if received >= part else max(owed - part, Decimal("0"))

    def _rest_of_claimed_part(self, charge: ChargeSnapshot, *, rest_word: bool = True) -> Decimal | None:
        """The rest a promise speaks of after a part claim on this charge in the conversation; None when the
        promise does not speak of the rest (`rest_word`: a PIX request needs no such word, the claim's reply
        offered the PIX of the rest), no part was claimed (in the last CLAIMED_PART_TTL), or nothing would be
        left."""
        claimed = self.context.get(CLAIMED_PART) or {}
        part = as_decimal(claimed.get("amount"))
        if part is None or claimed.get("charge_id") != charge.id:
            return None
        if rest_word and not self._speaks_of_rest():
            return None
        if self._claimed_part_expired(claimed):
            return None
        rest = self._rest_after(charge, part)
        return rest if 0 < rest < charge.owed else None

    def _claimed_part_expired(self, claimed: dict[str, Any]) -> bool:
        # A claim remembered without its time (before claims carried one) is of unknown age: not trusted.
        try:
            return self.now - dt.datetime.fromisoformat(claimed["at"]) > CLAIMED_PART_TTL
        except (KeyError, TypeError, ValueError):
            return True

    def _promise_recorded(self, charge: ChargeSnapshot, promised: dt.date, amount: Decimal | None) -> str:
        self._do(ActionKind.CREATE_PROMISE, charge_id=charge.id, promised_date=promised, amount=amount)
        self._focus_on(charge)
        self._set_pending(None)
        if amount is not None:
            text = reply(
                "promessa_parcial_registrada",
                valor=money(amount),
                cobranca=self._label(charge),
                data=day(promised),
                restante=money(charge.amount - amount),
            )
        else:
            text = reply(
                "promessa_registrada",
                valor=money(charge.amount_due_now),
                data=day(promised),
                cobranca=self._label(charge),
            )
        if total := self._total_line():
            text += f" {total}"
        return text

    # negotiation --------------------------------------------------------------------------------------------

    def _max_installments(self, charge: ChargeSnapshot) -> int:
        limits = self.snap.limits
        by_minimum = (
            int(charge.amount // limits.min_installment_amount) if limits.min_installment_amount > 0 else 99
        )
        return max(1, min(limits.max_installments, by_minimum))

    def _offer_lines(self, charge: ChargeSnapshot) -> list[str]:
        discount = self.snap.limits.max_discount_percent
        lump = agreement_terms(amount=charge.amount, installments=1, discount_percent=discount)
        if discount > 0:
            lines = [
                phrase("opcao_a_vista_desconto", n=1, desconto=_percent(discount), valor=money(lump.total))
            ]
        else:
            lines = [phrase("opcao_a_vista", n=1, valor=money(lump.total))]
        for n in range(2, self._max_installments(charge) + 1):
            terms = agreement_terms(amount=charge.amount, installments=n)
            values = {"n": n, "parcelas": n, "parcela": money(terms.installment_amount)}
            if terms.last_installment_amount != terms.installment_amount:
                lines.append(
                    phrase("opcao_parcelada_ultima", ultima=money(terms.last_installment_amount), **values)
                )
            else:
                lines.append(phrase("opcao_parcelada", **values))
        return lines

    def _offer(self, charge: ChargeSnapshot, lead: str) -> str:
        lines = self._offer_lines(charge)
        self._set_pending(PENDING_PLAN_CHOICE, charge_id=charge.id)
        return reply(
            "oferta" if len(lines) > 1 else "oferta_so_a_vista",
            abertura=lead,
            cobranca=self._label(charge),
            opcoes="\n".join(lines),
            quantidade=len(lines),
        )

    def _negotiation(self) -> str:
        if self.intent == "negociacao" and self._wants_to_pay_now():
            self.intent = "informacoes_pagamento"
            return self._payment_info()
        if (paid := self._paid_named()) is not None:
            return paid
        charge = self._target(prefer_free=True)
        if charge is None:
            return self._ask_which() if self.ambiguous else self._no_charge_reply()
        if charge.under_agreement:
            return self._agreement_in_force(charge)
        lead = phrase(
            "abertura_dificuldade" if self.intent == "dificuldade_financeira" else "abertura_negociacao"
        )
        choice = parse_plan_choice(self.text, self.entities, bare_numbers=False)
        if choice is not None:
            return self._pick(charge, choice)
        if as_date(self.entities.get("date")) and not _NEGOTIATION_WORDS.search(fold(self.text)):
            # "posso pagar dia 15?" read as a negotiation: a day to pay the whole charge is a promise.
            self.intent = "promessa_pagamento"
            return self._promise()
        return self._offer(charge, lead)

    def _agreement_in_force(self, charge: ChargeSnapshot) -> str:
        """A charge under an active agreement gets no new offer: the agreement and its next installment."""
        self._set_pending(None)
        return reply(
            "acordo_em_vigor_dificuldade" if self.intent == "dificuldade_financeira" else "acordo_em_vigor",
            cobranca=self._label(charge),
            acordo=self._agreement_phrase(charge),
            valor=money(charge.amount_due_now),
        )

    def _answer_plan_choice(self) -> str | None:
        if self.intent in _OVERRIDING - {"negociacao", "dificuldade_financeira"}:
            return None
        choice = parse_plan_choice(self.text, self.entities, bare_numbers=True)
        charge = self._charge_by_id(self._pending_data().get("charge_id"))
        if choice is not None and charge is not None:
            self.intent = "negociacao"  # "2" picks an option of the offer
            return self._pick(charge, choice)
        if choice is None and charge is not None and _answer_word(self.text) in _YES:
            # A bare "sim" to the list of options (read as a greeting or thanks): which option? The offer
            # stays pending.
            return reply("oferta_qual_opcao", quantidade=len(self._offer_lines(charge)))
        if choice is None and self.intent == "desconhecido" and charge is not None:
            streak = int(self.context.get("unknown_streak") or 0) + 1
            if streak >= UNKNOWN_STREAK_HANDOFF:
                return self._not_understood()
            self.updates["unknown_streak"] = streak
            return reply("oferta_nao_entendi", quantidade=len(self._offer_lines(charge)))
        return None

    def _pick(self, charge: ChargeSnapshot, installments: int) -> str:
        limits = self.snap.limits
        allowed = self._max_installments(charge)
        if installments < 1:
            return self._offer(charge, phrase("abertura_opcao_invalida"))
        if installments > limits.max_installments:
            return self._offer(charge, phrase("abertura_maximo", maximo=limits.max_installments))
        if installments > allowed:
            return self._offer(
                charge,
                phrase("abertura_minimo", minimo=money(limits.min_installment_amount), permitido=allowed),
            )
        discount = limits.max_discount_percent if installments == 1 else Decimal("0")
        first_due = self.today + dt.timedelta(days=AGREEMENT_FIRST_DUE_DAYS)
        plan, _first = self._plan(charge, installments, discount)
        self._propose(
            ActionKind.CREATE_AGREEMENT,
            charge_id=charge.id,
            installments=installments,
            discount_percent=discount,
            first_due_date=first_due,
        )
        return reply(
            "acordo_proposta_a_vista" if installments == 1 else "acordo_proposta_parcelado",
            cobranca=self._label(charge),
            plano=plan,
            data=day(first_due),
        )

    def _plan(self, charge: ChargeSnapshot, installments: int, discount: Decimal) -> tuple[str, Decimal]:
        """The plan in words and the first payment's amount."""
        terms = agreement_terms(amount=charge.amount, installments=installments, discount_percent=discount)
        if installments == 1:
            if discount:
                plan = phrase("plano_a_vista_desconto", valor=money(terms.total), desconto=_percent(discount))
            else:
                plan = phrase("plano_a_vista", valor=money(terms.total))
            return plan, terms.total
        values = {"parcelas": installments, "parcela": money(terms.installment_amount)}
        if terms.last_installment_amount != terms.installment_amount:
            plan = phrase("plano_parcelado_ultima", ultima=money(terms.last_installment_amount), **values)
        else:
            plan = phrase("plano_parcelado", **values)
        return plan, terms.installment_amount

    def _agreement_recorded(self, charge: ChargeSnapshot, params: dict[str, Any]) -> str:
        installments = int(params["installments"])
        discount = as_decimal(params.get("discount_percent")) or Decimal("0")
        first_due = as_date(params["first_due_date"]) or self.today
        self._do(
            ActionKind.CREATE_AGREEMENT,
            charge_id=charge.id,
            installments=installments,
            discount_percent=discount,
            first_due_date=first_due,
        )
        self._focus_on(charge)
        plan, first = self._plan(charge, installments, discount)
        return reply(
            "acordo_registrado_a_vista" if installments == 1 else "acordo_registrado_parcelado",
            cobranca=self._label(charge),
            plano=plan,
            data=day(first_due),
            pix=self._pix_block(first, charge.reference),
            rodape=self._creditor_footer(),
        )

    # confirmation -------------------------------------------------------------------------------------------

    def _propose(self, kind: str, **params: Any) -> None:
        """Keep an action for the debtor's "sim" (pending `confirm`, expiring after `confirm_ttl`)."""
        self._set_pending(
            PENDING_CONFIRM, action=kind, params={key: _jsonable(value) for key, value in params.items()}
        )

    def _answer_confirm(self) -> str | None:
        """ "sim"/"pode"/"isso"/"ok" carries out the proposal, "não" cancels it; anything else that is no new
        topic asks again. None: a new topic (the caller drops the proposal)."""
        data = self._pending_data()
        if (other := self._other_count(data)) is not None:
            return other
        word = _answer_word(self.text)
        if word in _NO:
            self._set_pending(None)
            if (data.get("params") or {}).get("rest_of_claim"):
                # Only the promise of the rest is dropped: the part the debtor said he paid is still being
                # checked, and its receipt is still welcome.
                self._set_pending(PENDING_RECEIPT)
                return reply("promessa_restante_cancelada", menu=self._menu())
            return reply("confirmacao_cancelada", menu=self._menu())
        if word not in _YES:
            if self.intent != "desconhecido" and self.intent != "agradecimento":
                return None
            return reply("confirmar_de_novo")
        self._set_pending(None)
        kind, params = data.get("action"), data.get("params") or {}
        # The "sim" acts as the proposal's intent (the inbox shows it so, not as the classifier's guess).
        self.intent = _PROPOSAL_INTENT.get(kind, self.intent)
        if kind == ActionKind.OPT_OUT:
            return self._opt_out_now()
        charge = self._charge_by_id(params.get("charge_id"))
        if charge is None:
            return self._no_charge_reply()
        if kind == ActionKind.CREATE_AGREEMENT:
            return self._agreement_recorded(charge, params)
        if kind == ActionKind.CREATE_PROMISE:
            promised = as_date(params.get("promised_date"))
            if promised is None:
                return self._not_understood()
            if params.get("rest_of_claim"):
                return self._rest_promise_recorded(charge, promised, as_decimal(params.get("amount")))
            return self._promise_recorded(charge, promised, as_decimal(params.get("amount")))
        return self._not_understood()

    def _other_count(self, data: dict[str, Any]) -> str | None:
        """ "não, em 3x não dá. e em 6x?" while 3x is proposed: the count asked for now gets its own answer (a
        new proposal, or the limit explained), whatever the classifier made of the message."""
        params = data.get("params") or {}
        if data.get("action") != ActionKind.CREATE_AGREEMENT:
            return None
        choice = parse_plan_choice(self.text, self.entities, bare_numbers=False)
        charge = self._charge_by_id(params.get("charge_id"))
        if choice is None or charge is None or choice == params.get("installments"):
            return None
        self.intent = "negociacao"
        return self._pick(charge, choice)

    def _rest_promise_recorded(
        self, charge: ChargeSnapshot, promised: dt.date, amount: Decimal | None
    ) -> str:
        """The rest of a charge whose part the debtor says he paid: promised for a day; the receipt of the
        part is still welcome (pending `receipt` again)."""
        self._promise_recorded(charge, promised, amount)
        self._set_pending(PENDING_RECEIPT)
        return reply(
            "promessa_restante_registrada",
            valor=money(amount or charge.amount_due_now),
            data=day(promised),
            cobranca=self._label(charge),
        )
