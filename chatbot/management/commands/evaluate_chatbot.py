"""Report accuracy, macro-F1, per-intent scores, confusion matrix and latency of the intent model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from django.core.management.base import BaseCommand, CommandError

from chatbot.classification import rule_and_device
from chatbot.models import ModelVersion
from chatbot.nlu.classifier import DEFAULT_MODEL_PATH
from chatbot.nlu.data import TEST_PATH, read_jsonl
from chatbot.nlu.evaluation import evaluate, load_any_classifier
from chatbot.nlu.metrics import format_report


def _versions() -> tuple[Any, Any]:
    """(active ModelVersion, the one created before it), either possibly None."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None:
        return None, None
    previous = ModelVersion.objects.filter(created_at__lte=active.created_at).exclude(pk=active.pk)
    return active, previous.order_by("-created_at", "-pk").first()


class Command(BaseCommand):
    help = "Avalia o classificador de intenções num arquivo JSONL (padrão: o conjunto de teste separado)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", default=str(TEST_PATH), help='JSONL com {"text", "intent"} por linha')
        parser.add_argument(
            "--model", default=None, help="pesos a avaliar (padrão: versão ativa ou os embarcados)"
        )
        parser.add_argument("--compare", default=None, help="outros pesos para comparar lado a lado")

    def handle(self, *args: Any, **options: Any) -> None:
        torch.set_num_threads(1)
        try:
            examples = read_jsonl(options["file"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"não consegui ler {options['file']}: {exc}") from exc
        active, previous = _versions()
        model_path = options["model"] or (active.path if active else str(DEFAULT_MODEL_PATH))
        backend = active.backend if active and not options["model"] else None
        label = f"versão {active.version}" if active and not options["model"] else model_path
        if not Path(model_path).exists():
            raise CommandError(f"pesos não encontrados: {model_path}")

        evaluation = evaluate(load_any_classifier(model_path, backend, **rule_and_device()), examples)
        self.stdout.write(f"modelo: {label}")
        self.stdout.write(format_report(evaluation.report))
        self.stdout.write(
            f"\nlatência por mensagem (1 thread): p50 {evaluation.p50_ms:.3f} ms, "
            f"p99 {evaluation.p99_ms:.3f} ms"
        )

        other_path, other_label, other_backend = None, None, None
        if options["compare"]:
            other_path, other_label = options["compare"], options["compare"]
        elif previous is not None and not options["model"]:
            other_path, other_label, other_backend = (
                previous.path,
                f"versão {previous.version}",
                previous.backend,
            )
        if other_path and Path(other_path).exists():
            other = evaluate(load_any_classifier(other_path, other_backend, **rule_and_device()), examples)
            self.stdout.write("\ncomparação:")
            self.stdout.write(f"{'modelo':<40} {'acurácia':>9} {'macro-F1':>9}")
            for name, result in ((label, evaluation), (other_label, other)):
                self.stdout.write(
                    f"{name:<40} {result.report['accuracy']:9.4f} {result.report['macro_f1']:9.4f}"
                )
        elif other_path:
            self.stdout.write(f"\nsem comparação: pesos não encontrados em {other_path}")
