"""OpenAPI schema glue for drf-spectacular."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Name nested serializers after their view (LoginApi.InputSerializer → LoginApiInput...).

    One APIView per operation with nested Input/Output serializers (our convention) would otherwise give every
    endpoint a component called "Input", and the schema would silently merge them.
    """

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        qualname = getattr(cls, "__qualname__", "")
        if "." in qualname and "<locals>" not in qualname:
            outer = qualname.split(".")[0]
            if not name.startswith(outer):
                name = outer + name
        return name
