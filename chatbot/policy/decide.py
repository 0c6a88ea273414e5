"""The dialogue policy: (intent, entities, text, context, client snapshot) → what to say and what to do.

Pure: no database, no network, no settings, no clock other than `now` (and the time zone `tz` its dates are
read in, passed in by the caller). The service (chatbot.services) loads the snapshot,
calls `decide`, applies the actions through billing services in one transaction and sends the reply after
commit.

Rules that shape every reply (CDC art. 42/42-A/71): respectful, no threats or shaming, the creditor identified
in the first reply of a conversation and in payment instructions; nothing about debts or the creditor to a
number that is not the client's (unknown numbers and numbers marked wrong get generic answers).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency

from billing.money import agreement_terms
from chatbot.pix import PixError, pix_payload, pix_txid

from .parsing import as_date, as_decimal, fold, is_date_only, parse_plan_choice
from .replies import phrase, reply
from .types import (
    DISPUTED,
    PAYMENT_CLAIMED,
    Action,
    ActionKind,
    ChargeSnapshot,
    ClientSnapshot,
    Decision,
    _jsonable,
)

__all__ = ["charge_label", "day", "decide", "money"]

# A pending question ("para qual dia?", "qual opção?") is forgotten after a day: an answer that late is a new
# topic.
PENDING_TTL = dt.timedelta(hours=24)
PENDING_PROMISE_DATE = "promise_date"
PENDING_PLAN_CHOICE = "plan_choice"
PENDING_RECEIPT = "receipt"
PENDING_CHARGE_CHOICE = "charge_choice"
PENDING_CONFIRM = "confirm"
# A proposal ("Posso registrar? Responda SIM") is forgotten sooner than other questions: a "sim" an hour later
# may answer something else. The service passes settings.CHATBOT_CONFIRM_TTL_MINUTES.
DEFAULT_CONFIRM_TTL = dt.timedelta(minutes=30)
# Below this confidence an opt-out that is not spelled out ("para de me mandar mensagem") is confirmed first.
DEFAULT_OPT_OUT_CONFIRM_BELOW = 0.85
# Promises further out than this are better served by an installment plan.
PROMISE_MAX_DAYS = 60
# Days the debtor has to make the first payment of an agreement (stated in the reply, stored in the
# agreement).
AGREEMENT_FIRST_DUE_DAYS = 3
UNKNOWN_STREAK_HANDOFF = 2
LAST_INTENTS_KEPT = 5

# The product's time zone, used when the caller passes none (settings.TIME_ZONE is the same zone).
DEFAULT_TZ = ZoneInfo("America/Sao_Paulo")

# Intents that start their own flow even while a question is pending: "já paguei" answers no "para qual dia?".
_OVERRIDING = frozenset(
    {
        "confirmacao_pagamento",
        "contestacao",
        "falar_humano",
        "opt_out",
        "pessoa_errada",
        "negociacao",
        "dificuldade_financeira",
        "informacoes_pagamento",
    }
)
# From an unknown number these deserve an operator's look (maybe the client's new phone).
_DEBT_TOPICS = frozenset(
    {"confirmacao_pagamento", "promessa_pagamento", "negociacao", "informacoes_pagamento", "contestacao",
     "dificuldade_financeira"}
)  # fmt: skip

# Intents that act on one charge: with several open charges and none in focus, the bot asks which one first.
_MONTHS = {
    "janeiro": 1, "fevereiro": 2, "marco": 3, "abril": 4, "maio": 5, "junho": 6, "julho": 7, "agosto": 8,
    "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
    "jan": 1, "fev": 2, "abr": 4, "jun": 6, "jul": 7, "ago": 8, "set": 9, "out": 10, "nov": 11,
}  # fmt: skip
_ORDINALS = {
    "primeira": 1, "primeiro": 1, "segunda": 2, "segundo": 2, "terceira": 3, "terceiro": 3,
    "quarta": 4, "quarto": 4, "quinta": 5, "quinto": 5,
}  # fmt: skip
_YES = frozenset(
    "sim s pode isso ok okay confirmo confirma confirmar certo certeza beleza blz claro fechado combinado "
    "aceito quero pode_sim isso_mesmo uhum aham positivo correto exato perfeito registra registrar "
    "pode_registrar".split()
)
_NO = frozenset("nao n nop nope negativo cancela cancelar cancele deixa esquece nem desisto".split())
# Spelled-out opt-outs: honoured at once whatever the classifier's confidence.
_EXPLICIT_OPT_OUT = re.compile(
    r"\b(para(r|m)?|pare(m)?) de (me )?(mandar|enviar|mandarem|enviarem)"
    r"|\b(me )?(tira|tire|tirem|remova|remove|exclui|exclua)\w* (o )?(meu numero |me )?(da|dessa|desta) lista"
    r"|\bnao (quero|desejo) (mais )?receber"
    r"|\bnao (me )?(mande|mandem|envie|enviem) mais"
    r"|\b(descadastr|cancelar? (o )?cadastro|sair da lista)"
)
# A greeting (with the chit-chat that comes with it) is never an opt-out, whatever the classifier says.
_GREETING = re.compile(
    r"^(oi+|ola|ole|opa|eai|e ai|bom dia|boa tarde|boa noite|tudo bem|tudo bom|td bem|salve|saudacoes|"
    r"alo|hey|hello|blz|beleza)\b"
)

# Words that make a message with a date still a negotiation ("parcelar a partir do dia 15").
_NEGOTIATION_WORDS = re.compile(r"parcel|vezes|\d\s*x\b|desconto|acordo|negoci|entrada|abatimento|prestac")

_ALL_WORDS = frozenset({"todas", "todos", "tudo", "as duas", "os dois", "ambas", "ambos"})


def money(value: Decimal) -> str:
    # Babel puts a no-break space after "R$" (CLDR); a plain space reads the same in WhatsApp and greps
    # easily.
    return format_currency(value, "BRL", locale="pt_BR").replace("\xa0", " ")


def day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


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


class _Turn:
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
        body = self._known() if self.snap.is_known else self._unknown()
        self.updates.setdefault("unknown_streak", 0)
        last = [*self.context.get("last_intents", []), self.intent][-LAST_INTENTS_KEPT:]
        self.updates["last_intents"] = last
        if body and self.snap.is_known and self.intent != "pessoa_errada":
            body = self._introduce(body)
        return Decision(reply=body, actions=self.actions, context_updates=self.updates, handoff=self.handoff)

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

    def _menu(self) -> str:
        return phrase("menu")

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

    def _named(self, charges: list[ChargeSnapshot]) -> tuple[list[ChargeSnapshot], bool]:
        """The charges the debtor's words point at, and whether they pointed at all: an amount (the charge's
        or its installment's), its reference, its description, a month ("a de dezembro": due month or
        description) or, outside a promise, its due date. Each clue that fits narrows the list."""
        folded = fold(self.text)
        tokens = set(folded.replace(".", " ").split())
        pool, applied = list(charges), False

        def narrow(fits: list[ChargeSnapshot]) -> None:
            nonlocal pool, applied
            if fits:
                pool, applied = fits, True

        amount = as_decimal(self.entities.get("amount"))
        if amount is not None:
            narrow([c for c in pool if amount in (c.amount, c.agreement_installment_amount)])
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
        self._set_pending(
            PENDING_CHARGE_CHOICE,
            intent=self.intent,
            entities={key: _jsonable(value) for key, value in self.entities.items()},
            options=[c.id for c in options],
            allow_all=allow_all,
        )
        lines = "\n".join(self._short(n, c) for n, c in enumerate(options, 1))
        if allow_all:
            total = sum((c.amount for c in options), Decimal("0"))
            return reply("qual_cobranca_pix", quantidade=len(options), opcoes=lines, total=money(total))
        return reply("qual_cobranca", quantidade=len(options), opcoes=lines)

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
        """The amount the debtor mentions is the total of several charges (or he answered "todas"): he means
        all of them."""
        charges = self.snap.actionable_charges
        if self.chose_all:
            return len(charges) > 1
        amount = as_decimal(self.entities.get("amount"))
        return len(charges) > 1 and amount is not None and amount == sum(c.amount for c in charges)

    def _total_line(self) -> str:
        charges = self.snap.actionable_charges
        if len(charges) < 2:
            return ""
        total = sum((c.amount for c in charges), Decimal("0"))
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
        return reply("sem_cobranca")

    # --- known client ---------------------------------------------------------------------------------------

    def _known(self) -> str:
        pending = self._pending()
        if not self.text.strip():
            return self._attachment(pending)
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

    def _greeting(self) -> str:
        return reply("saudacao", saudacao=self._hello(), credor=self.snap.creditor.name, menu=self._menu())

    def _thanks(self) -> str:
        return reply("agradecimento")

    def _not_understood(self) -> str:
        streak = int(self.context.get("unknown_streak") or 0) + 1
        if streak >= UNKNOWN_STREAK_HANDOFF:
            self._hand_over("O assistente não entendeu duas mensagens seguidas")
            self.updates["unknown_streak"] = 0
            return reply("nao_entendi_atendente")
        self.updates["unknown_streak"] = streak
        return reply("nao_entendi", menu=self._menu())

    def _payment_claimed(self) -> str:
        charges = self.snap.actionable_charges
        if not charges:
            return self._no_charge_reply()
        if self._all_charges_meant():
            targets = charges
        elif (target := self._target()) is not None:
            targets = [target]
        else:
            return self._ask_which()
        for charge in targets:
            self._do(ActionKind.CLAIM_PAYMENT, charge_id=charge.id)
        self._do(ActionKind.FLAG, reason="Pagamento informado: conferir comprovante")
        self._set_pending(PENDING_RECEIPT)
        if len(targets) > 1:
            total = sum((c.amount for c in targets), Decimal("0"))
            return reply("pagamento_informado_todas", quantidade=len(targets), total=money(total))
        key = "pagamento_informado_outras" if len(charges) > 1 else "pagamento_informado"
        return reply(key, cobranca=self._label(targets[0]))

    # promise ------------------------------------------------------------------------------------------------

    def _promise(self) -> str:
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

    def _record_promise(self, charge: ChargeSnapshot, promised: dt.date) -> str:
        if promised < self.today:
            self._set_pending(PENDING_PROMISE_DATE, charge_id=charge.id)
            return reply("promessa_data_passada")
        if promised > self.today + dt.timedelta(days=PROMISE_MAX_DAYS):
            self._set_pending(PENDING_PROMISE_DATE, charge_id=charge.id)
            return reply("promessa_longe_demais", dias=PROMISE_MAX_DAYS)
        amount = as_decimal(self.entities.get("amount"))
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
            return self._pick(charge, choice)
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
        word = _answer_word(self.text)
        if word in _NO:
            self._set_pending(None)
            return reply("confirmacao_cancelada")
        if word not in _YES:
            if self.intent != "desconhecido" and self.intent != "agradecimento":
                return None
            return reply("confirmar_de_novo")
        self._set_pending(None)
        kind, params = data.get("action"), data.get("params") or {}
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
            return self._promise_recorded(charge, promised, as_decimal(params.get("amount")))
        return self._not_understood()

    # payment info, dispute, handoff, opt-out, wrong person --------------------------------------------------

    def _payment_info(self) -> str:
        charges = self.snap.actionable_charges
        if not charges:
            return self._no_charge_reply()
        footer = self._creditor_footer()
        if self._all_charges_meant():
            total = sum((c.amount for c in charges), Decimal("0"))
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
            return reply("pagar_uma_de_varias" if more else "pagar_uma", **values)
        values["acordo"] = self._agreement_phrase(charge)
        if (charge.agreement_installments or 1) == 1 and not more:
            return reply("pagar_acordo_a_vista", **values)
        key = "pagar_parcela_de_varias" if more else "pagar_parcela"
        return reply(key, valor=money(charge.amount_due_now), **values)

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


def charge_label(*, amount: Decimal, due_date: dt.date, description: str = "") -> str:
    """A charge as a noun phrase that always takes "a"/"da" (it starts with "cobrança"), so the sentence
    agrees in gender whatever the description is ("Plano odontológico", "Boleto", none)."""
    values = {"valor": money(amount), "vencimento": day(due_date)}
    if quoted := _quoted_description(description):
        return phrase("cobranca_descrita", descricao=quoted, **values)
    return phrase("cobranca_simples", **values)


def _description(charge: ChargeSnapshot) -> str:
    return _quoted_description(charge.description)


def _quoted_description(description: str) -> str:
    """The charge's own description, quoted, or "" when it has none (or says only "cobrança")."""
    text = " ".join((description or "").split())
    if not text or fold(text) in ("cobranca", "cobrancas", "divida", "debito"):
        return ""
    return f"\u201c{text}\u201d"


