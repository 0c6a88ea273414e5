"""Text normalisation for WhatsApp messages written by Brazilian debtors.

Debtors write without accents, with abbreviations (vc, pq, hj), stretched letters ("siiim"),
laughter ("kkkk") and emojis. Mapping all of these onto one canonical spelling before
featurisation lets a small model share evidence between variants it never saw together.
Every regex is compiled once at import time because classification must stay well under 1 ms.
"""

from __future__ import annotations

import re

from unidecode import unidecode

__all__ = ["ABBREVIATIONS", "EMOJI_TOKENS", "normalize"]

# Emojis carry intent ("👍" closes a conversation, "🙏" pleads); unidecode would drop them,
# so they become plain tokens first.
EMOJI_TOKENS: dict[str, str] = {
    "👍": "emo_ok",
    "👌": "emo_ok",
    "✅": "emo_ok",
    "✔": "emo_ok",
    "🆗": "emo_ok",
    "🤝": "emo_ok",
    "🙏": "emo_prece",
    "😂": "emo_riso",
    "🤣": "emo_riso",
    "😆": "emo_riso",
    "😅": "emo_riso",
    "😹": "emo_riso",
    "😡": "emo_raiva",
    "🤬": "emo_raiva",
    "😠": "emo_raiva",
    "😤": "emo_raiva",
    "👎": "emo_raiva",
    "😢": "emo_triste",
    "😭": "emo_triste",
    "😔": "emo_triste",
    "😞": "emo_triste",
    "🥺": "emo_triste",
    "😩": "emo_triste",
    "😟": "emo_triste",
    "💔": "emo_triste",
    "👋": "emo_tchau",
    "❤": "emo_feliz",
    "😍": "emo_feliz",
    "🥰": "emo_feliz",
    "😊": "emo_feliz",
    "🙂": "emo_feliz",
    "😀": "emo_feliz",
    "😁": "emo_feliz",
    "😃": "emo_feliz",
    "😄": "emo_feliz",
    "😉": "emo_feliz",
    "🌹": "emo_feliz",
    "🌷": "emo_feliz",
    "💐": "emo_feliz",
    "☺": "emo_feliz",
    "💰": "emo_dinheiro",
    "💵": "emo_dinheiro",
    "💸": "emo_dinheiro",
    "🤑": "emo_dinheiro",
    "🤔": "emo_duvida",
    "❓": "?",
    "❔": "?",
    "🤷": "emo_duvida",
    "🚫": "emo_pare",
    "🛑": "emo_pare",
    "✋": "emo_pare",
    "⛔": "emo_pare",
}

