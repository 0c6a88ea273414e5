"""``python manage.py pix_simulator``: run the PSP simulator (API Pix) in the foreground for development.

Defaults come from the settings so ``make run`` works without arguments: the port of PIX_API_BASE_URL, the
creditor's name and city in the BR Codes, and any client id/secret accepted unless --client-id is given.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.pix_api.simulator import Options, PixSimulatorServer


def _receiver() -> dict[str, str]:
    return {
        "cnpj": re.sub(r"\D", "", settings.CREDITOR_DOCUMENT)[:14].rjust(14, "0"),
        "nome": settings.CREDITOR_NAME,
        "logradouro": settings.CREDITOR_ADDRESS[:200],
        "cidade": settings.CREDITOR_CITY.title(),
        "uf": "SP",
        "cep": "01310100",
    }


class Command(BaseCommand):
    help = "Run a local PSP simulator (API Pix: OAuth2, cobv, Pix, webhook) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        default_port = urlsplit(settings.PIX_API_BASE_URL).port if settings.PIX_API_BASE_URL else None
        parser.add_argument("--port", type=int, default=default_port or 3200)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--client-id", default=None, help="only this client id gets tokens (default: any)"
        )
        parser.add_argument("--client-secret", default=None)
        parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime in seconds")
        parser.add_argument(
            "--webhook-url",
            default="",
            help="register this webhook for --chave at start (what PUT /v2/webhook/{chave} would do)",
        )
        parser.add_argument(
            "--chave", default=settings.PIX_KEY, help="the Pix key the webhook is registered for"
        )
        parser.add_argument("--tls-cert", default=None, help="serve https with this certificate (PEM)")
        parser.add_argument("--tls-key", default=None, help="the private key of --tls-cert (PEM)")
        parser.add_argument(
            "--tls-client-ca", default=None, help="require client certificates signed by this CA (mutual TLS)"
        )
        parser.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["client_id"]) != bool(options["client_secret"]):
            raise CommandError("--client-id and --client-secret go together")
        if bool(options["tls_cert"]) != bool(options["tls_key"]) or (
            options["tls_client_ca"] and not options["tls_cert"]
        ):
            raise CommandError("--tls-cert and --tls-key go together (and --tls-client-ca needs them)")
        sim_options = Options(
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            token_ttl=options["token_ttl"],
            receiver=_receiver(),
            tls_cert=options["tls_cert"],
            tls_key=options["tls_key"],
            tls_client_ca=options["tls_client_ca"],
        )
        try:
            server = PixSimulatorServer(
                (options["host"], options["port"]), sim_options, verbose=options["verbose"]
            )
        except OSError as exc:  # ssl.SSLError included: a certificate or key that does not load
            raise CommandError(f"cannot serve on {options['host']}:{options['port']}: {exc}") from exc
        if options["webhook_url"]:
            server.state.put_webhook(options["chave"], {"webhookUrl": options["webhook_url"]})
        self.stdout.write(f"PSP simulator: API {server.base_url}  OAuth2 {server.oauth_url}")
        self.stdout.write(
            f"  webhook for {options['chave']}: {'registered' if options['webhook_url'] else '-'}"
        )
        self.stdout.write("Control API under /_sim/ (see docs/payments.md). Ctrl-C to stop.")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            server.server_close()
