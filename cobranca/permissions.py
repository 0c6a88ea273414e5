"""DRF permissions by role. Kept apart from cobranca.api: DRF imports it while its own views module loads."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from cobranca.roles import is_api_user, is_operator


class IsApiUser(BasePermission):
    """Authenticated and in Operadores or Integradores (or staff)."""

    message = "Você não tem permissão para usar a API."

    def has_permission(self, request, view) -> bool:
        return is_api_user(request.user)


class IsOperator(BasePermission):
    message = "Apenas operadores podem fazer isso."

    def has_permission(self, request, view) -> bool:
        return is_operator(request.user)


_MODEL_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}
_GENERIC_ACTIONS = {"create", "update", "partial_update", "destroy", None}


class ApiModelPermissions(BasePermission):
    """Every API write (POST, PUT, PATCH, DELETE) needs model permissions of the caller (its groups' or its
    own, cobranca/roles.py); reads pass through to the other permission classes.

    A view declares them in `write_permissions`, keyed by viewset action or by HTTP method, e.g.
    `{"POST": ["billing.add_messagetemplate"]}` or `{"mark_paid": ["billing.change_charge"]}`. A viewset's
    create/update/destroy without a declaration take add/change/delete of its queryset's model. A write with
    nothing declared is refused: a new write route must say what it needs (cobranca/tests/test_roles_table.py
    checks every one).
    """

    message = "Seu perfil não tem permissão para esta alteração."

    @staticmethod
    def required_permissions(view, method: str) -> list[str] | None:
        declared = getattr(view, "write_permissions", None) or {}
        action = getattr(view, "action", None)
        if action in declared:
            return list(declared[action])
        if method in declared:
            return list(declared[method])
        queryset = getattr(view, "queryset", None)
        if queryset is not None and action in _GENERIC_ACTIONS and method in _MODEL_ACTIONS:
            meta = queryset.model._meta
            return [f"{meta.app_label}.{_MODEL_ACTIONS[method]}_{meta.model_name}"]
        return None

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        required = self.required_permissions(view, request.method)
        user = request.user
        return bool(required and user and user.is_authenticated and user.has_perms(required))
