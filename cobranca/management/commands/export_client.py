"""manage.py export_client <id|phone> : print everything held about one client as JSON (LGPD access
request)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from cobranca.privacy import export_client, find_client


class Command(BaseCommand):
    help = "Exporta em JSON todos os dados de um cliente (LGPD: acesso/portabilidade)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("client", help="id do cliente ou telefone")
        parser.add_argument("--indent", type=int, default=2)

    def handle(self, *args, **options):
        try:
            client = find_client(ref=options["client"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        data = export_client(client=client)
        audit_record(action="client.export", target=client, details={"via": "command"})
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=options["indent"] or None))
