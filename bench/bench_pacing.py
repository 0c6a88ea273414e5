"""Benchmark: pacing with two `qcluster` processes sharing one WAHA session.

    .venv/bin/python bench/bench_pacing.py --messages 60 --delay 1 --jitter 0.2 --clusters 2

Defaults: PostgreSQL + Redis (pace kept in Redis); pass --redis-url "" to keep the pace in the PacingState
row. Reports the mean/min interval between sends as the simulator received them (its outbox timestamps) and
the start-to-first-send latency. Targets: mean within 5 % of the delay, no interval below delay - jitter,
first send ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dispatch import DEFAULT_DB, DEFAULT_REDIS, run


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--jitter", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    result = run(
        messages=args.messages,
        delay=args.delay,
        jitter=args.jitter,
        workers=args.workers,
        clusters=args.clusters,
        database_url=args.database_url,
        redis_url=args.redis_url,
    )
    mean = result["interval_mean_s"]
    result["mean_within_5_percent"] = mean is not None and abs(mean - args.delay) <= 0.05 * args.delay
    result["min_at_least_delay_minus_jitter"] = (
        result["interval_min_s"] is not None and result["interval_min_s"] >= args.delay - args.jitter
    )
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
