"""The intent inventory shared by the corpus, the models and the conversation flow."""

from __future__ import annotations

__all__ = ["FALLBACK_INTENT", "INTENTS"]

INTENTS: tuple[str, ...] = (
    "saudacao",
    "confirmacao_pagamento",
    "promessa_pagamento",
    "negociacao",
    "informacoes_pagamento",
    "contestacao",
    "dificuldade_financeira",
    "falar_humano",
    "opt_out",
    "pessoa_errada",
    "agradecimento",
    "desconhecido",
)

# What the bot answers when it is not sure: asking again is cheaper than acting on a wrong guess.
FALLBACK_INTENT = "desconhecido"
