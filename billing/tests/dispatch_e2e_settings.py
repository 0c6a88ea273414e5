"""Settings for the qcluster subprocesses of the dispatch end-to-end tests and benchmarks (not a test module).

The project settings plus short retry/stale timings, read from the environment, so a crash or an outage
test waits seconds instead of the production minutes.
"""

from __future__ import annotations

import os

from cobranca.settings import *  # noqa: F403

DISPATCH_RETRY_BASE_SECONDS = float(os.environ.get("E2E_RETRY_BASE_SECONDS", "0.2"))
DISPATCH_RETRY_MAX_SECONDS = float(os.environ.get("E2E_RETRY_MAX_SECONDS", "2"))
DISPATCH_STALE_SECONDS = float(os.environ.get("E2E_STALE_SECONDS", "3"))
DISPATCH_DRIVER_BUDGET_SECONDS = float(os.environ.get("E2E_DRIVER_BUDGET_SECONDS", "20"))
