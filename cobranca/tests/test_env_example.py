from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_documents_every_variable_the_settings_read():
    settings_source = (ROOT / "cobranca" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|float|choice|list|url)\(\s*"([A-Z_]+)"', settings_source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set()
    assert documented - read == set()
