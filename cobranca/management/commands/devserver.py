"""Run web + django-q2 worker (+ the WAHA and PSP simulators) in the foreground; Ctrl-C stops them all.

This is what `make run` ends with. Production runs the same pieces as separate processes (Procfile, compose).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def simulator_wanted() -> bool:
    """Start the simulator unless WAHA_BASE_URL points at a real WAHA (a non-loopback host) or it is
    disabled."""
    if not settings.WAHA_SIMULATOR:
        return False
    host = urlparse(settings.WAHA_BASE_URL).hostname or ""
    return host in LOOPBACK_HOSTS


def pix_simulator_wanted() -> bool:
    """Start the PSP simulator when the provider is the API Pix and PIX_API_BASE_URL is on the loopback."""
    if settings.PIX_PROVIDER != "api_pix" or not settings.PIX_API_BASE_URL:
        return False
    return (urlparse(settings.PIX_API_BASE_URL).hostname or "") in LOOPBACK_HOSTS


def pix_simulator_argv(manage: list[str], web_port: int) -> list[str]:
    """The simulator on PIX_API_BASE_URL's port, its webhook already registered for PIX_KEY, pointing at our
    payment webhook (/webhook/pix/<PIX_WEBHOOK_TOKEN>), as a creditor would register it at a real PSP."""
    port = urlparse(settings.PIX_API_BASE_URL).port or 3200
    argv = [*manage, "pix_simulator", "--port", str(port)]
    if settings.PIX_WEBHOOK_TOKEN:
        webhook = f"http://127.0.0.1:{web_port}/webhook/pix/{settings.PIX_WEBHOOK_TOKEN}"
        argv += ["--webhook-url", webhook, "--chave", settings.PIX_KEY]
    return argv


class Command(BaseCommand):
    help = "Inicia servidor web, worker django-q2 e (se aplicável) os simuladores WAHA e PSP (API Pix)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        procs: list[tuple[str, subprocess.Popen]] = []
        # The S603 noqa below: every argv is our own manage.py with fixed arguments (no shell, no user input).
        if simulator_wanted():
            waha_port = urlparse(settings.WAHA_BASE_URL).port or 3000
            simulator_argv = [*manage, "waha_simulator", "--port", str(waha_port)]
            procs.append(("waha-simulator", subprocess.Popen(simulator_argv)))  # noqa: S603 - own manage.py
        if pix_simulator_wanted():
            pix_argv = pix_simulator_argv(manage, options["port"])
            procs.append(("pix-simulator", subprocess.Popen(pix_argv)))  # noqa: S603 - own manage.py
        procs.append(("worker", subprocess.Popen([*manage, "qcluster"])))  # noqa: S603 - own manage.py
        web_argv = [*manage, "runserver", "--noreload", f"{options['host']}:{options['port']}"]
        procs.append(("web", subprocess.Popen(web_argv)))  # noqa: S603 - own manage.py
        url = f"http://localhost:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"\nCobrança Inteligente em {url}"))
        self.stdout.write(
            f"  Retaguarda (admin): {url}/admin/   Painel: {url}/painel/   API: {url}/api/docs/"
        )
        self.stdout.write("  Ctrl-C encerra tudo.\n")

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in procs:
                    if proc.poll() is not None:
                        self.stderr.write(
                            f"{name} terminou (código {proc.returncode}); encerrando os demais."
                        )
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for _, proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, proc in procs:
                try:
                    proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    proc.kill()
