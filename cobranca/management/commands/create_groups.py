"""Create the role groups and their permissions (idempotent; every `migrate` does it too)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cobranca.provisioning import MissingPermission, groups_sync


class Command(BaseCommand):
    help = "Cria os grupos Operadores e Integradores com suas permissões (idempotente; o migrate já faz)."

    def handle(self, *args, **options):
        try:
            done = groups_sync()
        except MissingPermission as exc:
            raise CommandError(f"Permissão inexistente: {exc} (rode migrate antes)") from None
        for group_name, created, count in done:
            verb = "criado" if created else "atualizado"
            self.stdout.write(f"Grupo {group_name} {verb} com {count} permissões.")
