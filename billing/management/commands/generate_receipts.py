"""Write test Pix receipts and their truth (docs/receipts.md).

    manage.py generate_receipts --out var/receipts --count 300 --seed 2

N files (JPEG/PNG screenshots, PDFs with and without a text layer, some edited fakes) and labels.json with
what each one shows and, for a fake, what was really paid. The creditor is this installation's (CREDITOR_NAME,
CREDITOR_DOCUMENT, PIX_KEY)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.receipts.documents import digits_of, format_document


class Command(BaseCommand):
    help = "Gera comprovantes Pix de teste (imagens e PDFs, com falsificações) e labels.json com a verdade."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", required=True, help="Pasta de saída (criada se faltar).")
        parser.add_argument("--count", type=int, default=50, help="Quantos comprovantes (padrão 50).")
        parser.add_argument(
            "--seed", type=int, default=1, help="Semente: a mesma semente gera os mesmos arquivos."
        )
        parser.add_argument("--fake-rate", type=float, default=0.1, help="Fração de comprovantes editados.")

    def handle(self, *args, **options) -> None:
        from billing.receipts.generator import Creditor, generate  # Pillow and fpdf2 only when generating

        if not 1 <= options["count"] <= 100_000:
            raise CommandError("--count deve estar entre 1 e 100000.")
        if not 0 <= options["fake_rate"] <= 1:
            raise CommandError("--fake-rate deve estar entre 0 e 1.")
        creditor = Creditor(
            name=settings.CREDITOR_NAME,
            document=format_document(digits_of(settings.CREDITOR_DOCUMENT)),
            key=settings.PIX_KEY,
        )
        out = Path(options["out"])
        labels = generate(out, count=options["count"], seed=options["seed"], creditor=creditor,
                          fake_rate=options["fake_rate"])  # fmt: skip
        fakes = sum(1 for label in labels if label["fake"])
        self.stdout.write(
            f"{len(labels)} comprovantes ({fakes} editados) em {out}; verdade em {out / 'labels.json'}"
        )
