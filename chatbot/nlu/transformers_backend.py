"""Optional backend: a local Hugging Face sequence-classification model.

For deployments that have a fine-tuned Portuguese encoder (e.g. a BERTimbau checkpoint copied
onto the machine). Everything loads with ``local_files_only=True``: this system never downloads
models at run time. The predict() API and the confidence rule are the same as the torch backend.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .classifier import Prediction, apply_confidence_rule
from .data import Example

__all__ = ["DEFAULT_MAX_LENGTH", "TransformersIntentClassifier", "train_transformers_model"]

# MODEL_MAX_LENGTH's default; the chatbot app passes the setting in.
DEFAULT_MAX_LENGTH = 128


def _device(name: str | None = None) -> torch.device:
    wanted = (name or "cpu").lower()
    if wanted == "cuda" and not torch.cuda.is_available():
        wanted = "cpu"  # a settings file shared with GPU hosts must still work on CPU-only ones
    return torch.device(wanted)


class TransformersIntentClassifier:
    backend = "transformers"

    def __init__(
        self,
        path: str | Path,
        device: str | None = None,
        max_length: int | None = None,
        threshold: float | None = None,
        margin: float | None = None,
    ) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.path = Path(path)
        self.device = _device(device)
        self.max_length = int(max_length or DEFAULT_MAX_LENGTH)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.path, local_files_only=True)
        self.model.to(self.device).eval()
        id2label = self.model.config.id2label
        self.labels = [id2label[i] for i in range(len(id2label))]
        self.threshold = threshold
        self.margin = margin

    def predict(self, text: str) -> Prediction:
        encoded = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt")
        encoded = {key: value.to(self.device) for key, value in encoded.items()}
        with torch.inference_mode():
            probs = torch.softmax(self.model(**encoded).logits[0], dim=-1).cpu().tolist()
        return apply_confidence_rule(dict(zip(self.labels, probs, strict=True)), self.threshold, self.margin)


# long-function: a plain fine-tuning loop; its setup and epochs read best in order
def train_transformers_model(
    examples: Sequence[Example],
    base_model: str | Path,
    output_dir: str | Path,
    labels: Sequence[str],
    *,
    epochs: int = 3,
    seed: int = 13,
    lr: float = 5e-5,
    batch_size: int = 16,
    max_steps: int | None = None,
    device: str | None = None,
    max_length: int | None = None,
) -> float:
    """Fine-tune ``base_model`` (a local directory) on ``examples`` and save model + tokenizer.

    A plain loop instead of ``Trainer`` keeps the dependency set to torch + transformers.
    Returns the training time in seconds.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    random.seed(seed)
    torch.manual_seed(seed)
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    target_device = _device(device)
    max_length = int(max_length or DEFAULT_MAX_LENGTH)
    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_model,
        local_files_only=True,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=index,
        ignore_mismatched_sizes=True,
    )
    model.to(target_device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    steps = 0
    total = max_steps or epochs * math.ceil(len(examples) / batch_size)
    while steps < total:
        order = torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[start : start + batch_size]]
            encoded = tokenizer(
                [example.text for example in batch],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(target_device)
            targets = torch.tensor([index[example.intent] for example in batch], device=target_device)
            loss = model(**encoded, labels=targets).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps >= total:
                break
    model.eval()
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return time.perf_counter() - started
