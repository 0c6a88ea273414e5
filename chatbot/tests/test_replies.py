"""Issue #12, item 3: every reply comes from the one catalogue (chatbot/replies.toml) and reads as a sentence.

Each scripted conversation below runs against every kind of debtor (one charge, several, with and without an
agreement, with and without a description, a description that is just "Cobrança", a creditor without
document or PIX key, unknown numbers...). Every reply must be free of empty slots, doubled words, dangling
punctuation and article/gender slips, and together the runs must render every entry of the catalogue.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.policy import ChargeSnapshot, ClientSnapshot, Creditor, NegotiationLimits, decide
from chatbot.policy.replies import (
    CATALOGUE_PATH,
    ReplyCatalogueError,
    catalogue,
    load,
    phrase,
    placeholders,
    reply,
)
from chatbot.tests.test_policy import NOW, TODAY

decide_module = importlib.import_module("chatbot.policy.decide")
CREDITOR = Creditor(
    name="Clínica Sorriso Ltda",
    document="12.345.678/0001-95",
    address="Rua A, 1 - São Paulo/SP",
    city="SAO PAULO",
    pix_key="pix@clinica.example",
)
BARE_CREDITOR = Creditor(name="Escola Aurora", city="RECIFE")  # no document, address or PIX key


def chg(pk, amount, description="", due=dt.date(2026, 2, 10), **kw) -> ChargeSnapshot:
    return ChargeSnapshot(
        id=pk, amount=Decimal(amount), due_date=due, description=description, reference=f"REF{pk}", **kw
    )


AGREED_3X = {
    "status": "negotiating",
    "agreement_installments": 3,
    "agreement_installment_amount": Decimal("63.30"),
}
AGREED_1X = {
    "status": "negotiating",
    "agreement_installments": 1,
    "agreement_installment_amount": Decimal("170.91"),
}
PAID_NOVEMBER = chg(
    9,
    "320.00",
    "Mensalidade novembro",
    dt.date(2025, 11, 10),
    status="paid",
    paid_amount=Decimal("320.00"),
    paid_on=dt.date(2026, 2, 9),
)
LIMITS = NegotiationLimits(3, Decimal("50.00"), Decimal("10.00"))

CASES: dict[str, ClientSnapshot] = {
    "one, described": ClientSnapshot(7, CREDITOR, "Maria", charges=(chg(1, "300.00", "Plano odontológico"),)),
    "one, no description": ClientSnapshot(7, CREDITOR, "Maria", charges=(chg(1, "300.00"),)),
    "one, described as cobrança": ClientSnapshot(7, CREDITOR, "", charges=(chg(1, "45.50", "Cobrança"),)),
    "one, uneven installments": ClientSnapshot(7, CREDITOR, "João", charges=(chg(1, "100.00", "Boleto"),)),
    "several": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "300.00", "Mensalidade", dt.date(2025, 12, 10)), chg(2, "1234.56")),
    ),
    "one, partly paid": ClientSnapshot(
        7, CREDITOR, "Maria", charges=(chg(1, "675.00", "Mensalidade", balance=Decimal("337.50")),)
    ),
    "several, one partly paid": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "675.00", "Mensalidade", balance=Decimal("337.50")), chg(2, "250.00")),
        focus_charge_id=1,
    ),
    "one under a 3x agreement": ClientSnapshot(
        7, CREDITOR, "Maria", charges=(chg(1, "189.90", "Plano odontológico", **AGREED_3X),)
    ),
    "one under a single-payment agreement": ClientSnapshot(
        7, CREDITOR, "Maria", charges=(chg(1, "189.90", "", **AGREED_1X),)
    ),
    "several, one under an agreement": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "189.90", "Plano odontológico", dt.date(2025, 10, 5), **AGREED_3X), chg(2, "250.00")),
    ),
    "several, focus on one": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "300.00", "Mensalidade"), chg(2, "250.00", "Material")),
        focus_charge_id=2,
    ),
    "bare creditor, no name": ClientSnapshot(7, BARE_CREDITOR, "", charges=(chg(1, "300.00"),)),
    "creditor without address": ClientSnapshot(
        7,
        Creditor(name="Loja Boa", document="123.456.789-09", pix_key="k@x.example"),
        "Ana",
        charges=(chg(1, "80.00", "Compra parcelada"),),
    ),
    "creditor without document": ClientSnapshot(
        7,
        Creditor(name="Loja Boa", address="Av. B, 2", pix_key="k@x.example"),
        "Ana",
        charges=(chg(1, "80.00"),),
    ),
    "paid recently": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        recent_payment=(Decimal("320.00"), dt.date(2026, 2, 9)),
        recent_paid=(PAID_NOVEMBER,),
    ),
    "one open, another paid lately": ClientSnapshot(
        7, CREDITOR, "Maria", charges=(chg(1, "300.00", "Mensalidade"),), recent_paid=(PAID_NOVEMBER,)
    ),
    "payment claimed": ClientSnapshot(
        7, CREDITOR, "Maria", charges=(chg(1, "300.00", status="payment_claimed"),)
    ),
    "payment claimed, another paid lately": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "320.00", "Mensalidade dezembro", status="payment_claimed"),),
        recent_paid=(PAID_NOVEMBER,),
    ),
    "several, one payment claimed": ClientSnapshot(
        7,
        CREDITOR,
        "Maria",
        charges=(chg(1, "300.00", "Mensalidade", status="payment_claimed"), chg(2, "250.00")),
    ),
    "disputed": ClientSnapshot(7, CREDITOR, "Maria", charges=(chg(1, "300.00", status="disputed"),)),
    "nothing open": ClientSnapshot(7, CREDITOR, "Maria", charges=()),
    "no discount policy": ClientSnapshot(7, CREDITOR, "Maria", charges=(chg(1, "300.00", "Mensalidade"),)),
    "unknown number": ClientSnapshot(None, CREDITOR, ""),
    "number marked wrong": ClientSnapshot(
        7, CREDITOR, "Maria", wrong_number=True, charges=(chg(1, "300.00"),)
    ),
}
CASES = {
    name: ClientSnapshot(
        **{
            **snap.__dict__,
            "limits": NegotiationLimits(3, Decimal("50.00"), Decimal("0"))
            if "no discount" in name
            else LIMITS,
        }
    )
    for name, snap in CASES.items()
}

IN_5_DAYS = TODAY + dt.timedelta(days=5)
LATER = dt.timedelta(hours=2)  # past the confirmation's 30 minutes
# (intent, text, entities[, confidence[, time offset]]) per turn; context carried from turn to turn.
SCRIPTS: dict[str, list[tuple]] = {
    "greeting": [("saudacao", "oi")],
    "greeting read as opt-out": [("opt_out", "bom dia, tudo bem?", {}, 0.97)],
    "thanks": [("agradecimento", "obrigada")],
    "greeting, then greetings again": [
        ("saudacao", "oi"),
        ("saudacao", "bom dia, Deus abençoe"),
        ("saudacao", "boa noite"),
        ("saudacao", "opa"),
    ],
    "who is writing": [("saudacao", "quem é?")],
    "claim, greeting, who is writing": [
        ("confirmacao_pagamento", "já paguei"),
        ("saudacao", "bom dia, Deus abençoe"),
        ("saudacao", "quem fala?"),
        ("agradecimento", "Deus abençoe"),
    ],
    "two unknowns": [("desconhecido", "xpto"), ("desconhecido", "abcd")],
    "claim then receipt": [("confirmacao_pagamento", "já paguei"), ("desconhecido", "")],
    "claim of the total": [("confirmacao_pagamento", "paguei tudo", {"amount": "1534.56"})],
    "claim of part": [("confirmacao_pagamento", "paguei 120 agora", {"amount": "120.00"})],
    "claim of part, then the pix of the rest": [
        ("confirmacao_pagamento", "paguei 120 agora", {"amount": "120.00"}),
        ("informacoes_pagamento", "me manda o pix do restante"),
    ],
    "claim of part, the rest on a day, yes": [
        ("confirmacao_pagamento", "paguei 120, o resto dia 15", {"amount": "120.00", "date": IN_5_DAYS}),
        ("desconhecido", "sim"),
    ],
    "claim of half, the rest on a day": [
        ("promessa_pagamento", "paguei metade ontem, o resto pago dia 15", {"date": IN_5_DAYS}),
        ("desconhecido", "sim"),
    ],
    "claim of part, the rest on a day, no": [
        ("confirmacao_pagamento", "paguei 120, o resto dia 15", {"amount": "120.00", "date": IN_5_DAYS}),
        ("desconhecido", "não"),
    ],
    "claim of part, then the rest on a day, yes": [
        ("confirmacao_pagamento", "paguei 120 hoje", {"amount": "120.00", "date": TODAY}),
        ("promessa_pagamento", "o resto pago semana que vem", {"date": IN_5_DAYS}),
        ("desconhecido", "sim"),
    ],
    "claim of a month paid lately": [("confirmacao_pagamento", "já paguei a de novembro")],
    "a month paid lately, named": [("desconhecido", "esse é o da de novembro")],
    "pix of a month paid lately": [("informacoes_pagamento", "me manda o pix da de novembro")],
    "refund": [("desconhecido", "paguei duas vezes, quero meu dinheiro de volta")],
    "refund read as a claim": [("confirmacao_pagamento", "paguei duas vezes, quero meu dinheiro de volta")],
    "file out of the blue": [("desconhecido", "")],
    "promise, then the date": [
        ("promessa_pagamento", "vou pagar"),
        ("desconhecido", "sexta", {"date": IN_5_DAYS}),
    ],
    "promise, unclear date": [("promessa_pagamento", "vou pagar"), ("desconhecido", "sei la")],
    "promise with a date": [("promessa_pagamento", "pago dia 15", {"date": IN_5_DAYS})],
    "partial promise, yes": [
        ("promessa_pagamento", "pago 20 dia 15", {"date": IN_5_DAYS, "amount": "20.00"}),
        ("desconhecido", "sim"),
    ],
    "promise in the past and too far": [
        ("promessa_pagamento", "pago dia 1", {"date": TODAY - dt.timedelta(days=3)}),
        ("promessa_pagamento", "pago em junho", {"date": TODAY + dt.timedelta(days=90)}),
    ],
    "negotiation, pick 2, yes": [
        ("negociacao", "quero negociar"),
        ("desconhecido", "2"),
        ("desconhecido", "sim"),
    ],
    "negotiation, single payment, yes": [
        ("negociacao", "quero negociar"),
        ("desconhecido", "1"),
        ("desconhecido", "pode"),
    ],
    "negotiation, too many, unclear, unclear": [
        ("negociacao", "quero negociar"),
        ("negociacao", "em 9x", {"installments": 9}),
        ("desconhecido", "hmm"),
        ("desconhecido", "hmm"),
    ],
    "negotiation, a bare yes, pick 2": [
        ("negociacao", "quero negociar"),
        ("saudacao", "sim"),
        ("desconhecido", "2"),
    ],
    "negotiation, pick 0": [("negociacao", "quero negociar"), ("desconhecido", "0")],
    "difficulty, pick, no": [
        ("dificuldade_financeira", "tô desempregada"),
        ("desconhecido", "3"),
        ("desconhecido", "não"),
    ],
    "3x asked, then no and 2x, then no and 6x": [
        ("negociacao", "dá pra parcelar em 3x?", {"installments": 3}),
        ("desconhecido", "não, em 3x não dá. e em 2x?"),
        ("negociacao", "não, em 2x não dá. e em 6x?", {"installments": 6}),
    ],
    "3x asked, unclear, late yes": [
        ("negociacao", "dá pra parcelar em 3x?", {"installments": 3}),
        ("desconhecido", "hmm"),
        ("desconhecido", "sim", {}, 0.9, LATER),
    ],
    "pix": [("informacoes_pagamento", "me manda o pix")],
    "pix, first": [("informacoes_pagamento", "me manda o pix"), ("desconhecido", "1")],
    "pix, all": [("informacoes_pagamento", "me manda o pix"), ("desconhecido", "todas")],
    "pix, which one unclear twice": [
        ("informacoes_pagamento", "me manda o pix"),
        ("desconhecido", "hmm"),
        ("desconhecido", "hmm"),
    ],
    "pix, then a bare follow-up": [
        ("informacoes_pagamento", "me manda o pix"),
        ("saudacao", "e a de dezembro?"),
    ],
    "pix of all of them, said": [("informacoes_pagamento", "quero pagar as duas, me manda o total")],
    "wanting to pay, read as a negotiation": [("negociacao", "quero pagar a de dezembro")],
    "pix of the total": [("informacoes_pagamento", "pix de tudo", {"amount": "1534.56"})],
    "dispute": [("contestacao", "não devo isso"), ("desconhecido", "2")],
    "person": [("falar_humano", "quero um atendente")],
    "opt-out spelled out": [("opt_out", "me tira da lista", {}, 0.6)],
    "opt-out unsure, yes": [("opt_out", "chega", {}, 0.6), ("desconhecido", "sim")],
    "opt-out unsure, no": [("opt_out", "chega", {}, 0.6), ("desconhecido", "não")],
    "wrong person": [("pessoa_errada", "não conheço essa pessoa")],
}


STEP_DEFAULTS = ("", "", {}, 0.93, dt.timedelta(0))


def run(snap: ClientSnapshot, script: list[tuple]) -> list[str]:
    context: dict = {}
    replies = []
    for step in script:
        intent, text, entities, confidence, offset = (*step, *STEP_DEFAULTS[len(step) :])
        decision = decide(
            intent=intent,
            confidence=confidence,
            entities=dict(entities),
            text=text,
            context=context,
            client_snapshot=snap,
            now=NOW + offset,
        )
        context = {**context, **decision.context_updates}
        replies.append(decision.reply)
    return replies


def every_reply() -> list[tuple[str, str, str]]:
    return [
        (case, name, text)
        for case, snap in CASES.items()
        for name, script in SCRIPTS.items()
        for text in run(snap, script)
    ]


# --- what must never reach a debtor -------------------------------------------------------------------------

DEFECTS = {
    "empty or raw slot": re.compile(r"\{|\}|\bNone\b|\bnan\b"),
    "doubled word": re.compile(r"\b([^\W\d_]{2,})\b[\s,]+\1\b", re.IGNORECASE),
    "space before punctuation": re.compile(r"[ \t][,.;:!?](?!\d)"),
    "punctuation pile-up": re.compile(r"[,;:][.,;:!?]|(?<!\.)\.\.(?!\.)|\.,"),
    "empty brackets or quotes": re.compile(r"\(\s*\)|“\s*”|\"\s*\""),
    "double space": re.compile(r"  "),
    "article before a description": re.compile(r"\b(da|a|do|o|na|no) “"),
    "first payment of a single payment": re.compile(r"primeiro pagamento", re.IGNORECASE),
}


def defects(text: str) -> list[str]:
    found = [name for name, pattern in DEFECTS.items() if pattern.search(text)]
    lines = text.split("\n")
    if any(line != line.strip() or not line for line in lines):
        found.append("blank line or edge whitespace")
    if lines[-1].rstrip().endswith((":", ",", ";")):
        found.append("dangling punctuation at the end")
    return found


@pytest.mark.parametrize(
    "text",
    [
        "Registrei o pagamento da cobrança cobrança de R$ 45,50.",  # the issue's replies
        "Acordo registrado: pagamento à vista de R$ 90,00. O primeiro pagamento vence em 10/03/2026.",
        "Para a “Plano” de R$ 10,00 (vencimento ) .",
        "Olá, ! Aqui é o assistente de {credor}.",
        "Você tem cobranças ,, em aberto:",
    ],
)
def test_the_checks_catch_what_the_issue_saw(text):
    assert defects(text)


def test_the_pix_after_a_partial_payment_says_what_was_received_and_what_is_left():
    text = run(CASES["one, partly paid"], SCRIPTS["pix"])[0]
    assert "Para pagar o restante da cobrança “Mensalidade” de R$ 675,00" in text
    assert "já recebemos R$ 337,50; falta R$ 337,50." in text and "PIX copia e cola (R$ 337,50)" in text


def test_a_bare_description_is_caught():
    snap = CASES["one, described"]
    assert unquoted_descriptions("Para a Plano odontológico, posso oferecer:", snap) == ["Plano odontológico"]
    assert unquoted_descriptions("Para a cobrança “Plano odontológico”:", snap) == []


def unquoted_descriptions(text: str, snap: ClientSnapshot) -> list[str]:
    """Descriptions that appear without their quotes: the sentence would take the description's own gender
    ("Para a Plano odontológico")."""
    bare = []
    for charge in snap.charges:
        description = charge.description
        if len(description) < 4 or description.lower() == "cobrança":
            continue
        if re.search(rf"(?<!“){re.escape(description)}", text):
            bare.append(description)
    return bare


def test_every_reply_for_every_case_reads_as_a_sentence():
    problems = []
    for case, script, text in every_reply():
        found = defects(text) + unquoted_descriptions(text, CASES[case]) if text else []
        if found:
            problems.append(f"{case} / {script}: {found}\n{text}")
    assert not problems, "\n\n".join(problems[:10])


def test_single_payments_never_speak_of_installments():
    snap = CASES["one, described"]
    proposal, done = run(snap, SCRIPTS["negotiation, single payment, yes"])[1:]
    for text in (proposal, done):
        assert "parcela" not in text.lower() and "primeiro pagamento" not in text.lower()
    assert "O pagamento vence em" in done
    installments = run(snap, SCRIPTS["negotiation, pick 2, yes"])[2]
    assert "A primeira parcela vence em" in installments


def test_the_charge_takes_its_article_from_cobranca_not_from_its_description():
    for case in ("one, described", "one, described as cobrança", "one, no description"):
        text = run(CASES[case], SCRIPTS["claim then receipt"])[0]
        assert "da cobrança" in text
        assert "cobrança cobrança" not in text.lower() and "Para a Plano" not in text
    assert (
        "da cobrança “Plano odontológico” de R$ 300,00" in run(CASES["one, described"], SCRIPTS["dispute"])[0]
    )


def test_the_runs_render_every_entry_of_the_catalogue(monkeypatch):
    used: set[tuple[str, str]] = set()

    def spy(section, original):
        def render(key, **values):
            used.add((section, key))
            return original(key, **values)

        return render

    # The turn's parts live in several modules of chatbot.policy; each binds reply/phrase at import.
    for name in ("decide", "charges", "deals", "common", "greeting"):
        module = importlib.import_module(f"chatbot.policy.{name}")
        for attr, section, original in (("reply", "respostas", reply), ("phrase", "frases", phrase)):
            if hasattr(module, attr):
                monkeypatch.setattr(module, attr, spy(section, original))
    every_reply()
    book = catalogue()
    # Rendered by chatbot.services (follow-ups, a refused action): covered by test_services_replies below;
    # by chatbot.media_replies (a file without text): covered by chatbot/tests/test_media_replies.py.
    outside = {
        ("respostas", "lembrete_promessa"),
        ("respostas", "nao_consegui_registrar"),
        ("respostas", "audio_recebido"),
        # by chatbot.payment_thanks (a payment arrived): covered by chatbot/tests/test_payment_thanks.py.
        ("respostas", "pagamento_recebido"),
        ("respostas", "pagamento_parcela_recebido"),
        ("respostas", "pagamento_acordo_quitado"),
        ("respostas", "pagamento_parcial_recebido"),
        ("respostas", "pagamento_acima_do_saldo"),
        # by the inbox when an operator rejects a receipt: cobranca/tests/test_dashboard_receipts.py.
        ("respostas", "comprovante_nao_confirmado"),
    }
    expected = {("respostas", k) for k in book.replies} | {("frases", k) for k in book.phrases}
    assert expected - used - outside == set()


def test_the_services_replies_are_clean():
    for first_name in ("Maria", ""):
        text = reply(
            "lembrete_promessa",
            saudacao=phrase("saudacao_nome", nome=first_name) if first_name else phrase("saudacao"),
            credor="Clínica Sorriso Ltda",
            valor="R$ 100,00",
            cobranca=decide_module.charge_label(
                amount=Decimal("300"), due_date=TODAY, description="Cobrança"
            ),
            data="20/03/2026",
        )
        assert not defects(text), text
    assert not defects(reply("nao_consegui_registrar"))


@pytest.mark.parametrize("first_name", ["Maria", ""])
@pytest.mark.parametrize("description", ["Mensalidade", "Cobrança", ""])
def test_the_overpayment_thank_you_is_clean_for_every_debtor(first_name, description):
    text = reply(
        "pagamento_acima_do_saldo",
        saudacao=phrase("saudacao_nome", nome=first_name) if first_name else phrase("saudacao"),
        valor="R$ 1.234,56",
        saldo="R$ 200,00",
        diferenca="R$ 1.034,56",
        cobranca=decide_module.charge_label(amount=Decimal("300"), due_date=TODAY, description=description),
    )
    assert not defects(text), text


# --- the catalogue file -------------------------------------------------------------------------------------


def test_the_catalogue_declares_every_variable_it_uses_and_uses_every_one_it_declares():
    book = load(CATALOGUE_PATH)
    used = {name for text in [*book.replies.values(), *book.phrases.values()] for name in placeholders(text)}
    assert used == set(book.variables)
    assert book.version >= 1


def test_a_reply_without_one_of_its_values_is_refused():
    with pytest.raises(ReplyCatalogueError, match="cobranca"):
        reply("pagamento_informado")
    with pytest.raises(ReplyCatalogueError, match="vazia"):
        reply("pagamento_informado", cobranca="  ")
    with pytest.raises(ReplyCatalogueError, match="não tem a chave"):
        reply("nao_existe")


def test_a_catalogue_with_an_undeclared_variable_is_refused_with_its_key(tmp_path: Path):
    bad = tmp_path / "replies.toml"
    bad.write_text(
        'versao = 1\n[variaveis]\nvalor = "x"\n[frases]\na = "{valor}"\n[respostas]\noi = "Olá, {nome}!"\n',
        encoding="utf-8",
    )
    with pytest.raises(ReplyCatalogueError, match=r"\[respostas\]\.oi usa \['nome'\]"):
        load(bad)
    bad.write_text('versao = 1\n[variaveis]\nvalor = "x"\n[frases]\na = "b"\n', encoding="utf-8")
    with pytest.raises(ReplyCatalogueError, match=r"\[respostas\]"):
        load(bad)


@pytest.mark.parametrize(
    "key", ["pagamento_informado", "pagamento_informado_outras", "pagamento_informado_todas"]
)
def test_a_claimed_payment_is_noted_as_informed_not_as_registered(key):
    # Nothing was verified: the debtor must not read that the payment was recorded, only that it is checked.
    text = catalogue().replies[key]
    assert "registrei o pagamento" not in text.lower()
    assert text.startswith("Obrigado por avisar! Anotei que você informou o pagamento")
    assert "Vamos conferir" in text and "comprovante" in text
