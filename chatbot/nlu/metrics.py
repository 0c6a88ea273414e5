"""Classification metrics in plain Python/numpy.

scikit-learn is a development dependency only, so the management commands compute their
own figures; the tests cross-check these functions against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_report", "format_report", "percentile_ms"]


def classification_report(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels``, per-intent precision/recall/F1/support and the confusion matrix.

    Rows of the confusion matrix are the gold intent, columns the predicted one. A label that
    never occurs in ``gold`` nor ``predicted`` is left out of the macro average instead of
    counting as zero, so evaluating on a subset of intents stays meaningful.
    """
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    labels = list(labels)
    extra = sorted({*gold, *predicted} - set(labels))
    labels += extra
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for truth, guess in zip(gold, predicted, strict=True):
        matrix[index[truth], index[guess]] += 1
    per_intent: dict[str, dict[str, float]] = {}
    f1_values: list[float] = []
    for label, i in index.items():
        tp = int(matrix[i, i])
        support = int(matrix[i].sum())
        predicted_count = int(matrix[:, i].sum())
        precision = tp / predicted_count if predicted_count else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted_count:
            f1_values.append(f1)
    total = int(matrix.sum())
    return {
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "macro_f1": float(np.mean(f1_values)) if f1_values else 0.0,
        "per_intent": per_intent,
        "labels": labels,
        "confusion": matrix.tolist(),
        "size": total,
    }


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of durations given in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(seconds, dtype=np.float64), q) * 1000.0) if seconds else 0.0


def format_report(report: dict[str, Any]) -> str:
    """Human-readable table of a :func:`classification_report` result."""
    labels: list[str] = report["labels"]
    width = max(len(label) for label in labels)
    lines = [
        f"exemplos: {report['size']}",
        f"acuracia: {report['accuracy']:.4f}",
        f"macro-F1: {report['macro_f1']:.4f}",
        "",
        f"{'intencao':<{width}}  precisao  revocacao      F1  suporte",
    ]
    for label in labels:
        row = report["per_intent"][label]
        lines.append(
            f"{label:<{width}}  {row['precision']:8.3f}  {row['recall']:9.3f}  "
            f"{row['f1']:6.3f}  {row['support']:7d}"
        )
    lines += ["", "matriz de confusao (linhas = intencao real, colunas = prevista):"]
    short = [label[:6] for label in labels]
    lines.append(" " * (width + 2) + " ".join(f"{name:>6}" for name in short))
    for label, row in zip(labels, report["confusion"], strict=True):
        lines.append(f"{label:<{width}}  " + " ".join(f"{value:6d}" for value in row))
    return "\n".join(lines)
