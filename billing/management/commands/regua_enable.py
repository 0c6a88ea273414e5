"""Turn a régua on: `manage.py regua_enable default` (the default régua is installed off)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.regua.services import regua_enable, regua_get
from cobranca.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Liga uma régua de cobrança (pelo identificador, ex.: default)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("regua", help="Identificador (slug) ou id da régua.")
        parser.add_argument(
            "--confirm-compliance",
            action="store_true",
            help="Liga mesmo com avisos de conformidade nos modelos (depois de lê-los).",
        )

    def handle(self, *args, **options) -> None:
        try:
            regua = regua_get(slug_or_id=options["regua"])
            regua = regua_enable(regua=regua, confirm_compliance=options["confirm_compliance"])
        except ApplicationError as exc:
            details = "; ".join(
                str(x) for v in exc.extra.values() for x in (v if isinstance(v, list) else [v])
            )
            raise CommandError(f"{exc.message} {details}".strip()) from None
        self.stdout.write(f"Régua {regua.slug} ({regua.name}) ligada.")
