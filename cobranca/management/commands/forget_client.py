"""manage.py forget_client <id|phone> --reason "..." : LGPD erasure of one client (irreversible)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cobranca.exceptions import ApplicationError
from cobranca.privacy import find_client, forget_client


class Command(BaseCommand):
    help = "Anonimiza um cliente (LGPD): nome, telefone, documento e textos das mensagens. Irreversível."

    def add_arguments(self, parser) -> None:
        parser.add_argument("client", help="id do cliente ou telefone")
        parser.add_argument(
            "--reason", default="solicitação do titular", help="motivo (vai para a auditoria)"
        )
        parser.add_argument("--yes", action="store_true", help="não pedir confirmação")

    def handle(self, *args, **options):
        try:
            client = find_client(ref=options["client"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if client.forgotten_at:
            self.stdout.write(f"Cliente #{client.pk} já estava anonimizado.")
            return
        if not options["yes"] and options.get("interactive", True):
            answer = input(f"Anonimizar o cliente #{client.pk}? Isto não pode ser desfeito. [s/N] ")
            if answer.strip().lower() not in ("s", "sim", "y", "yes"):
                raise CommandError("Cancelado.")
        forget_client(client=client, by=None, reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(f"Cliente #{client.pk} anonimizado."))
