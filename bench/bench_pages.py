"""Dashboard pages at volume: query count and server time of every /painel/ page with 100,000 charges and
10,000 conversations (issue #13: ≤ 15 queries and ≤ 300 ms per page).

    .venv/bin/python bench/bench_pages.py [--charges 100000] [--conversations 10000] [--repeat 7]
        [--data-dir DIR] [--reuse-db] [--json]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cobranca_pages .venv/bin/python bench/bench_pages.py

A throwaway database (SQLite in a temp dir, or the PostgreSQL database named in DATABASE_URL, dropped and
re-created: give it a name of its own) is migrated and filled by `manage.py load_volume` in a child process.
With `--data-dir` an SQLite database already filled there is reused (the load takes minutes). Then, in this
process, an operator is logged in with Django's test client and each page is requested once to warm up and
`--repeat` times measured: server time is the whole request through the middleware stack (no network), the
query count is Django's own (CaptureQueriesContext). The baseline row is the cheapest page the project has,
`/health`, measured in the same run. The Sistema page pings WAHA: WAHA_BASE_URL points at a closed loopback
port, so the ping fails at once (as when WAHA is down) and is not what is measured.

The Painel is measured twice: first with its per-day rollup empty (every day computed from the dispatches, the
code before the rollup existed: its same-run baseline), then after `outcomes_rollup --all`. The régua pages'
"first view" has no forecast kept (the view runs the planner); their measured views read the forecast the
schedule's task computed (timed once per page).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

TARGET_QUERIES = 15
TARGET_MS = 300.0


def _prepare(args) -> dict[str, str]:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="bench-pages-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    overrides = {
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "WAHA_BASE_URL": "http://127.0.0.1:9",
        "WAHA_CONNECT_TIMEOUT": "0.2",
        "WAHA_WEBHOOK_HMAC_KEY": "bench-hmac-" + "k" * 32,
    }
    url = _common.os.environ.get("DATABASE_URL", "")
    if _common.is_postgres(url):
        overrides["DATABASE_URL"] = url
    env = _common.server_env(data_dir, **overrides)
    if not _common.is_postgres(url):
        env.pop("DATABASE_URL", None)
    if _common.is_postgres(url):
        fresh = not args.reuse_db
        if fresh:
            _common.recreate_postgres(url)
    else:
        fresh = not (data_dir / "db.sqlite3").exists()
    if fresh:
        _common.prepare_database(env)
        started = time.monotonic()
        _common.manage(
            env,
            "load_volume",
            "--charges",
            str(args.charges),
            "--conversations",
            str(args.conversations),
        )
        print(f"load_volume: {time.monotonic() - started:.1f} s", file=sys.stderr)
        if _common.is_postgres(url):
            # What autovacuum does soon after a bulk load; without statistics the planner guesses (the inbox
            # took 4 s instead of 0.5 s).
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")
    else:
        _common.manage(env, "migrate", "--noinput", "-v", "0")
    # DEBUG off serves hashed static names from the manifest: build it (STATIC_ROOT, git-ignored).
    _common.manage(env, "collectstatic", "--noinput", "-v", "0")
    return env


def _pages() -> list[tuple[str, str]]:
    """(label, path) of every dashboard page worth a GET, with real ids from the loaded data."""
    from django.db.models import Count
    from django.urls import NoReverseMatch, reverse

    from billing.models import Campaign, Charge, Client, MessageTemplate
    from conversations.models import Conversation

    campaign = Campaign.objects.annotate(n=Count("dispatches")).order_by("-n").first()
    conversation = Conversation.objects.order_by("-last_message_at").first()
    charge = Charge.objects.filter(status=Charge.Status.OPEN).order_by("pk").first()
    client = Client.objects.annotate(n=Count("charges")).order_by("-n", "pk").first()
    template = MessageTemplate.objects.order_by("pk").first()
    pages = [
        ("health (baseline)", "/health"),
        ("Painel", reverse("dashboard:painel")),
        ("Painel, 1 ano", reverse("dashboard:painel") + "?inicio=" + _days_ago(365) + "&fim=" + _days_ago(0)),
        ("Cobrança", reverse("dashboard:cobranca")),
        ("Nova campanha", reverse("dashboard:campaign-new")),
        ("Campanha (maior)", reverse("dashboard:campaign-detail", args=[campaign.pk])),
        ("Régua", reverse("dashboard:regua")),
        ("Régua, lembretes de uma cobrança", reverse("dashboard:regua") + f"?escolha={charge.pk}"),
        ("Régua, busca", reverse("dashboard:regua") + "?cobranca=Silva"),
        ("Conversas", reverse("dashboard:inbox")),
        ("Conversas, Minhas", reverse("dashboard:inbox") + "?vista=minhas"),
        ("Conversas, Sem responsável", reverse("dashboard:inbox") + "?vista=sem-responsavel"),
        ("Conversa", reverse("dashboard:conversation", args=[conversation.pk])),
        ("Modelos", reverse("dashboard:templates")),
        ("Modelo", reverse("dashboard:template-edit", args=[template.pk])),
        ("WhatsApp", reverse("dashboard:whatsapp-sessions")),
        ("Sistema", reverse("dashboard:sistema")),
    ]
    # Pages other helpers add (debtors, charges): measured when their URL names exist.
    optional = [
        ("Devedores", "dashboard:debtors", [], ""),
        ("Devedores, busca", "dashboard:debtors", [], "?q=Silva"),
        ("Devedor", "dashboard:debtor", [client.pk], ""),
        ("Respostas prontas", "dashboard:canned-replies", [], ""),
        ("Pagamentos: pendências", "dashboard:payment-issues", [], ""),
    ]
    for label, name, args, query in optional:
        try:
            pages.append((label, reverse(name, args=args) + query))
        except NoReverseMatch:
            continue
    return pages


def _days_ago(days: int) -> str:
    import datetime as dt

    from django.utils import timezone

    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


def _forget_forecast() -> None:
    from django.core.cache import cache

    from billing.regua import selectors
    from cobranca.dashboard import regua_forecast

    cache.delete(regua_forecast._key(list(selectors.regua_list())))


def _timed(label: str, dotted: str, *args) -> float:
    """Run a task function in this process; print and return its wall time in ms."""
    from importlib import import_module

    module, name = dotted.rsplit(".", 1)
    started = time.perf_counter()
    getattr(import_module(module), name)(*args)
    ms = round((time.perf_counter() - started) * 1000, 1)
    print(f"{label}: {ms} ms", file=sys.stderr)
    return ms


def _painel_before_rollup(client, repeat: int) -> list[dict]:
    """The Painel without its rollup (every day computed from the dispatches, as before it existed): the
    same-run baseline of the Painel rows. Then the rollup is built as `outcomes_rollup --all` does."""
    from django.core.management import call_command

    from cobranca.dashboard.models import OutcomeRollup

    OutcomeRollup.objects.all().delete()
    rows = []
    for label, path in _pages():
        if label.startswith("Painel"):
            rows.append(
                {"page": label + " (sem resumo: antes)", "path": path, **_measure(client, path, repeat)}
            )
    started = time.perf_counter()
    call_command("outcomes_rollup", "--all", stdout=sys.stderr)
    print(f"outcomes_rollup --all: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    _timed("painel-outcomes-rollup task (31 days)", "cobranca.dashboard.tasks.outcomes_rollup_task")
    return rows


def _measure(client, path: str, repeat: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cold = None
    if path.startswith("/painel/regua/"):
        # No forecast kept (an idle instance, a new day, a régua just changed): the view runs the planner.
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            client.get(path)
            cold = {"ms": round((time.perf_counter() - started) * 1000, 1), "queries": len(captured)}
        # Then what every view reads while the page is in use: the schedule's forecast, not the view's own.
        cache.clear()
        client.get(path)
        _forget_forecast()
        _timed("painel-regua-forecast task", "cobranca.dashboard.tasks.regua_forecast_task")
    response = client.get(path)  # warm-up: caches, templates, the classifier on the Sistema page
    times, queries = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured.captured_queries))
    return {
        "status": response.status_code,
        "queries": max(queries),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "cold": cold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--data-dir", help="reuse (or keep) the SQLite database in this directory")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="PostgreSQL: keep the database DATABASE_URL names (already loaded)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    env = _prepare(args)
    _common.setup_django(env)
    from django.contrib.auth.models import Group, User

    from cobranca import middleware

    # The request-metrics window flushes to the cache every FLUSH_SECONDS of wall time, inside whichever
    # request comes next: a few queries that belong to no page (held off as in the tests).
    middleware.FLUSH_SECONDS = 10**9
    from django.test import Client as HttpClient

    from cobranca.roles import OPERATORS

    user, _ = User.objects.get_or_create(username="bench-operadora")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)

    rows = []
    measured = [(row["page"], row["path"], row) for row in _painel_before_rollup(client, args.repeat)]
    measured += [(label, path, None) for label, path in _pages()]
    for label, path, before in measured:
        result = before or {"page": label, "path": path, **_measure(client, path, args.repeat)}
        result["ok"] = result["queries"] <= TARGET_QUERIES and result["median_ms"] <= TARGET_MS
        rows.append(result)
        print(
            f"{label:38} {result['status']} {result['queries']:3d} queries {result['median_ms']:8.1f} ms "
            f"(max {result['max_ms']:.1f}){'' if result['ok'] else '  <-- over target'}"
            + (f" cold: {result['cold']['queries']} q {result['cold']['ms']} ms" if result["cold"] else ""),
            file=sys.stderr,
        )
    summary = {
        "machine": _common.describe_machine(_common.db_label(env)),
        "charges": args.charges,
        "conversations": args.conversations,
        "repeat": args.repeat,
        "targets": {"queries": TARGET_QUERIES, "median_ms": TARGET_MS},
        "pages": rows,
    }
    _report(summary, as_json=args.json)


def _report(summary: dict, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print("| Page | Status | Queries | Median ms | Max ms | Target met | First view (cache cold) |")
        print("|---|---|---|---|---|---|---|")
        for row in summary["pages"]:
            cells = [row["page"], row["status"], row["queries"], row["median_ms"], row["max_ms"]]
            cold = f"{row['cold']['queries']} q, {row['cold']['ms']} ms" if row["cold"] else ""
            print(
                "| " + " | ".join(str(c) for c in cells) + f" | {'yes' if row['ok'] else '**no**'} | {cold} |"
            )
        print(f"\n{summary['machine']}")


if __name__ == "__main__":
    main()
