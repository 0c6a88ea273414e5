from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Installed as "cobranca.dashboard" so Django finds the `dashboard` template tag library."""

    name = "cobranca.dashboard"
    label = "dashboard"
    verbose_name = "Painel dos operadores"
