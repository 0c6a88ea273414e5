"""The attacks of issue #10 (items 1-11, 12-16 from the second outside test, 17 from the third) replayed
against a real stack (gunicorn + qcluster + WAHA simulator) in CI.

Runs tests/security/attack.py once, in a subprocess, on the suite's backend: SQLite by default, a throwaway
PostgreSQL database (`<name>_attack`) when DATABASE_URL points at PostgreSQL. Each item is then one test, so a
broken item is named in the report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.security.attack import ORDER, TITLES

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).with_name("attack.py")
ROOT = SCRIPT.parents[2]
LINE = re.compile(r"^item\s+(\d+) (held|broken)\s+(.*)$", re.MULTILINE)


@pytest.fixture(scope="module")
def attack_report() -> dict[int, tuple[str, str]]:
    command = [sys.executable, str(SCRIPT)]
    database_url = os.environ.get("DATABASE_URL", "")
    if urlparse(database_url).scheme.startswith("postgres"):
        parsed = urlparse(database_url)
        name = (parsed.path.lstrip("/") or "cobranca") + "_attack"
        command += ["--database-url", parsed._replace(path="/" + name).geturl()]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "TESTING")}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = {int(n): (verdict, detail) for n, verdict, detail in LINE.findall(result.stdout)}
    if result.returncode == 2 or not report:
        pytest.fail(f"the attack stack did not start:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return report


@pytest.mark.parametrize("item", ORDER, ids=[f"item{i}" for i in ORDER])
def test_the_defence_holds(attack_report, item):
    verdict, detail = attack_report[item]

    assert verdict == "held", f"item {item} ({TITLES[item]}): {detail}"