# Abbreviations and spoken spellings mapped to the full word the training data also uses.
ABBREVIATIONS: dict[str, str] = {
    "vc": "voce",
    "vcs": "voces",
    "ce": "voce",
    "oce": "voce",
    "cs": "voces",
    "pq": "porque",
    "pqp": "palavrao",
    "q": "que",
    "oq": "o que",
    "tb": "tambem",
    "tbm": "tambem",
    "blz": "beleza",
    "bz": "beleza",
    "vlw": "valeu",
    "vlww": "valeu",
    "valew": "valeu",
    "msg": "mensagem",
    "msgs": "mensagens",
    "mensage": "mensagem",
    "hj": "hoje",
    "hje": "hoje",
    "td": "tudo",
    "tds": "todos",
    "mto": "muito",
    "mt": "muito",
    "mta": "muita",
    "mts": "muitos",
    "pfv": "por favor",
    "pf": "por favor",
    "pfvr": "por favor",
    "plz": "por favor",
    "pls": "por favor",
    "obg": "obrigado",
    "obgd": "obrigado",
    "obgda": "obrigada",
    "obgdo": "obrigado",
    "brigado": "obrigado",
    "brigada": "obrigada",
    "obrigadu": "obrigado",
    "qdo": "quando",
    "qnd": "quando",
    "qd": "quando",
    "cmg": "comigo",
    "ctz": "certeza",
    "dps": "depois",
    "dpois": "depois",
    "fds": "fim de semana",
    "nd": "nada",
    "ngm": "ninguem",
    "qto": "quanto",
    "qnt": "quanto",
    "qt": "quanto",
    "p": "para",
    "pra": "para",
    "pro": "para o",
    "pros": "para os",
    "prum": "para um",
    "n": "nao",
    "naum": "nao",
    "nn": "nao",
    "nops": "nao",
    "s": "sim",
    "ss": "sim",
    "sims": "sim",
    "simm": "sim",
    "eh": "e",
    "ta": "esta",
    "to": "estou",
    "tou": "estou",
    "tava": "estava",
    "tamo": "estamos",
    "tmj": "tamo junto",
    "bj": "beijo",
    "bjs": "beijos",
    "bjos": "beijos",
    "abs": "abraco",
    "zap": "whatsapp",
    "zapzap": "whatsapp",
    "wpp": "whatsapp",
    "whats": "whatsapp",
    "wts": "whatsapp",
    "agr": "agora",
    "amn": "amanha",
    "amnh": "amanha",
    "amanhan": "amanha",
    "dnv": "de novo",
    "fzr": "fazer",
    "mds": "meu deus",
    "vdd": "verdade",
    "cel": "celular",
    "nr": "numero",
    "hr": "hora",
    "hrs": "horas",
    "min": "minuto",
    "seg": "segunda",
    "sab": "sabado",
    "dom": "domingo",
    "qua": "quarta",
    "qui": "quinta",
    "sex": "sexta",
    "aki": "aqui",
    "aq": "aqui",
    "ak": "aqui",
    "okk": "ok",
    "okay": "ok",
    "oks": "ok",
    "certin": "certinho",
    "blza": "beleza",
    "kd": "cade",
    "sla": "sei la",
    "slk": "palavrao",
    "fdp": "palavrao",
    "boleta": "boleto",
    "bolet": "boleto",
    "bol": "boleto",
    "piks": "pix",
    "pics": "pix",
    "parcelinha": "parcela",
    "parcelinhas": "parcelas",
    "obrigadao": "obrigado",
    "obrigadinho": "obrigado",
    "obrigadinha": "obrigada",
    "dsclp": "desculpa",
    "desculpe": "desculpa",
    "bdia": "bom dia",
    "bd": "bom dia",
    "btarde": "boa tarde",
    "bnoite": "boa noite",
    "vo": "vou",
    "tenhu": "tenho",
    "nois": "nos",
    # Second batch (other writers' spellings seen in the wider corpus).
    "tmb": "tambem",
    "tbem": "tambem",
    "qr": "quer",
    "qro": "quero",
    "qria": "queria",
    "msm": "mesmo",
    "pd": "pode",
    "flw": "falou",
    "falow": "falou",
    "vlws": "valeu",
    "obgg": "obrigado",
    "sdds": "saudades",
    "dnd": "de nada",
    "agnt": "a gente",
    "ctg": "contigo",
    "fzd": "fazendo",
    "hoj": "hoje",
    "dpz": "depois",
    "pgto": "pagamento",
    "pagto": "pagamento",
    "pgt": "pagamento",
    "pg": "pago",
    "pixx": "pix",
    "transf": "transferencia",
    "vcto": "vencimento",
    "vencto": "vencimento",
    "venc": "vencimento",
    "parc": "parcela",
    "ngc": "negocio",
    "qnto": "quanto",
    "qnta": "quanta",
    "qndo": "quando",
    "tah": "esta",
    "taa": "esta",
    "eae": "e ai",
    "iae": "e ai",
    "aew": "ai",
}

_EMOJI_RE = re.compile("|".join(re.escape(e) for e in sorted(EMOJI_TOKENS, key=len, reverse=True)))
# Remaining pictographs (any emoji not in the table) become one generic token.
_EMOJI_MODIFIER_RE = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\u200d]")
_OTHER_EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]+")
_ORDINAL_VIA_RE = re.compile(r"\b2\s*[ao]?\s*via\b")
_LAUGH_RE = re.compile(r"\b(?:k{2,}|(?:ha){2,}h?|(?:he){2,}h?|(?:hu){2,}|(?:rs)+|(?:ks){2,}k?)\b")
_REPEAT_RE = re.compile(r"([a-z])\1{2,}")
_QUESTION_RE = re.compile(r"\?+")
_MONEY_RE = re.compile(r"r\s*\$")
_NON_WORD_RE = re.compile(r"[^a-z0-9$?_ ]+")
_SPACE_RE = re.compile(r"\s+")


def _replace_emoji(match: re.Match[str]) -> str:
    return f" {EMOJI_TOKENS[match.group(0)]} "


def normalize(text: str) -> str:
    """Return the canonical form the intent model sees.

    Lowercase ASCII words separated by single spaces, with emojis, laughter, question marks,
    currency and abbreviations mapped to tokens. Digits are kept because "3x" and "dia 15"
    matter; the featuriser decides how to generalise them.
    """
    text = _EMOJI_MODIFIER_RE.sub("", text)
    text = _EMOJI_RE.sub(_replace_emoji, text)
    text = _OTHER_EMOJI_RE.sub(" emo_outro ", text)
    text = unidecode(text).lower()
    text = _ORDINAL_VIA_RE.sub(" segunda via ", text)
    text = _MONEY_RE.sub(" r$ ", text)
    text = _QUESTION_RE.sub(" ? ", text)
    text = _NON_WORD_RE.sub(" ", text)
    text = _LAUGH_RE.sub(" risada ", text)
    text = _REPEAT_RE.sub(r"\1", text)
    words = [ABBREVIATIONS.get(word, word) for word in text.split()]
    return _SPACE_RE.sub(" ", " ".join(words)).strip()
