"""Shared helpers of the security/privacy/resources tests: one user per role, API clients authenticated by
JWT."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

ROLES = ("anonymous", "integrator", "operator", "staff")
URLCONF = "cobranca.urls"


def make_user(role: str) -> User | None:
    if role == "anonymous":
        return None
    call_command("create_groups", stdout=open("/dev/null", "w"))
    # "staff" is the back office (admin) user: in this system that is a superuser (manage.py ensure_admin).
    user = User.objects.create_user(
        f"user-{role}", password="s3nha-forte-123", is_staff=role == "staff", is_superuser=role == "staff"
    )
    if role == "integrator":
        user.groups.add(Group.objects.get(name="Integradores"))
    elif role == "operator":
        user.groups.add(Group.objects.get(name="Operadores"))
    return user


def api_for(user: User | None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return api
