from __future__ import annotations

from django.apps import AppConfig


class CobrancaConfig(AppConfig):
    name = "cobranca"
    verbose_name = "Cobrança Inteligente"

    def ready(self) -> None:
        from cobranca import auth_tokens, checks  # noqa: F401  (checks registers system checks)
        from cobranca.logging import configure_logging

        configure_logging()
        auth_tokens.connect()
