"""The policy's constants, word lists and small formatting helpers, shared by the parts of a turn."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency

from .parsing import fold
from .replies import phrase
from .types import ChargeSnapshot

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
# A greeting (with the chit-chat that comes with it) is never an opt-out, whatever the classifier says: also
# when it opens with an apology for answering late, a blessing or a regional interjection (issue #12).
_GREETING = re.compile(
    r"^(oi+e*|ola+|ole|opa|eai|e ai|bo[am] (dia|tarde|noite)\w*|tudo bem|tudo bom|td bem|salve|saudacoes|"
    r"alo|hey|hello|blz|beleza"
    r"|(me )?desculp\w*|perdao|(me )?perdo\w*|foi mal|mil desculpas|sorry"
    r"|(a )?paz do senhor|a paz|graca e paz|deus (te |lhe |o |a |vos )?abencoe|louvado|bencao|benca|amem"
    r"|oxe|oxente|oxi|eita|vixe|bah|uai)\b"
)

# Words that make a message with a date still a negotiation ("parcelar a partir do dia 15").
_NEGOTIATION_WORDS = re.compile(r"parcel|vezes|\d\s*x\b|desconto|acordo|negoci|entrada|abatimento|prestac")

_ALL_WORDS = frozenset({"todas", "todos", "tudo", "as duas", "os dois", "ambas", "ambos"})
# Said of every open charge at once, in any message: "me manda o pix de todas", "quero pagar as duas, me manda
# o total". "tudo bem?" is no such word (removed before matching).
_ALL_CHARGES = re.compile(
    r"\b(todas|todos|tudo|ambas|ambos|as (duas|tres|3)|os (dois|tres|3)|o total|valor total|total geral)\b"
)
_NOT_ALL = re.compile(r"\btudo (bem|bom|certo|ok|joia|tranquilo|otimo|beleza|em ordem)\b")
# Wanting to pay now ("quero pagar a de dezembro"): the PIX, not an offer nor "para qual dia?". Installment
# words (_NEGOTIATION_WORDS), a "but", a lack of money or a later time ("posso pagar depois") keep it a
# negotiation or a promise.
_PAY_NOW = re.compile(
    r"\b(quero|queria|gostaria de|desejo|preciso|posso) (ja )?pagar\b|\b(pagar|pago) (agora|ja)\b"
    r"|\bcomo (eu )?(faco (para|pra) |posso )?pag(o|ar)\b"
)
_NOT_NOW = re.compile(
    r"\b(mas|porem|so que|sem dinheiro|desempreg\w*|dificuldade|apertad\w*|nao (tenho|consigo|da)"
    r"|depois|mais tarde|amanha|semana|mes|quando|proxim\w*|ate o dia)\b"
)
# Half of what is owed ("paguei metade", "pago metade dia 15"): an amount, half of the charge's balance.
_HALF = re.compile(r"\b(a )?metade\b")
# The rest of a charge part of which was (said to be) paid: "o resto", "o restante", "o que falta", "a outra
# metade", "o saldo".
_REST = re.compile(r"\b(resto|restante|o que (falta|faltava|faltou|sobrou)|outra metade|saldo)\b")
# The rest, or all of it: "já paguei o resto", "paguei tudo" claim what is still owed ("tudo bem" is no such
# word: _NOT_ALL is removed before matching).
_REST_OR_ALL = re.compile(rf"{_REST.pattern}|\b(tudo|o total|valor total)\b")
# Context key: the part of a charge the debtor said he paid ({"charge_id", "amount", "at"}), so that "o resto
# pago semana que vem" later promises what that part leaves.
CLAIMED_PART = "claimed_part"
# ...for a week, like the snapshot's "recent payment": by then the part was checked (or it arrived, and the
# balance says what is left), and an "o resto" that late is about the charge as it stands, not that claim.
# Longer than PENDING_TTL: the rest is often promised days after the receipt was sent.
CLAIMED_PART_TTL = dt.timedelta(days=7)
# Kept in the pending `charge_choice` entities when the message said "metade": the answer ("2") does not.
HALF_ENTITY = "half"
# Half already paid, however the classifier read it ("é que eu paguei metade ontem"): a part claim.
_PAID_HALF = re.compile(r"\b(paguei|pagamos|depositei|transferi|mandei|fiz)\b( \S+){0,3} (a )?metade\b")


def half(value: Decimal) -> Decimal:
    return (value / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# The words a bare follow-up may carry besides the charge it names ("e a de dezembro?", "e a mensalidade de
# dezembro?").
_FOLLOW_UP_WORDS = frozenset(
    "e a o as os da do das dos de pra para quanto sobre tambem essa esse aquela aquele ai entao "
    "cobranca conta fatura boleto mes vencimento r$ reais".split()
)


def money(value: Decimal) -> str:
    # Babel puts a no-break space after "R$" (CLDR); a plain space reads the same in WhatsApp and greps
    # easily.
    return format_currency(value, "BRL", locale="pt_BR").replace("\xa0", " ")


def day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


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
