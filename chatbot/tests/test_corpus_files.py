"""The hand-written cores are data files; the committed corpus is exactly what the builder makes of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.data.build_corpus import (
    TEST_CORES_PATH,
    TRAIN_CORES_PATH,
    CoreFileError,
    build,
    check_labels_agree,
    cores_by_intent,
    read_cores,
)
from chatbot.nlu.data import TEST_PATH, TRAIN_PATH, read_jsonl
from chatbot.nlu.labels import INTENTS


def test_the_committed_corpus_is_what_the_builder_makes_from_the_core_files() -> None:
    train, test = build()
    assert train == read_jsonl(TRAIN_PATH)
    assert test == read_jsonl(TEST_PATH)


def test_every_intent_has_training_and_held_out_cores() -> None:
    for path in (TRAIN_CORES_PATH, TEST_CORES_PATH):
        grouped = cores_by_intent(path)
        assert list(grouped) == list(INTENTS)
        assert all(len(cores) >= 20 for cores in grouped.values()), path


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cores.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"text": "oi", "intent": "saudacao", "group": "base"})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"text": "oi", "intent": "saudacao"', "not a JSON object"),
        ('["oi", "saudacao"]', "not a JSON object"),
        ('{"text": "oi", "intent": "saudaçao", "group": "base"}', "unknown intent 'saudaçao'"),
        ('{"text": " ", "intent": "saudacao", "group": "base"}', "field 'text' is missing or empty"),
        ('{"intent": "saudacao", "group": "base"}', "field 'text' is missing or empty"),
        ('{"text": "oi", "intent": "saudacao"}', "field 'group' is missing or empty"),
        ('{"text": "oi", "intent": "saudacao", "group": "base", "nota": "x"}', "unknown field(s) ['nota']"),
    ],
)
def test_a_bad_line_is_reported_with_its_file_line_and_reason(tmp_path: Path, line: str, reason: str) -> None:
    path = _write(tmp_path, GOOD, "", line)
    with pytest.raises(CoreFileError) as error:
        read_cores(path)
    assert str(error.value).startswith(f"{path}:3: ")
    assert reason in str(error.value)


def test_cores_keep_their_file_order_within_an_intent(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        json.dumps({"text": "b", "intent": "saudacao", "group": "x"}),
        json.dumps({"text": "z", "intent": "opt_out", "group": "x"}),
        json.dumps({"text": "a", "intent": "saudacao", "group": "y"}),
    )
    grouped = cores_by_intent(path)
    assert grouped["saudacao"] == ["b", "a"] and grouped["opt_out"] == ["z"]
    assert grouped["negociacao"] == []


def test_one_core_under_two_intents_stops_the_build() -> None:
    with pytest.raises(SystemExit, match="Oi!"):
        check_labels_agree({"saudacao": ["oi"], "opt_out": ["Oi!"]}, "training")
