"""The dialogue policy: (intent, entities, text, context, client snapshot) → what to say and what to do.

Pure: no database, no network, no settings, no clock other than `now` (and the time zone `tz` its dates are
read in, passed in by the caller). The service (chatbot.services) loads the snapshot,
calls `decide`, applies the actions through billing services in one transaction and sends the reply after
commit.

Rules that shape every reply (CDC art. 42/42-A/71): respectful, no threats or shaming, the creditor identified
in the first reply of a conversation and in payment instructions; nothing about debts or the creditor to a
number that is not the client's (unknown numbers and numbers marked wrong get generic answers).

One turn is a `_Turn`; its parts live beside it: `charges` (which charge is meant, how charges are worded),
`deals` (promises, negotiation, confirmations) and `common` (constants, word lists, formatting helpers).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from .charges import _ChargesMixin
from .common import (
    _DEBT_TOPICS,
    _EXPLICIT_OPT_OUT,
    _GREETING,
    _NOT_ALL,
    _PAID_HALF,
    _REST_OR_ALL,
    _YES,
    CLAIMED_PART,
    DEFAULT_CONFIRM_TTL,
    DEFAULT_OPT_OUT_CONFIRM_BELOW,
    DEFAULT_TZ,
    LAST_INTENTS_KEPT,
    PENDING_CHARGE_CHOICE,
    PENDING_CONFIRM,
    PENDING_PLAN_CHOICE,
    PENDING_PROMISE_DATE,
    PENDING_RECEIPT,
    PENDING_TTL,
    UNKNOWN_STREAK_HANDOFF,
    _answer_word,
    _local_date,
    charge_label,
    day,
    half,
    money,
)
from .deals import _DealsMixin
from .greeting import _GreetingMixin
from .parsing import as_date, as_decimal, fold
from .replies import phrase, reply
from .types import Action, ActionKind, ChargeSnapshot, ClientSnapshot, Decision

# The flag raised when the debtor says he paid; confirming that payment in the inbox clears it
# (conversations.quick_actions.conversation_confirm_payment).
PAYMENT_REPORTED_FLAG = "Pagamento informado: conferir comprovante"

# Money back: a refund, a reversal, a payment made (or charged) twice or too much. "pagar em 2 vezes" is an
# installment plan, not a refund: only past payments and charges count.
_PAID_OR_CHARGED = r"(paguei|pagamos|pagou|foi pag[oa]|cobrad[oa]s?|cobraram|cobrou|debitad[oa]|debitaram)"
_REFUND = re.compile(
    r"\b(dinheiro|valor|grana|pagamento|pix|receber|ter|quero)( \w+)? de volta\b"
    r"|\breembols\w*|\bestorn\w*|\bdevolu\w*|\bdevolv\w*|\bem duplicidade\b|\bpag\w* duplicad\w*"
    rf"|\b{_PAID_OR_CHARGED}\b( \S+){{0,4}} (?<!em )(duas|2) vezes\b"
    rf"|\b{_PAID_OR_CHARGED}\b( \S+){{0,4}} (?<!em )2x\b"
    rf"|\b{_PAID_OR_CHARGED}\b( \S+){{0,4}} (em dobro|dobrado|a mais)\b"
)

_PAY_CUE = re.compile(r"\b(consigo|posso|pago|pagar|pagarei|vou|deposito|acerto|quito)\b")

# Intents a "paguei metade…" may be misread as; the others (PIX, negotiation, a person) keep theirs.
_PART_CLAIM_MISREAD = frozenset({"desconhecido", "promessa_pagamento", "saudacao", "agradecimento"})

__all__ = ["PENDING_RECEIPT", "PENDING_TTL", "charge_label", "day", "decide", "money"]


def decide(
    *,
    intent: str,
    confidence: float,
    entities: dict[str, Any],
    text: str,
    context: dict[str, Any],
    client_snapshot: ClientSnapshot,
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
    confirm_ttl: dt.timedelta | None = None,
    opt_out_confirm_below: float | None = None,
) -> Decision:
    """Decide the bot's turn. `confidence` is informative: the classifier already turned unsure guesses into
    `desconhecido` (threshold + margin), so the policy acts on the intent it is given. `tz` is the zone the
    debtor's dates live in (America/Sao_Paulo when None). `confirm_ttl`: how long a proposal waits for its
    "sim"; `opt_out_confirm_below`: an opt-out less sure than this, not spelled out, is confirmed first."""
    return _Turn(
        intent=intent,
        confidence=confidence,
        confirm_ttl=confirm_ttl or DEFAULT_CONFIRM_TTL,
        opt_out_confirm_below=DEFAULT_OPT_OUT_CONFIRM_BELOW
        if opt_out_confirm_below is None
        else opt_out_confirm_below,
        entities=entities or {},
        text=text or "",
        context=context or {},
        snap=client_snapshot,
        now=now,
        tz=tz or DEFAULT_TZ,
    ).run()


class _Turn(_ChargesMixin, _DealsMixin, _GreetingMixin):
    def __init__(
        self,
        *,
        intent: str,
        entities: dict[str, Any],
        text: str,
        context: dict[str, Any],
        snap: ClientSnapshot,
        now: dt.datetime,
        tz: dt.tzinfo,
        confidence: float = 1.0,
        confirm_ttl: dt.timedelta = DEFAULT_CONFIRM_TTL,
        opt_out_confirm_below: float = DEFAULT_OPT_OUT_CONFIRM_BELOW,
    ) -> None:
        self.intent = intent
        self.confidence = confidence
        self.confirm_ttl = confirm_ttl
        self.opt_out_confirm_below = opt_out_confirm_below
        self.entities = entities
        self.text = text
        self.context = context
        self.snap = snap
        self.now = now
        self.today = _local_date(now, tz)
        self.actions: list[Action] = []
        self.updates: dict[str, Any] = {}
        self.handoff = False
        # Set by the answer to "which charge?": the charge (or all of them) the debtor picked.
        self.chosen: ChargeSnapshot | None = None
        self.chose_all = False
        # Set by _target when several charges fit and none is in focus: the bot asks among these.
        self.ambiguous: list[ChargeSnapshot] = []

    # --- plumbing -------------------------------------------------------------------------------------------

    def run(self) -> Decision:
        if self.context.get("opted_out") or self.snap.opted_out:
            # Opted out: confirmed once when it happened, silence from then on.
            return Decision(reply="")
        classified = self.intent
        body = self._known() if self.snap.is_known else self._unknown()
        self.updates.setdefault("unknown_streak", 0)
        last = [*self.context.get("last_intents", []), self.intent][-LAST_INTENTS_KEPT:]
        self.updates["last_intents"] = last
        if body and self.snap.is_known and self.intent != "pessoa_errada":
            body = self._introduce(body)
        return Decision(
            reply=body,
            actions=self.actions,
            context_updates=self.updates,
            handoff=self.handoff,
            acted_as=self.intent if self.intent != classified else "",
        )

    def _introduce(self, body: str) -> str:
        name = self.snap.creditor.name
        if self.context.get("introduced") or name in body:
            self.updates["introduced"] = True
            return body
        self.updates["introduced"] = True
        return reply("apresentacao", saudacao=self._hello(), credor=name) + f"\n{body}"

    def _hello(self) -> str:
        if self.snap.first_name:
            return phrase("saudacao_nome", nome=self.snap.first_name)
        return phrase("saudacao")

    def _pending(self) -> str | None:
        pending = self.context.get("pending")
        if not pending or self._pending_expired():
            return None
        return pending

    def _pending_expired(self) -> bool:
        since = self.context.get("pending_at")
        ttl = self.confirm_ttl if self.context.get("pending") == PENDING_CONFIRM else PENDING_TTL
        try:
            return bool(since) and self.now - dt.datetime.fromisoformat(since) > ttl
        except (TypeError, ValueError):
            return True

    def _set_pending(self, pending: str | None, **data: Any) -> None:
        self.updates["pending"] = pending
        self.updates["pending_at"] = self.now.isoformat() if pending else None
        self.updates["pending_data"] = data if pending else {}

    def _pending_data(self) -> dict[str, Any]:
        return self.context.get("pending_data") or {}

    def _do(self, kind: str, **params: Any) -> None:
        self.actions.append(Action(kind, params))

    def _hand_over(self, reason: str) -> None:
        self._do(ActionKind.HANDOFF, reason=reason)
        self.handoff = True
        self._set_pending(None)

    # --- known client ---------------------------------------------------------------------------------------

    def _known(self) -> str:
        pending = self._pending()
        if not self.text.strip():
            return self._attachment(pending)
        if _REFUND.search(fold(self.text)):
            # Money back (paid twice, charged twice, paid too much), whatever the classifier read in it (a
            # payment claim, a PIX request): a person checks the payments and answers.
            # The handoff flags the conversation with its reason (needs_attention) and silences the bot.
            self._hand_over("Pedido de devolução de pagamento (pagou em dobro ou a mais)")
            return reply("devolucao_atendente", credor=self.snap.creditor.name)
        if pending == PENDING_PROMISE_DATE and (answer := self._answer_promise_date()) is not None:
            return answer
        if pending == PENDING_PLAN_CHOICE and (answer := self._answer_plan_choice()) is not None:
            return answer
        if pending == PENDING_CHARGE_CHOICE and (answer := self._answer_charge_choice()) is not None:
            return answer
        if pending == PENDING_CONFIRM:
            if (answer := self._answer_confirm()) is not None:
                return answer
            self._set_pending(None)  # a new topic: the proposal is dropped, nothing was recorded
        elif self.context.get("pending") == PENDING_CONFIRM and _answer_word(self.text) in _YES:
            self._set_pending(None)
            return reply("proposta_expirada", menu=self._menu())
        if (follow := self._bare_follow_up()) is not None:
            return follow
        if self.intent in _PART_CLAIM_MISREAD and _PAID_HALF.search(fold(self.text)):
            # "é que eu paguei metade ontem, o resto pago dia 15" read as a promise or not understood.
            self.intent = "confirmacao_pagamento"
        return self._handler()()

    def _handler(self):
        return {
            "saudacao": self._greeting,
            "agradecimento": self._thanks,
            "confirmacao_pagamento": self._payment_claimed,
            "promessa_pagamento": self._promise,
            "negociacao": self._negotiation,
            "dificuldade_financeira": self._negotiation,
            "informacoes_pagamento": self._payment_info,
            "contestacao": self._dispute,
            "falar_humano": self._human,
            "opt_out": self._opt_out,
            "pessoa_errada": self._wrong_person,
        }.get(self.intent, self._not_understood)

    def _attachment(self, pending: str | None) -> str:
        # Media without text (a receipt photo, a PDF): the bot cannot read it; an operator will.
        self._do(ActionKind.FLAG, reason="Arquivo recebido: conferir")
        if pending == PENDING_RECEIPT:
            self._set_pending(None)
            return reply("comprovante_recebido")
        return reply("arquivo_recebido")

    def _not_understood(self) -> str:
        folded = fold(self.text)
        if (follow := self._follow_up_on_named()) is not None:
            return follow
        if self.entities.get("date") is not None and self.snap.actionable_charges and _PAY_CUE.search(folded):
            # "na vdd so consigo dia 5 viu": a day to pay, however it was said, is a promise.
            self.intent = "promessa_pagamento"
            return self._promise()
        streak = int(self.context.get("unknown_streak") or 0) + 1
        if streak >= UNKNOWN_STREAK_HANDOFF:
            self._hand_over("O assistente não entendeu duas mensagens seguidas")
            self.updates["unknown_streak"] = 0
            return reply("nao_entendi_atendente")
        self.updates["unknown_streak"] = streak
        return reply("nao_entendi", menu=self._menu())

    def _follow_up_on_named(self) -> str | None:
        """ "e a de dezembro?" with several charges: the charge named (by month, amount, description) gets the
        last topic's answer (PIX, promise, negotiation), the PIX by default."""
        charges = self.snap.actionable_charges
        if len(charges) < 2:
            return None
        named, applied = self._named(charges)
        if not applied or len(named) != 1:
            return None
        return self._continue_topic(named[0])

    def _payment_claimed(self) -> str:
        if (paid := self._paid_named()) is not None:
            return paid
        charges = self.snap.actionable_charges
        if not charges:
            return self._no_charge_reply()
        if self._all_charges_meant():
            targets = charges
        elif (target := self._target()) is not None:
            targets = [target]
        else:
            return self._ask_which()
        if len(targets) == 1 and (part := self._part_claimed(targets[0])) is not None:
            return part
        for charge in targets:
            self._do(ActionKind.CLAIM_PAYMENT, charge_id=charge.id)
        self._do(ActionKind.FLAG, reason=PAYMENT_REPORTED_FLAG)
        self._set_pending(PENDING_RECEIPT)
        if len(targets) > 1:
            total = sum((c.owed for c in targets), Decimal("0"))
            return reply("pagamento_informado_todas", quantidade=len(targets), total=money(total))
        key = "pagamento_informado_outras" if len(charges) > 1 else "pagamento_informado"
        return reply(key, cobranca=self._label(targets[0]))

    def _part_claimed(self, charge: ChargeSnapshot) -> str | None:
        """A payment of part of the charge (an installment of its agreement, or a smaller amount than what is
        owed, or a charge that already received part of its money): the charge keeps its status, reminders
        and PIX; the claim is a flag for the operator to check. None: the claim is for the whole charge."""
        stated = as_decimal(self.entities.get("amount"))
        owed = charge.owed
        if stated is None and self._says_half():
            stated = half(owed)  # "paguei metade": half of what was owed
        installments = (charge.agreement_installments or 1) > 1
        paid_before = charge.balance is not None and charge.balance < charge.amount
        if (
            paid_before
            and not installments
            and (stated is None or stated >= owed)
            and _REST_OR_ALL.search(_NOT_ALL.sub(" ", fold(self.text)))
        ):
            # "já paguei o resto" after part of the money arrived: the whole balance is claimed.
            return None
        partial = stated is not None and stated < owed
        if not (installments or partial or paid_before):
            return None
        self._do(ActionKind.FLAG, reason=PAYMENT_REPORTED_FLAG)
        self._set_pending(PENDING_RECEIPT)
        if installments and (stated is None or stated >= charge.amount_due_now):
            return reply(
                "pagamento_parcela_informado",
                valor=money(charge.amount_due_now),
                cobranca=self._label(charge),
            )
        if stated is None:
            return reply("pagamento_informado_saldo", restante=money(owed), cobranca=self._label(charge))
        # Remembered for a promise of the rest later in the conversation ("o resto pago semana que vem").
        self.updates[CLAIMED_PART] = {
            "charge_id": charge.id,
            "amount": str(stated),
            "at": self.now.isoformat(),
        }
        left = self._rest_after(charge, stated)
        promised = as_date(self.entities.get("date"))
        if left > 0 and promised is not None and self._promise_date_ok(promised) and self._speaks_of_rest():
            # "paguei 120, o resto dia 5": the part is checked, the rest is a promise of another amount than
            # the charge's, so it is proposed and waits for the debtor's "sim". The date of "paguei 100 hoje"
            # is the payment's: only a message that speaks of the rest promises it.
            self._propose_rest(charge, promised, left)
            return reply(
                "pagamento_parcial_resto_proposta",
                valor=money(stated),
                restante=money(left),
                data=day(promised),
                cobranca=self._label(charge),
            )
        return reply(
            "pagamento_parcial_informado",
            valor=money(stated),
            restante=money(left),
            cobranca=self._label(charge),
        )

    # payment info, dispute, handoff, opt-out, wrong person --------------------------------------------------

    def _payment_info(self) -> str:
        if (paid := self._paid_named()) is not None:
            return paid
        charges = self.snap.actionable_charges
        if not charges:
            return self._claimed_pix() or self._no_charge_reply()
        footer = self._creditor_footer()
        if self._all_charges_meant():
            total = sum((c.owed for c in charges), Decimal("0"))
            return reply(
                "pagar_todas",
                quantidade=len(charges),
                total=money(total),
                pix=self._pix_block(total, ""),
                rodape=footer,
            )
        charge = self._target()
        if charge is None:
            return self._ask_which(allow_all=True)
        values = {
            "cobranca": self._label(charge),
            "pix": self._pix_block(charge.amount_due_now, charge.reference),
            "rodape": footer,
        }
        more = self._total_line()
        if more:
            values["em_aberto"] = more
        if not charge.under_agreement:
            # "me manda o pix (do restante)" after "paguei 100": the PIX of what that part leaves, as the
            # claim's reply offered ("posso enviar o PIX desse valor quando quiser").
            if (rest := self._rest_of_claimed_part(charge, rest_word=False)) is not None:
                part = as_decimal((self.context.get(CLAIMED_PART) or {}).get("amount"))
                values["pix"] = self._pix_block(rest, charge.reference)
                return reply("pagar_resto_informado", valor=money(part), restante=money(rest), **values)
            if charge.balance is not None and 0 < charge.balance < charge.amount:  # a partial payment arrived
                key = "pagar_uma_parcial_de_varias" if more else "pagar_uma_parcial"
                paid = money(charge.amount - charge.balance)
                return reply(key, valor=paid, restante=money(charge.balance), **values)
            return reply("pagar_uma_de_varias" if more else "pagar_uma", **values)
        values["acordo"] = self._agreement_phrase(charge)
        if (charge.agreement_installments or 1) == 1 and not more:
            return reply("pagar_acordo_a_vista", **values)
        key = "pagar_parcela_de_varias" if more else "pagar_parcela"
        return reply(key, valor=money(charge.amount_due_now), **values)

    def _claimed_pix(self) -> str:
        """A payment informed and being checked never stops the debtor from paying (the rest, the next
        installment): the PIX of what the charge still asks, the one in focus or the oldest."""
        claimed = self._claimed_charges()
        if not claimed:
            return ""
        focus = self.snap.focus_charge_id or self.context.get("focus_charge_id")
        charge = next((c for c in claimed if c.id == focus), claimed[0])
        return reply(
            "pagar_em_conferencia",
            cobranca=self._label(charge),
            pix=self._pix_block(charge.amount_due_now, charge.reference),
            rodape=self._creditor_footer(),
        )

    def _dispute(self) -> str:
        charge = self._target()
        if charge is None and self.ambiguous:
            return self._ask_which()
        if charge is None:
            self._hand_over("Contestação (sem cobrança em aberto)")
            return reply("contestacao_sem_cobranca")
        self._do(ActionKind.DISPUTE, charge_id=charge.id)
        self._hand_over("Contestação da cobrança")
        return reply("contestacao_registrada", cobranca=self._label(charge), credor=self.snap.creditor.name)

    def _human(self) -> str:
        self._hand_over("Cliente pediu um atendente")
        return reply("atendente", credor=self.snap.creditor.name)

    def _opt_out(self) -> str:
        folded = fold(self.text)
        explicit = bool(_EXPLICIT_OPT_OUT.search(folded))
        if not explicit and _GREETING.match(folded):
            # A greeting (with its chit-chat) read as an opt-out: answer the greeting, never suppress.
            self.intent = "saudacao"
            return self._greeting()
        if not explicit and self.confidence < self.opt_out_confirm_below:
            self._propose(ActionKind.OPT_OUT, client_id=self.snap.client_id)
            return reply("descadastro_proposta", credor=self.snap.creditor.name)
        return self._opt_out_now()

    def _opt_out_now(self) -> str:
        self._do(ActionKind.OPT_OUT, client_id=self.snap.client_id)
        self.updates["opted_out"] = True
        self._set_pending(None)
        return reply("descadastro_feito", credor=self.snap.creditor.name)

    def _wrong_person(self) -> str:
        self._do(ActionKind.MARK_WRONG_NUMBER, client_id=self.snap.client_id)
        self._set_pending(None)
        # No creditor, name or amount: the person on this number is not the debtor.
        return reply("pessoa_errada")

    # --- unknown number -------------------------------------------------------------------------------------

    def _unknown(self) -> str:
        if self.intent == "falar_humano":
            self._hand_over("Número sem cadastro pediu um atendente")
            return reply("generica_atendente")
        if self.intent == "opt_out" and not (
            _GREETING.match(fold(self.text)) and not _EXPLICIT_OPT_OUT.search(fold(self.text))
        ):
            if self.snap.client_id is not None:
                self._do(ActionKind.OPT_OUT, client_id=self.snap.client_id)
            self.updates["opted_out"] = True
            return reply("generica_descadastro")
        if self.intent == "pessoa_errada":
            return reply("generica_pessoa_errada")
        if self.intent in ("agradecimento",):
            return reply("generica_agradecimento")
        if self.snap.client_id is None and self.intent in _DEBT_TOPICS:
            self._do(ActionKind.FLAG, reason="Número sem cadastro falou de cobrança: identificar o cliente")
        return reply("generica")
