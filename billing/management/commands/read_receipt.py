"""Read one Pix receipt (picture or PDF) and print what it says as one JSON object (docs/receipts.md).

    manage.py read_receipt comprovante.jpg

{"amount": "189.90", "paid_at": "2026-12-05T14:32:00-03:00", "e2eid": "E...", "recipient_name": ...,
"recipient_document": ..., "payer_name": ..., "bank": ..., "confidence": {...}}, null for what was not read.
Exits 1 with the reason for a file that is not a picture or PDF, or that is refused (too big, animated, lies
about its type, a PDF bomb)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from billing.receipts import ReceiptRefused, read_receipt


class Command(BaseCommand):
    help = "Lê um comprovante Pix (imagem ou PDF) e imprime os dados lidos em JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Caminho do comprovante (JPEG, PNG, WebP, GIF ou PDF).")
        parser.add_argument("--content-type", default=None, help="Tipo declarado pelo remetente (opcional).")

    def handle(self, *args, **options) -> None:
        try:
            reading = read_receipt(options["file"], content_type=options["content_type"])
        except ReceiptRefused as exc:
            raise CommandError(f"Comprovante recusado: {exc.reason}", returncode=1) from None
        self.stdout.write(json.dumps(reading.as_json(), ensure_ascii=False))
