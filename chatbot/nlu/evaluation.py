"""Evaluation of a classifier on labelled examples, and the uncached loader for one model file.

Shared by the management commands (through ``chatbot.training``), the benchmark and the tests. Pure:
no Django, no app (training on operators' corrections and model registration live in
``chatbot.training``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .classifier import IntentClassifier, Prediction, TorchIntentClassifier
from .data import Example
from .labels import INTENTS
from .metrics import classification_report, percentile_ms

__all__ = ["Evaluation", "evaluate", "load_any_classifier"]


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


def load_any_classifier(
    path: str | Path,
    backend: str | None = None,
    *,
    threshold: float | None = None,
    margin: float | None = None,
    device: str | None = None,
    max_length: int | None = None,
) -> IntentClassifier:
    """Uncached loader for a specific file (torch) or directory (transformers)."""
    path = Path(path)
    if backend == "transformers" or (backend is None and path.is_dir()):
        # transformers is heavy and optional: imported only for this backend.
        from .transformers_backend import TransformersIntentClassifier

        return TransformersIntentClassifier(
            path, device=device, max_length=max_length, threshold=threshold, margin=margin
        )
    return TorchIntentClassifier(path, threshold=threshold, margin=margin)
