"""python manage.py import_clients PATH [--dry-run] [--skip-invalid] [--format json|csv|xlsx]

Exit status 0 when every row was valid, 1 when any row was rejected (also when the file cannot be read)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing.importing import import_file
from cobranca.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Importa devedores e cobranças de um arquivo JSON, CSV ou XLSX."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="arquivo .json, .csv ou .xlsx")
        parser.add_argument("--dry-run", action="store_true", help="valida e simula sem gravar nada")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="importa as linhas válidas e separa as inválidas num CSV",
        )
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], help="força o formato do arquivo")
        parser.add_argument("--no-progress", action="store_true", help="sem barra de progresso")
        parser.add_argument(
            "--regua",
            help="identificador da régua de cobrança que as cobranças desta importação seguem",
        )

    def handle(self, *args, **options) -> None:
        bars: dict[str, tqdm] = {}
        quiet = options["no_progress"] or options["verbosity"] == 0

        def progress(phase: str, done: int, total: int | None) -> None:
            if quiet:
                return
            if phase not in bars:
                for bar in bars.values():
                    bar.close()
                label = "validando" if phase == "validate" else "gravando"
                bars[phase] = tqdm(total=total, desc=label, unit=" linhas", file=sys.stderr, leave=False)
            bars[phase].update(done)

        regua = None
        if options.get("regua"):
            from billing.regua.services import regua_get

            try:
                regua = regua_get(slug_or_id=options["regua"])  # checked first: a typo loses nothing
            except ApplicationError as exc:
                raise CommandError(f"{exc.message} ({options['regua']})", returncode=1) from None
        try:
            report = import_file(
                path_or_file=options["path"],
                fmt=options["format"],
                dry_run=options["dry_run"],
                skip_invalid=options["skip_invalid"],
                progress=progress,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message, returncode=1) from None
        finally:
            for bar in bars.values():
                bar.close()

        if regua is not None and report.batch_id and not options["dry_run"]:
            from billing.regua.services import import_batch_set_regua

            import_batch_set_regua(import_batch_id=report.batch_id, regua=regua)
            self.stdout.write(f"Régua desta importação: {regua.slug}")
        self.stdout.write(report.message)
        self.stdout.write(
            f"total={report.total} importadas={report.imported} rejeitadas={report.rejected} "
            f"clientes_novos={report.created_clients} cobrancas_novas={report.created_charges} "
            f"atualizadas={report.updated_charges} lote={report.batch_id or '-'}"
        )
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        for error in report.errors[:50]:
            self.stderr.write(
                f"linha {error['row']}: {error['field']} = {error['value']!r}: {error['message']}"
            )
        if report.errors_count > 50:
            self.stderr.write(f"… e mais {report.errors_count - 50} erro(s).")
        if report.rejected_csv_path:
            self.stdout.write(f"Linhas rejeitadas: {report.rejected_csv_path}")
        if report.rejected:
            sys.exit(1)
