"""``python manage.py waha_simulator``: run the WAHA simulator in the foreground for local development.

Defaults come from the WAHA_* settings so ``make run`` works without arguments: same API key as the client,
webhooks to our own endpoint signed with our HMAC key, and the default session brought to WORKING by a
simulated QR scan after a few seconds (long enough to see the QR in the UI).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.simulator.core import ENGINES, SimulatorOptions
from whatsapp.simulator.server import WahaSimulatorServer


class Command(BaseCommand):
    help = "Run a local WAHA (WhatsApp HTTP API) simulator until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        default_port = urlsplit(settings.WAHA_BASE_URL).port or 3000
        parser.add_argument("--port", type=int, default=default_port)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--webhook-url", default=settings.WAHA_WEBHOOK_URL)
        parser.add_argument("--hmac-key", default=settings.WAHA_WEBHOOK_HMAC_KEY)
        parser.add_argument("--api-key", default=settings.WAHA_API_KEY)
        parser.add_argument("--engine", default="GOWS", choices=ENGINES)
        parser.add_argument("--session", default=settings.WAHA_SESSION_NAME)
        parser.add_argument(
            "--auto-scan-seconds",
            type=float,
            default=3.0,
            help="seconds the session stays in SCAN_QR_CODE before the simulated phone scans it; <0 = never",
        )
        parser.add_argument("--ack-delay-seconds", type=float, default=0.5)
        parser.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        auto_scan = options["auto_scan_seconds"]
        sim_options = SimulatorOptions(
            api_key=options["api_key"],
            engine=options["engine"],
            auto_scan_seconds=None if auto_scan < 0 else auto_scan,
            ack_delay_seconds=options["ack_delay_seconds"],
            webhook_url=options["webhook_url"] or None,
            hmac_key=options["hmac_key"] or None,
            default_session=options["session"] or None,
            default_session_mode="scan",
        )
        try:
            server = WahaSimulatorServer(
                (options["host"], options["port"]), sim_options, verbose=options["verbose"]
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        self.stdout.write(
            f"WAHA simulator {server.base_url} engine={sim_options.engine} "
            f"session={sim_options.default_session} "
            f"webhook={sim_options.webhook_url or '-'} hmac={'on' if sim_options.hmac_key else 'off'}"
        )
        self.stdout.write("Control API under /simulator/ (see docs/waha-simulator.md). Ctrl-C to stop.")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            server.server_close()
            server.simulator.close()
