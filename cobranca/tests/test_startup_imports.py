"""Starting Django does not import torch: only classifying or training a message does.

torch costs ~250 MB of RSS and seconds of start-up, and most processes never classify anything: the web
workers serving the admin and the API, the qcluster running the daily régua plan, `migrate` and the other
commands. The probe runs in a fresh interpreter (this test process may already have torch loaded by the
chatbot tests) and imports what those processes import: `django.setup()` (which autodiscovers every
admin.py), every project app's admin/urls/tasks, the whole URLconf, every migration and the régua package.
It then classifies one message to show that the deferred import still happens when it is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, importlib.util, json, os, pkgutil, sys
from pathlib import Path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobranca.settings")
import django
django.setup()
from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.urls import get_resolver

root = Path(sys.argv[1]).resolve()
after_setup = "torch" in sys.modules
imported = []
for config in apps.get_app_configs():
    if root not in Path(config.path).resolve().parents:
        continue
    for part in ("admin", "urls", "tasks", "apis", "services", "selectors"):
        name = f"{config.name}.{part}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            imported.append(name)
import billing.regua
for module in pkgutil.walk_packages(billing.regua.__path__, "billing.regua."):
    importlib.import_module(module.name)
    imported.append(module.name)
importlib.import_module(settings.ROOT_URLCONF)
patterns = len(get_resolver().url_patterns)
MigrationLoader(None, ignore_no_migrations=True)
after_imports = "torch" in sys.modules

from chatbot.classification import configured_classifier
prediction = configured_classifier().predict("quero pagar o boleto")
print(json.dumps({
    "after_setup": after_setup,
    "after_imports": after_imports,
    "imported": imported,
    "patterns": patterns,
    "after_classify": "torch" in sys.modules,
    "intent": prediction.raw_intent,
}))
"""


def test_django_start_up_admin_urls_and_the_regua_do_not_import_torch(tmp_path: Path) -> None:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "TESTING")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    env.update(
        {
            "COBRANCA_IGNORE_DOTENV": "1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
            "LOG_FILE": "",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The probe really walked the apps: admin and urls of the project apps, the régua planner and daily run.
    for name in ("chatbot.admin", "billing.admin", "billing.regua.planner", "billing.regua.run"):
        assert name in report["imported"]
    assert report["patterns"] > 0
    assert report["after_setup"] is False, "django.setup() imported torch"
    assert report["after_imports"] is False, "the apps or the régua imported torch"
    # Deferred, not dropped: the first classification loads torch and answers.
    assert report["after_classify"] is True
    assert report["intent"]
