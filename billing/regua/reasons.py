"""Why a régua reminder was not planned: stable codes (commands, API) and their pt-BR labels (screens)."""

from __future__ import annotations

FORGOTTEN = "forgotten"
OPTED_OUT = "opted_out"
SUPPRESSED = "suppressed"
WRONG_NUMBER = "wrong_number"
NOT_ON_WHATSAPP = "not_on_whatsapp"
PAID = "paid"
CANCELLED = "cancelled"
DISPUTED = "disputed"
PAYMENT_CLAIMED = "payment_claimed"
AGREEMENT = "agreement"
PROMISE = "promise"
STATUS_NOT_IN_STEP = "status_not_in_step"
BEFORE_DUE_PASSED = "before_due_passed"
HUMAN_CONVERSATION = "human_conversation"
SUPERSEDED = "superseded"
ALREADY_MESSAGED = "already_messaged"
CAMPAIGN_CANCELLED = "campaign_cancelled"

LABELS: dict[str, str] = {
    FORGOTTEN: "cliente anonimizado (LGPD)",
    OPTED_OUT: "cliente pediu para não receber mensagens",
    SUPPRESSED: "número na lista de supressão",
    WRONG_NUMBER: "número errado",
    NOT_ON_WHATSAPP: "número sem WhatsApp",
    PAID: "cobrança paga",
    CANCELLED: "cobrança cancelada",
    DISPUTED: "cobrança contestada",
    PAYMENT_CLAIMED: "pagamento informado pelo devedor",
    AGREEMENT: "acordo ativo: lembretes das parcelas no lugar",
    PROMISE: "promessa de pagamento em vigor",
    STATUS_NOT_IN_STEP: "situação da cobrança fora deste passo",
    BEFORE_DUE_PASSED: "lembrete antes do vencimento cairia no vencimento ou depois: descartado",
    HUMAN_CONVERSATION: "conversa com atendente em andamento: nova tentativa no próximo dia",
    SUPERSEDED: "substituído por um passo mais recente da mesma cobrança",
    ALREADY_MESSAGED: "o devedor já recebeu a mensagem da régua hoje: vai no próximo dia",
    CAMPAIGN_CANCELLED: "a campanha do dia desta régua foi cancelada",
}

# Reasons that do not close the reminder: the planner looks at it again on `retry_on`.
RETRYABLE = frozenset({HUMAN_CONVERSATION, ALREADY_MESSAGED})

CHARGE_STATUS_REASON = {
    "paid": PAID,
    "cancelled": CANCELLED,
    "disputed": DISPUTED,
    "payment_claimed": PAYMENT_CLAIMED,
}


def reason_label(code: str) -> str:
    return LABELS.get(code, code)
