"""manage.py prune_data [--dry-run] : apply the retention periods (RETENTION_DAYS_MESSAGES/WEBHOOKS)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cobranca.retention import prune_old_data


class Command(BaseCommand):
    help = "Apaga textos de mensagens e corpos de webhooks mais antigos que os prazos de retenção."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="só contar")

    def handle(self, *args, **options):
        counts = prune_old_data(dry_run=options["dry_run"])
        verb = "seriam limpos" if options["dry_run"] else "limpos"
        self.stdout.write(
            f"Mensagens: {counts['messages']}, envios: {counts['dispatches']}, "
            f"webhooks: {counts['webhook_events']} {verb}."
        )
