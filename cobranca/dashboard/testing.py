"""Test support: mount the dashboard when the project's urls/settings do not include it yet.

The lead wires `path("painel/", include("cobranca.dashboard.urls"))` and "cobranca.dashboard" in
INSTALLED_APPS; until then (and harmlessly afterwards) tests call `mount_dashboard(settings)`.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

LIBRARY = "cobranca.dashboard.templatetags.dashboard"


def mount_dashboard(settings) -> None:
    try:
        reverse("dashboard:painel")
    except NoReverseMatch:
        settings.ROOT_URLCONF = "cobranca.dashboard.testing_urls"
    if "cobranca.dashboard" not in settings.INSTALLED_APPS and not any(
        app.endswith("DashboardConfig") for app in settings.INSTALLED_APPS
    ):
        templates = [dict(t) for t in settings.TEMPLATES]
        options = dict(templates[0].get("OPTIONS", {}))
        options["libraries"] = {**options.get("libraries", {}), "dashboard": LIBRARY}
        templates[0]["OPTIONS"] = options
        settings.TEMPLATES = templates
