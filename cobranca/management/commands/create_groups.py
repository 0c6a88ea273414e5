"""Create the role groups and their permissions. Idempotent: safe to run after every migrate."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError

from cobranca.roles import GROUP_PERMISSIONS


class Command(BaseCommand):
    help = "Cria os grupos Operadores e Integradores com suas permissões (idempotente)."

    def handle(self, *args, **options):
        for group_name, perms in GROUP_PERMISSIONS.items():
            group, created = Group.objects.get_or_create(name=group_name)
            wanted = []
            for dotted in perms:
                app_label, codename = dotted.split(".", 1)
                try:
                    wanted.append(
                        Permission.objects.get(content_type__app_label=app_label, codename=codename)
                    )
                except Permission.DoesNotExist:
                    raise CommandError(f"Permissão inexistente: {dotted} (rode migrate antes)") from None
            group.permissions.set(wanted)
            verb = "criado" if created else "atualizado"
            self.stdout.write(f"Grupo {group_name} {verb} com {len(wanted)} permissões.")
