"""Create the first admin user once, printing a random password (or DJANGO_SUPERUSER_PASSWORD) once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Cria o usuário administrador inicial se não existir (a senha é exibida uma única vez)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin"))
        parser.add_argument("--email", default=os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@localhost"))

    def handle(self, *args, **options):
        User = get_user_model()
        username = options["username"]
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Usuário administrador '{username}' já existe (senha exibida na primeira execução)."
            )
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=options["email"], password=password)
        self.stdout.write(
            self.style.SUCCESS(f"Administrador criado: usuário '{username}', senha '{password}'")
        )
        self.stdout.write("Guarde esta senha: ela não será exibida novamente.")
