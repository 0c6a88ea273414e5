"""python manage.py import_statement FILE [--dry-run]

Reconciles the credits of an OFX bank statement with the open charges and prints one JSON summary
(`matched`, `ambiguous`, `unmatched`, `already_applied`, ...; see docs/payments.md). Safe to run again on
the same or an overlapping statement. Exit status 1 when the file cannot be read (nothing is applied)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.payments.statements import statement_import
from cobranca.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Concilia um extrato bancário OFX com as cobranças em aberto e imprime um resumo em JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="arquivo .ofx do banco")
        parser.add_argument("--dry-run", action="store_true", help="mostra o que faria sem gravar nada")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"Arquivo não encontrado: {path}", returncode=1)
        try:
            summary = statement_import(path=path, filename=path.name, dry_run=options["dry_run"])
        except ApplicationError as exc:
            raise CommandError(exc.message, returncode=1) from None
        self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
