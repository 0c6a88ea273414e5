"""DRF permissions by role. Kept apart from cobranca.api: DRF imports it while its own views module loads."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

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
