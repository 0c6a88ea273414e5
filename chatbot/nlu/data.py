"""Reading and writing labelled examples (JSON Lines with "text" and "intent")."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .labels import INTENTS

__all__ = ["DATA_DIR", "TEST_PATH", "TRAIN_PATH", "Example", "read_jsonl", "write_jsonl"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TRAIN_PATH = DATA_DIR / "train.jsonl"
TEST_PATH = DATA_DIR / "test.jsonl"


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


def read_jsonl(path: str | Path, *, strict_labels: bool = True) -> list[Example]:
    """Load examples, failing loudly on unknown intents so a typo in a label never trains silently."""
    examples: list[Example] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            text, intent = str(row["text"]), str(row["intent"])
            if strict_labels and intent not in INTENTS:
                raise ValueError(f"{path}:{number}: unknown intent {intent!r}")
            examples.append(Example(text=text, intent=intent))
    return examples


def write_jsonl(path: str | Path, examples: Iterable[Example]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for example in examples:
            row = {"text": example.text, "intent": example.intent}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
