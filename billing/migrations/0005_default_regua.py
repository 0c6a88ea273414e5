"""The default régua (off until an operator turns it on) and its starter templates.

D-3, D0, D+1, D+7, D+15, D+30 on the charge's due date, "promessa vencida" the day after a promised date, and
D-1/D0/D+1 on each agreement installment. Every template names the creditor and its CNPJ (CDC art. 42-A) and
carries no threat, ultimatum or exposure (arts. 42 and 71); billing/tests/test_regua.py checks them with
billing.compliance.
"""

from django.db import migrations

FOOTER = "\n\n{creditor_name} · CNPJ {creditor_document}"
PAID = "Se já pagou, por favor desconsidere esta mensagem."
HELP = 'Para receber o código PIX, responda *PIX*. Dúvidas? É só responder aqui.'

TEMPLATES = [
    # (name, title, body)
    (
        "regua_d_menos_3",
        "Régua D-3: lembrete",
        "Olá, {first_name}! Aqui é da {creditor_name}.\n\nPassando para lembrar do vencimento:\n{charges_list}\n\n"
        f"{HELP} {PAID}{FOOTER}",
    ),
    (
        "regua_d0",
        "Régua D0: vence hoje",
        "Olá, {first_name}! Aqui é da {creditor_name}.\n\nHoje é o dia do vencimento:\n{charges_list}\n\n"
        f"{HELP} {PAID}{FOOTER}",
    ),
    (
        "regua_d_mais_1",
        "Régua D+1",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nAinda não identificamos o pagamento de:\n"
        "{charges_list}\n\nSe o pagamento foi feito nas últimas horas, pode desconsiderar. "
        f"{HELP}{FOOTER}",
    ),
    (
        "regua_d_mais_7",
        "Régua D+7",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nConsta em aberto:\n{charges_list}\n\n"
        "Se estiver difícil pagar tudo de uma vez, podemos combinar uma data ou um parcelamento: é só responder. "
        f"{PAID}{FOOTER}",
    ),
    (
        "regua_d_mais_15",
        "Régua D+15",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nSeguimos à disposição para resolver:\n{charges_list}\n\n"
        "Responda esta mensagem para combinarmos a melhor forma de pagamento para você. "
        f"{PAID}{FOOTER}",
    ),
    (
        "regua_d_mais_30",
        "Régua D+30",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nAinda consta em aberto:\n{charges_list}\n\n"
        "Queremos ajudar a regularizar: podemos conversar sobre datas e parcelas. Se preferir falar com uma "
        f"pessoa da nossa equipe, é só pedir. {PAID}{FOOTER}",
    ),
    (
        "regua_promessa_vencida",
        "Régua: promessa vencida",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nCombinamos o pagamento de:\n{charges_list}\n\n"
        "Se já pagou, é só enviar o comprovante por aqui. Se precisar de outra data, responda e combinamos."
        f"{FOOTER}",
    ),
    (
        "regua_parcela_d_menos_1",
        "Régua: parcela vence amanhã",
        "Olá, {first_name}! Aqui é da {creditor_name}.\n\nLembrete do seu acordo:\n{charges_list}\n\n"
        f"{HELP} {PAID}{FOOTER}",
    ),
    (
        "regua_parcela_d0",
        "Régua: parcela vence hoje",
        "Olá, {first_name}! Aqui é da {creditor_name}.\n\nHoje vence a parcela do seu acordo:\n{charges_list}\n\n"
        f"{HELP} {PAID}{FOOTER}",
    ),
    (
        "regua_parcela_d_mais_1",
        "Régua: parcela em aberto",
        "Olá, {first_name}. Aqui é da {creditor_name}.\n\nAinda não identificamos o pagamento da parcela:\n"
        "{charges_list}\n\nSe precisar de ajuda com o acordo, é só responder. "
        f"{PAID}{FOOTER}",
    ),
]

# (kind, offset, label, template, charge statuses)
STEPS = [
    ("due", -3, "Lembrete (D-3)", "regua_d_menos_3", ["open"]),
    ("due", 0, "Vence hoje (D0)", "regua_d0", ["open"]),
    ("due", 1, "D+1", "regua_d_mais_1", ["open", "promised"]),
    ("due", 7, "D+7", "regua_d_mais_7", ["open", "promised"]),
    ("due", 15, "D+15", "regua_d_mais_15", ["open", "promised"]),
    ("due", 30, "D+30", "regua_d_mais_30", ["open", "promised"]),
    ("promise", 1, "Promessa vencida", "regua_promessa_vencida", ["promised"]),
    ("installment", -1, "Parcela: véspera", "regua_parcela_d_menos_1", []),
    ("installment", 0, "Parcela: vence hoje", "regua_parcela_d0", []),
    ("installment", 1, "Parcela: dia seguinte", "regua_parcela_d_mais_1", []),
]


def install(apps, schema_editor):
    MessageTemplate = apps.get_model("billing", "MessageTemplate")
    Regua = apps.get_model("billing", "Regua")
    ReguaStep = apps.get_model("billing", "ReguaStep")
    templates = {}
    for name, title, body in TEMPLATES:
        templates[name], _ = MessageTemplate.objects.get_or_create(
            name=name, defaults={"title": title, "body": body, "is_active": True}
        )
    regua, _ = Regua.objects.get_or_create(
        slug="default",
        defaults={"name": "Régua padrão", "is_default": True, "status": "off", "skip_carnival": True},
    )
    for kind, offset, label, template, statuses in STEPS:
        ReguaStep.objects.get_or_create(
            regua=regua,
            kind=kind,
            offset_days=offset,
            defaults={"label": label, "template": templates[template], "charge_statuses": statuses},
        )


def uninstall(apps, schema_editor):
    Regua = apps.get_model("billing", "Regua")
    MessageTemplate = apps.get_model("billing", "MessageTemplate")
    Regua.objects.filter(slug="default").delete()
    MessageTemplate.objects.filter(name__in=[name for name, _, _ in TEMPLATES], campaigns__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_regua")]

    operations = [migrations.RunPython(install, uninstall)]
