"""Training on the corpus plus operators' corrections, and registering the result as a ModelVersion.

The Django side of the NLU: it reads the corrections from conversations' messages and writes ModelVersion
rows; the training and evaluation themselves are the pure functions of ``chatbot.nlu``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.classification import rule_and_device
from chatbot.models import ModelVersion
from chatbot.nlu.data import TEST_PATH, TRAIN_PATH, Example, read_jsonl
from chatbot.nlu.evaluation import evaluate, load_any_classifier
from chatbot.nlu.labels import INTENTS
from chatbot.nlu.model import TrainConfig, save_model_file, train_intent_model
from conversations.models import Message

__all__ = ["TrainOutcome", "load_corrections", "new_version_name", "train_and_register"]


def load_corrections() -> list[Example]:
    """Inbound messages an operator relabelled: each becomes a training example with the corrected intent.
    Only WhatsApp messages: text typed through the API is not how debtors write."""
    rows = (
        Message.objects.filter(direction="in", source=Message.Source.WHATSAPP)
        .exclude(corrected_intent="")
        .exclude(body="")
        .values_list("body", "corrected_intent")
        .order_by("pk")
    )
    return [Example(text=body, intent=intent) for body, intent in rows if intent in INTENTS]


def new_version_name(now: datetime | None = None) -> str:
    """Sortable, human-readable version: "2026.11.26-0102" (local date, hour and minute)."""
    now = timezone.localtime(now or timezone.now())
    return now.strftime("%Y.%m.%d-%H%M")


def _unique_version(base: str) -> str:
    version, suffix = base, 1
    while ModelVersion.objects.filter(version=version).exists():
        suffix += 1
        version = f"{base}.{suffix}"
    return version


def _default_output(version: str, backend: str) -> Path:
    base = Path(settings.DATA_DIR) / "models"
    return base / (f"intent-{version}.pt" if backend == "torch" else f"intent-{version}")


@dataclass
class TrainOutcome:
    version: ModelVersion
    path: Path
    metrics: dict[str, Any]


# long-function: train, evaluate, save, register: one pipeline's steps in order
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
        # transformers is heavy and optional: imported only for this backend.
        from chatbot.nlu.transformers_backend import train_transformers_model

        training_seconds = train_transformers_model(
            examples,
            base_model,
            path,
            INTENTS,
            epochs=epochs or 3,
            seed=seed,
            max_steps=max_steps,
            device=settings.MODEL_DEVICE,
            max_length=settings.MODEL_MAX_LENGTH,
        )
    else:
        raise ValueError(f"unknown backend {backend!r}")

    evaluation = evaluate(load_any_classifier(path, backend, **rule_and_device()), test)
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
