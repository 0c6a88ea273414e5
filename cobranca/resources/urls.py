"""Router of the REST resources, mounted at /api/: `clients/`, `clients/<id>`, `clients/<id>/forget`,
`charges/`, `dispatches/`. Campaigns are served by /api/billing/campaigns (billing/apis_campaigns.py), not
duplicated here.

Same shape as the rest of the API (/api/conversations/, /api/conversations/<id>/take-over): a trailing slash
on collections only.
"""

from __future__ import annotations

from rest_framework.routers import DynamicRoute, Route, SimpleRouter

from cobranca.resources import views


class ResourceRouter(SimpleRouter):
    routes = [
        Route(
            url=r"^{prefix}/$",
            mapping={"get": "list", "post": "create"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        DynamicRoute(url=r"^{prefix}/{url_path}$", name="{basename}-{url_name}", detail=False, initkwargs={}),
        Route(
            url=r"^{prefix}/{lookup}$",
            mapping={"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"},
            name="{basename}-detail",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
        DynamicRoute(
            url=r"^{prefix}/{lookup}/{url_path}$", name="{basename}-{url_name}", detail=True, initkwargs={}
        ),
    ]


router = ResourceRouter()
router.register("clients", views.ClientViewSet, basename="client")
router.register("charges", views.ChargeViewSet, basename="charge")
router.register("dispatches", views.DispatchViewSet, basename="dispatch")

urlpatterns = router.urls
