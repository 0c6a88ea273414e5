"""Training, evaluation and model-version bookkeeping shared by the management commands.

Kept out of the command modules so the benchmark and tests can call the same code path.
Django (the ORM) is imported lazily: the functions that do not touch the database also work
in plain scripts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .classifier import IntentClassifier, Prediction, TorchIntentClassifier
from .data import TEST_PATH, TRAIN_PATH, Example, read_jsonl
from .labels import INTENTS
from .metrics import classification_report, percentile_ms
from .model import TrainConfig, save_model_file, train_intent_model

__all__ = [
    "Evaluation",
    "TrainOutcome",
    "evaluate",
    "load_any_classifier",
    "load_corrections",
    "new_version_name",
    "train_and_register",
]


@dataclass
class Evaluation:
    report: dict[str, Any]
    latencies: list[float]
    predictions: list[Prediction]

    @property
    def p50_ms(self) -> float:
        return percentile_ms(self.latencies, 50)

    @property
    def p99_ms(self) -> float:
        return percentile_ms(self.latencies, 99)


def evaluate(classifier: IntentClassifier, examples: Sequence[Example], *, raw: bool = False) -> Evaluation:
    """Classify every example one at a time (as production does) and time each call.

    ``raw=True`` scores the model's top guess, ignoring the low-confidence fallback.
    """
    predictions: list[Prediction] = []
    latencies: list[float] = []
    for example in examples:
        started = time.perf_counter()
        prediction = classifier.predict(example.text)
        latencies.append(time.perf_counter() - started)
        predictions.append(prediction)
    guessed = [p.raw_intent if raw else p.intent for p in predictions]
    report = classification_report([e.intent for e in examples], guessed, INTENTS)
    return Evaluation(report=report, latencies=latencies, predictions=predictions)


def load_any_classifier(path: str | Path, backend: str | None = None) -> IntentClassifier:
    """Uncached loader for a specific file (torch) or directory (transformers)."""
    path = Path(path)
    if backend == "transformers" or (backend is None and path.is_dir()):
        from .transformers_backend import TransformersIntentClassifier

        return TransformersIntentClassifier(path)
    return TorchIntentClassifier(path)


def load_corrections() -> list[Example]:
    """Inbound messages an operator relabelled: each becomes a training example with the corrected intent."""
    from conversations.models import Message

    rows = (
        Message.objects.filter(direction="in")
        .exclude(corrected_intent="")
        .exclude(body="")
        .values_list("body", "corrected_intent")
        .order_by("pk")
    )
    return [Example(text=body, intent=intent) for body, intent in rows if intent in INTENTS]


def new_version_name(now: datetime | None = None) -> str:
    """Sortable, human-readable version: "2026.11.26-0102" (local date, hour and minute)."""
    from django.utils import timezone

    now = timezone.localtime(now or timezone.now())
    return now.strftime("%Y.%m.%d-%H%M")


def _unique_version(base: str) -> str:
    from chatbot.models import ModelVersion

    version, suffix = base, 1
    while ModelVersion.objects.filter(version=version).exists():
        suffix += 1
        version = f"{base}.{suffix}"
    return version


def _default_output(version: str, backend: str) -> Path:
    from django.conf import settings

    base = Path(settings.DATA_DIR) / "models"
    return base / (f"intent-{version}.pt" if backend == "torch" else f"intent-{version}")


@dataclass
class TrainOutcome:
    version: Any
    path: Path
    metrics: dict[str, Any]


def train_and_register(
    *,
    seed: int = 13,
    epochs: int | None = None,
    output: str | Path | None = None,
    backend: str = "torch",
    base_model: str | Path | None = None,
    train_path: str | Path = TRAIN_PATH,
    test_path: str | Path = TEST_PATH,
    max_steps: int | None = None,
) -> TrainOutcome:
    """Train on the corpus plus operators' corrections, evaluate on the held-out split, save, register.

    The new ModelVersion becomes the only active one (the model enforces one active row).
    """
    from django.db import transaction

    from chatbot.models import ModelVersion

    corpus = read_jsonl(train_path)
    corrections = load_corrections()
    examples = corpus + corrections
    test = read_jsonl(test_path)
    version = _unique_version(new_version_name())
    path = Path(output) if output else _default_output(version, backend)

    if backend == "torch":
        config = TrainConfig(seed=seed, **({"epochs": epochs} if epochs else {}))
        result = train_intent_model(examples, config, labels=INTENTS)
        save_model_file(result, path)
        training_seconds = result.training_seconds
    elif backend == "transformers":
        if not base_model:
            raise ValueError("--backend transformers needs --base-model (a local model directory)")
        from .transformers_backend import train_transformers_model

        training_seconds = train_transformers_model(
            examples, base_model, path, INTENTS, epochs=epochs or 3, seed=seed, max_steps=max_steps
        )
    else:
        raise ValueError(f"unknown backend {backend!r}")

    evaluation = evaluate(load_any_classifier(path, backend), test)
    report = evaluation.report
    metrics = {
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "per_intent": {
            label: {key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}
            for label, row in report["per_intent"].items()
        },
        "train_size": len(examples),
        "corrections": len(corrections),
        "test_size": len(test),
        "training_seconds": round(training_seconds, 2),
        "latency_p50_ms": round(evaluation.p50_ms, 3),
        "latency_p99_ms": round(evaluation.p99_ms, 3),
        "seed": seed,
    }
    if backend == "torch":
        # Keep the metrics inside the weights file too, so a file copied elsewhere stays self-describing.
        save_model_file(result, path, metrics=metrics)
    with transaction.atomic():
        ModelVersion.objects.filter(is_active=True).update(is_active=False)
        row = ModelVersion.objects.create(
            version=version, backend=backend, path=str(path), metrics=metrics, is_active=True
        )
    return TrainOutcome(version=row, path=path, metrics=metrics)
