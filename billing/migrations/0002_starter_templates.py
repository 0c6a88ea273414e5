"""Starter message templates in respectful pt-BR (CDC art. 42/42-A: no threats, creditor identified)."""

from django.db import migrations

TEMPLATES = [
    (
        "cobranca_simples",
        "Lembrete simples",
        "Olá, {first_name}! Tudo bem?\n\n"
        "Aqui é da {creditor_name}. Passando para lembrar da cobrança *{description}* no valor de *{amount}*, "
        "com vencimento em {due_date}.\n\n"
        "Se já pagou, por favor desconsidere esta mensagem. Qualquer dúvida, é só responder aqui.\n\n"
        "{creditor_name} · CNPJ {creditor_document}",
    ),
    (
        "lembrete_vencimento",
        "Antes do vencimento",
        "Olá, {first_name}! 😊\n\n"
        "A {creditor_name} lembra que *{description}* no valor de *{amount}* vence em *{due_date}*.\n\n"
        "Para receber o código PIX, responda *PIX*. Se preferir, podemos conversar sobre outras formas de "
        "pagamento.\n\n"
        "{creditor_name} · CNPJ {creditor_document}",
    ),
    (
        "cobranca_vencida",
        "Em atraso",
        "Olá, {first_name}. Tudo bem?\n\n"
        "Aqui é da {creditor_name}. Não identificamos o pagamento de *{description}* no valor de *{amount}*, "
        "vencido em {due_date} ({days_overdue} dias).\n\n"
        "Sabemos que imprevistos acontecem: se quiser, podemos combinar uma data ou um parcelamento. "
        "É só responder esta mensagem. Se já pagou, pedimos desculpas e agradecemos se puder nos enviar o "
        "comprovante.\n\n"
        "{creditor_name} · CNPJ {creditor_document}",
    ),
]


def create_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("billing", "MessageTemplate")
    for name, title, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(name=name, defaults={"title": title, "body": body, "is_active": True})


def remove_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("billing", "MessageTemplate")
    MessageTemplate.objects.filter(name__in=[t[0] for t in TEMPLATES], campaigns__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_templates, remove_templates)]
