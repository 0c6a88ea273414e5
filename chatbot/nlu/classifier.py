"""Intent prediction API shared by the torch and transformers backends.

Callers (the conversation flow, the ``classify`` command) only see :class:`Prediction`, so the
backend can change by setting without touching them. Low-confidence answers are turned into
``desconhecido`` here, in one place, keeping the raw guess for logs and operator review.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .labels import FALLBACK_INTENT

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MODEL_PATH",
    "DEFAULT_THRESHOLD",
    "IntentClassifier",
    "Prediction",
    "TorchIntentClassifier",
    "apply_confidence_rule",
    "clear_classifier_cache",
    "load_classifier",
]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "weights" / "intent_model.pt"
# The shipped defaults of CHATBOT_CONFIDENCE_THRESHOLD and CHATBOT_MARGIN (chosen in docs/chatbot.md).
DEFAULT_THRESHOLD = 0.3
DEFAULT_MARGIN = 0.03


@dataclass(frozen=True)
class Prediction:
    """``intent`` is what the bot should act on; ``raw_intent`` is the model's top guess."""

    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    raw_intent: str = ""
    margin: float = 0.0

    @property
    def is_fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT and self.raw_intent != FALLBACK_INTENT


class IntentClassifier(Protocol):
    labels: list[str]

    def predict(self, text: str) -> Prediction: ...


def apply_confidence_rule(
    scores: dict[str, float], threshold: float | None = None, margin: float | None = None
) -> Prediction:
    """Pick the top intent, or fall back to ``desconhecido`` when the model is unsure.

    Unsure means the top probability is below ``threshold`` or the gap to the runner-up is
    below ``margin`` (two intents competing, e.g. "paguei metade, o resto pago sexta").
    """
    threshold = float(DEFAULT_THRESHOLD if threshold is None else threshold)
    margin = float(DEFAULT_MARGIN if margin is None else margin)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    top_intent, top_score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    gap = top_score - second
    intent = top_intent if top_score >= threshold and gap >= margin else FALLBACK_INTENT
    return Prediction(intent=intent, confidence=top_score, scores=scores, raw_intent=top_intent, margin=gap)


class TorchIntentClassifier:
    """The shipped fastText-style model. Thread-safe for reads; inference runs without autograd."""

    backend = "torch"

    def __init__(self, path: str | Path, threshold: float | None = None, margin: float | None = None) -> None:
        # torch is heavy (~250 MB): imported on first model load, so Django start-up never pays it.
        import torch

        from .model import load_model_file

        self.path = Path(path)
        self.model, self.featurizer, self.labels, payload = load_model_file(self.path)
        self.metadata = {
            key: payload[key] for key in ("train_config", "train_size", "metrics") if key in payload
        }
        self.threshold = threshold
        self.margin = margin
        # Plain tensors for the hot path: one gather + mean + matmul beats module call overhead.
        self._embedding = self.model.embedding.weight.detach()
        self._layers = [
            (layer.weight.detach().t().contiguous(), layer.bias.detach())
            for layer in self.model.head
            if isinstance(layer, torch.nn.Linear)
        ]

    def probabilities(self, text: str) -> torch.Tensor:
        import torch  # deferred (heavy); already in sys.modules once __init__ ran, so this is a dict lookup

        id_list, weight_list = self.featurizer.featurize_weighted(text)
        ids = torch.tensor(id_list, dtype=torch.long)
        weights = torch.tensor(weight_list, dtype=torch.float32)
        with torch.inference_mode():
            hidden = weights @ self._embedding.index_select(0, ids)
            for position, (weight, bias) in enumerate(self._layers):
                if position:
                    hidden = torch.relu(hidden)
                hidden = hidden @ weight + bias
            return torch.softmax(hidden, dim=0)

    def predict(self, text: str) -> Prediction:
        probs = self.probabilities(text).tolist()
        scores = dict(zip(self.labels, probs, strict=True))
        return apply_confidence_rule(scores, self.threshold, self.margin)


_CACHE: dict[tuple[object, ...], IntentClassifier] = {}
_LOCK = threading.Lock()


def load_classifier(
    path: str | Path | None = None,
    backend: str = "torch",
    *,
    threshold: float | None = None,
    margin: float | None = None,
    device: str | None = None,
    max_length: int | None = None,
) -> IntentClassifier:
    """Return the process-wide classifier for (backend, path, rule), loading it on first use.

    ``path`` defaults to the shipped torch weights; the transformers backend needs a local model
    directory. Inference is pinned to one thread: messages are classified one at a time and
    intra-op parallelism would only fight the web workers for the two cores. Which model the bot
    uses (the active ModelVersion, the settings) is decided by ``chatbot.classification``.
    """
    backend = (backend or "torch").lower()
    if backend == "torch":
        resolved = Path(path) if path else DEFAULT_MODEL_PATH
    elif backend == "transformers":
        if not path:
            raise ValueError(
                "CHATBOT_BACKEND=transformers needs CHATBOT_MODEL_PATH (a local model directory)"
            )
        resolved = Path(path)
    else:
        raise ValueError(f"unknown CHATBOT_BACKEND {backend!r} (expected 'torch' or 'transformers')")
    key = (backend, str(resolved.resolve()), threshold, margin, device, max_length)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        import torch  # heavy optional dependency: loaded with the first model, not at Django start-up

        torch.set_num_threads(1)
        classifier: IntentClassifier
        if backend == "torch":
            classifier = TorchIntentClassifier(resolved, threshold=threshold, margin=margin)
        else:
            from .transformers_backend import TransformersIntentClassifier

            classifier = TransformersIntentClassifier(
                resolved, device=device, max_length=max_length, threshold=threshold, margin=margin
            )
        _CACHE[key] = classifier
        return classifier


def clear_classifier_cache() -> None:
    """Forget loaded models (after retraining, or between tests)."""
    with _LOCK:
        _CACHE.clear()
