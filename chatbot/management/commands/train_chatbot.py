"""Retrain the intent classifier on the corpus plus operators' corrections and activate it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chatbot.training import train_and_register


class Command(BaseCommand):
    help = (
        "Treina o classificador de intenções com chatbot/data/train.jsonl e as correções dos atendentes, "
        "avalia no conjunto de teste separado, salva os pesos e ativa a nova versão."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=13, help="semente (mesma semente, mesmo modelo)")
        parser.add_argument("--epochs", type=int, default=None, help="épocas de treino")
        parser.add_argument("--output", default=None, help="arquivo (torch) ou pasta (transformers) de saída")
        parser.add_argument("--backend", choices=["torch", "transformers"], default="torch")
        parser.add_argument("--base-model", default=None, help="pasta local do modelo base (transformers)")
        parser.add_argument("--max-steps", type=int, default=None, help="limite de passos (transformers)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = train_and_register(
                seed=options["seed"],
                epochs=options["epochs"],
                output=options["output"],
                backend=options["backend"],
                base_model=options["base_model"],
                max_steps=options["max_steps"],
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        metrics = outcome.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"versão {outcome.version.version} ativa ({outcome.version.backend}): "
                f"acurácia {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, "
                f"{metrics['train_size']} exemplos de treino ({metrics['corrections']} correções), "
                f"{metrics['training_seconds']:.1f} s de treino"
            )
        )
        self.stdout.write(f"pesos salvos em {outcome.path}")
