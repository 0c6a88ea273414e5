"""Classify messages read from stdin, one JSON object per line on stdout (for operators and scripts)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chatbot.classification import active_classifier, classifier_for, entities_for
from chatbot.nlu.entities import LOCAL_TZ


def entities_as_json(entities: dict[str, Any]) -> dict[str, Any]:
    """Decimal -> "150.50", date -> "2026-12-15"; ints stay ints."""
    out: dict[str, Any] = {}
    for key, value in entities.items():
        out[key] = value if isinstance(value, int) else (value.isoformat() if key == "date" else str(value))
    return out


class Command(BaseCommand):
    # Lets tests pass call_command(..., stdin=StringIO(...)).
    stealth_options = ("stdin",)
    help = (
        "Lê mensagens (uma por linha, UTF-8) da entrada padrão e escreve intenção, confiança "
        "e entidades em JSON."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--now", default=None, help="data/hora de referência YYYY-MM-DDTHH:MM (horário de São Paulo)"
        )
        parser.add_argument(
            "--model",
            default=None,
            help="arquivo de pesos (padrão: o modelo que o assistente usa, a versão ativa ou o configurado)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["now"]:
            try:
                now = datetime.strptime(options["now"], "%Y-%m-%dT%H:%M").replace(tzinfo=LOCAL_TZ)
            except ValueError as exc:
                raise CommandError("--now deve estar no formato YYYY-MM-DDTHH:MM") from exc
        else:
            now = timezone.now()
        if options["model"]:
            try:
                classifier = classifier_for(options["model"])
            except (OSError, ValueError, RuntimeError) as exc:
                raise CommandError(f"não consegui carregar o modelo {options['model']}: {exc}") from exc
        else:
            classifier = active_classifier()
        for raw_line in self.stdin:
            text = raw_line.rstrip("\r\n")
            if not text.strip():
                continue
            prediction = classifier.predict(text)
            row = {
                "text": text,
                "intent": prediction.intent,
                "confidence": round(prediction.confidence, 4),
                "entities": entities_as_json(entities_for(text, now)),
            }
            self.stdout.write(json.dumps(row, ensure_ascii=False))

    def execute(self, *args: Any, **options: Any) -> Any:
        # Default to the process stdin decoded as UTF-8 whatever the locale says.
        stdin = options.pop("stdin", None)
        if stdin is None:
            stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)
        self.stdin = stdin
        return super().execute(*args, **options)