def _answer_word(text: str) -> str:
    """A short answer reduced to one word for the yes/no sets: "Sim!" → "sim", "pode sim" → "pode_sim",
    "não, obrigado" → "nao"; "" for anything longer than three words."""
    tokens = fold(text).replace(".", " ").replace("!", " ").split()
    if not tokens or len(tokens) > 3:
        return ""
    if tokens[0] in _NO:
        return tokens[0]
    joined = "_".join(tokens[:2])
    if joined in _YES:
        return joined
    if all(token in _YES for token in tokens):
        return tokens[0]
    return ""


def _choice_number(folded: str) -> int | None:
    """The option picked in a short answer: "2", "a 2", "opção 2", "a segunda", "o primeiro"."""
    tokens = [t for t in folded.split() if t not in ("a", "o", "opcao", "numero", "n", "quero", "essa", "e")]
    if len(tokens) != 1:
        return None
    token = tokens[0].rstrip("aº")
    if token.isdigit() and len(token) <= 2:
        return int(token)
    return _ORDINALS.get(tokens[0])


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",") + "%"


def _local_date(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    if now.tzinfo is None:
        return now.date()
    # Dates the debtor speaks of are local dates; a UTC "now" after 21:00 in São Paulo is already tomorrow.
    return now.astimezone(tz).date()
