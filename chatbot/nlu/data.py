"""Reading and writing labelled examples (JSON Lines with "text" and "intent")."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from .labels import INTENTS

__all__ = [
    "DATA_DIR",
    "ENTITIES_TEST_PATH",
    "TEST_PATH",
    "TRAIN_PATH",
    "EntityCase",
    "Example",
    "entity_scores",
    "read_entity_cases",
    "read_jsonl",
    "write_jsonl",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TRAIN_PATH = DATA_DIR / "train.jsonl"
TEST_PATH = DATA_DIR / "test.jsonl"
# Held-out promises that state a date and negotiations that state an amount, with the expected reading.
ENTITIES_TEST_PATH = DATA_DIR / "entities_test.jsonl"


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


@dataclass(frozen=True)
class EntityCase:
    """A message and what extraction must find: a date (relative to ``now``, São Paulo time) or an amount."""

    text: str
    now: datetime | None = None
    date: date | None = None
    amount: Decimal | None = None


def read_entity_cases(path: str | Path = ENTITIES_TEST_PATH) -> list[EntityCase]:
    cases: list[EntityCase] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                if "date" in row:
                    now = datetime.fromisoformat(row["now"]).replace(tzinfo=ZoneInfo("America/Sao_Paulo"))
                    cases.append(EntityCase(row["text"], now=now, date=date.fromisoformat(row["date"])))
                else:
                    cases.append(EntityCase(row["text"], amount=Decimal(row["amount"])))
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"{path}:{number}: {exc!r}") from None
    return cases


def entity_scores(cases: Iterable[EntityCase]) -> dict[str, float | int]:
    """Share of dated cases with a date found / the right date, and of amount cases with the right amount."""
    from .entities import extract_amount, extract_date

    dated = [case for case in cases if case.date is not None]
    priced = [case for case in cases if case.amount is not None]
    found = [
        extract_date(case.text, case.now or datetime.now(ZoneInfo("America/Sao_Paulo"))) for case in dated
    ]
    return {
        "dates": len(dated),
        "dates_resolved": sum(value is not None for value in found) / max(1, len(dated)),
        "dates_exact": sum(value == case.date for value, case in zip(found, dated, strict=True))
        / max(1, len(dated)),
        "amounts": len(priced),
        "amounts_exact": sum(extract_amount(case.text) == case.amount for case in priced)
        / max(1, len(priced)),
    }
