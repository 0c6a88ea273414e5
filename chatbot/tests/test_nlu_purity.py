"""chatbot.nlu is a pure package: it imports neither Django nor any app, and works without settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("django", "billing", "conversations", "whatsapp", "cobranca", "chatbot.models", "chatbot.services")

_SCRIPT = """
import datetime as dt, json, pkgutil, sys, importlib
import chatbot.nlu
names = sorted(m.name for m in pkgutil.iter_modules(chatbot.nlu.__path__) if m.name != "transformers_backend")
for name in names:
    importlib.import_module("chatbot.nlu." + name)
from chatbot.nlu.classifier import load_classifier
from chatbot.nlu.entities import extract_entities
prediction = load_classifier().predict("ja paguei ontem")
entities = extract_entities("pago dia 15", dt.datetime(2026, 11, 20, 10, 0))
print(json.dumps({
    "modules": sorted(sys.modules),
    "imported": names,
    "intent": prediction.raw_intent,
    "date": entities["date"].isoformat(),
}))
"""


def test_the_nlu_imports_and_runs_without_django_settings_or_apps() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    expected = {"classifier", "entities", "evaluation", "normalize", "features", "model"}
    assert expected <= set(result["imported"])
    loaded = [name for name in result["modules"] if name.startswith(APPS)]
    assert loaded == [], f"chatbot.nlu pulled in {loaded}"
    assert result["intent"] == "confirmacao_pagamento"
    assert result["date"] == "2026-12-15"
