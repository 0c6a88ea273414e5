"""Who may do what on the REST resources: the role groups' model permissions (cobranca/roles.py), GET
included."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """Reads need `view_<model>` (DRF's default lets any authenticated user read). Writes are checked by
    cobranca.permissions.ApiModelPermissions, the one write rule of the API."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if request.method not in SAFE_METHODS:
            return True
        return super().has_permission(request, view)


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
