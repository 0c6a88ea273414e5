"""The project's URLs plus the dashboard: used by tests until cobranca/urls.py mounts it (see testing.py)."""

from __future__ import annotations

from django.urls import include, path

from cobranca.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("painel/", include("cobranca.dashboard.urls"))]
