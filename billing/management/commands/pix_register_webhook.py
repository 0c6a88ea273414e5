"""Register this system's payment webhook at the creditor's PSP (API Pix `PUT /webhook/{chave}`).

    manage.py pix_register_webhook --base-url https://cobranca.example.com.br

Registers `<base-url>/webhook/pix/<PIX_WEBHOOK_TOKEN>` for the Pix key PIX_KEY (or --chave); the PSP appends
`/pix` when it posts. Needs PIX_PROVIDER=api_pix and a PIX_WEBHOOK_TOKEN. The token is never printed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.pix_api import PixApiError, get_pix_client


def webhook_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/webhook/pix/{settings.PIX_WEBHOOK_TOKEN}"


class Command(BaseCommand):
    help = "Cadastra no PSP (API Pix) a URL do webhook de pagamentos deste sistema."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--base-url",
            required=True,
            help="Endereço público deste sistema (https://cobranca.exemplo.com.br).",
        )
        parser.add_argument("--chave", default="", help="Chave Pix (padrão: PIX_KEY).")

    def handle(self, *args, **options) -> None:
        if settings.PIX_PROVIDER != "api_pix":
            raise CommandError("PIX_PROVIDER não é api_pix: não há PSP onde cadastrar o webhook.")
        if not settings.PIX_WEBHOOK_TOKEN:
            raise CommandError("Defina PIX_WEBHOOK_TOKEN (longo e aleatório) antes de cadastrar o webhook.")
        base = options["base_url"]
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--base-url inválida: {base!r} (use https://seu.dominio).")
        chave = options["chave"] or settings.PIX_KEY
        try:
            get_pix_client().put_webhook(chave, webhook_url(base))
        except PixApiError as exc:
            raise CommandError(f"O PSP recusou o cadastro do webhook: {exc}") from None
        shown = f"{base.rstrip('/')}/webhook/pix/<PIX_WEBHOOK_TOKEN>"
        self.stdout.write(f"Webhook cadastrado para a chave {chave}: {shown} (o PSP acrescenta /pix).")
