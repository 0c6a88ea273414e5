"""Message understanding: normalisation, features, the intent model, entities and evaluation.

A pure package: it imports neither Django nor any app of this project (an import-linter contract and
``chatbot/tests/test_nlu_purity.py`` check it), so it runs in plain scripts, the benchmark and plain pytest.
Whatever comes from settings or the database (the active model version, thresholds, the device) is passed
in by the chatbot app (``chatbot.classification`` and ``chatbot.training``).
"""
