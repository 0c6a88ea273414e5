"""Greetings, thanks and "who is this?": what the bot answers when the debtor is not asking for anything.

The first greeting of a conversation introduces the assistant and lists what it can do. Once the conversation
is under way (the creditor was already named), a greeting gets a short one back, in the debtor's own words
("bom dia" → "Bom dia, João!"), and a blessing gets "Amém!". "Quem é?" / "quem fala?" — which the classifier
reads as a greeting — is answered with who is writing and about which charge(s).

With nothing open the menu offers no PIX or negotiation: a charge whose payment the debtor said he made
(`payment_claimed`) is being checked (the receipt or an operator), else doubts or an operator.
"""

from __future__ import annotations

import re

from .common import _description, day, money
from .parsing import fold
from .replies import phrase, reply
from .types import PAYMENT_CLAIMED, ChargeSnapshot

_WHO = re.compile(
    r"\bquem (e|eh|e voce|e vc|eh voce|fala|ta falando|esta falando|ta me mandando|me mandou|seria)\b"
    r"|\bquem sao voces\b|\bde onde (fala|falam)\b"
    r"|\bde onde (e|eh) (esse|este|o) (numero|contato)\b"
    r"|\bcom quem (eu )?falo\b|\bquem (e|eh) (que )?(ta|esta) (falando|escrevendo)\b"
)
_DAYTIME = re.compile(r"\b(bom dia|boa tarde|boa noite)\b")
_BLESSING = re.compile(r"\b(deus (te |lhe |vos )?abencoe|deus abencoa|fique com deus|fica com deus|amem)\b")


def who_is_asked(text: str) -> bool:
    """The debtor asks who is writing: "quem é?", "quem fala?", "com quem falo?"."""
    return bool(_WHO.search(fold(text)))


def blessing(text: str) -> bool:
    """ "Deus abençoe", "fique com Deus", "amém"."""
    return bool(_BLESSING.search(fold(text)))


class _GreetingMixin:
    def _greeting(self) -> str:
        if who_is_asked(self.text):
            return self._who_is_writing()
        if not self.context.get("introduced"):
            return reply(
                "saudacao", saudacao=self._hello(), credor=self.snap.creditor.name, menu=self._menu()
            )
        self.updates["introduced"] = True
        key = "saudacao_de_novo_bencao" if blessing(self.text) else "saudacao_de_novo"
        return reply(key, saudacao=self._hello_as_said())

    def _thanks(self) -> str:
        return reply("agradecimento_bencao" if blessing(self.text) else "agradecimento")

    def _hello_as_said(self) -> str:
        """The debtor's own greeting back: "Bom dia, João!", else "Olá, João!"."""
        said = _DAYTIME.search(fold(self.text))
        if said is None:
            return self._hello()
        words = said.group(1).capitalize()
        if self.snap.first_name:
            return phrase("saudacao_periodo_nome", periodo=words, nome=self.snap.first_name)
        return phrase("saudacao_periodo", periodo=words)

    def _menu(self) -> str:
        if self.snap.actionable_charges:
            return phrase("menu")
        # Nothing to pay: no PIX or negotiation on offer.
        return phrase("menu_em_conferencia" if self._claimed_charges() else "menu_sem_cobranca")

    def _claimed_charges(self) -> list[ChargeSnapshot]:
        return sorted(
            (c for c in self.snap.charges if c.status == PAYMENT_CLAIMED), key=lambda c: (c.due_date, c.id)
        )

    def _who_is_writing(self) -> str:
        """Who writes and why: the creditor and the charge(s) the conversation is about, named."""
        self.updates["introduced"] = True
        values = {"saudacao": self._hello(), "credor": self.snap.creditor.name}
        open_ = self.snap.actionable_charges
        claimed = self._claimed_charges()
        charges = [*open_, *claimed]
        if not charges:
            return reply("quem_fala_sem_cobranca", **values)
        if len(charges) == 1:
            key = "quem_fala_em_conferencia" if claimed else "quem_fala_uma"
            return reply(key, cobranca=self._label(charges[0]), menu=self._menu(), **values)
        lines = [
            phrase(
                "escolha_em_conferencia",
                n=n,
                descricao=_description(charge) or phrase("sem_descricao"),
                valor=money(charge.amount),
                vencimento=day(charge.due_date),
            )
            if charge.status == PAYMENT_CLAIMED
            else self._short(n, charge)
            for n, charge in enumerate(charges, start=1)
        ]
        return reply(
            "quem_fala_varias", quantidade=len(charges), opcoes="\n".join(lines), menu=self._menu(), **values
        )
