"""Who may do what on the REST resources: the role groups' model permissions (cobranca/roles.py), GET
included."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions, but reads need `view_<model>` too (DRF's default lets any authenticated user
    read)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class IsStaff(BasePermission):
    """Staff holding `billing.delete_client` (superusers do): the LGPD operations (forget, export) act on a
    data subject's whole record and forgetting is as irreversible as a delete."""

    message = "Apenas a equipe administrativa pode fazer isso."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and user.has_perm("billing.delete_client")
        )
