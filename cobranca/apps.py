from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CobrancaConfig(AppConfig):
    name = "cobranca"
    verbose_name = "Cobrança Inteligente"

    def ready(self) -> None:
        from cobranca import auth_tokens, checks  # noqa: F401  (checks registers system checks)
        from cobranca.logging import configure_logging
        from cobranca.provisioning import provision_after_migrate

        configure_logging()
        auth_tokens.connect()
        # Every migrate also creates the cache table, the role groups and the schedules.
        post_migrate.connect(provision_after_migrate, dispatch_uid="cobranca.provisioning")
