"""Bank statement benchmark: reconciling an OFX statement of 50,000 transactions (about 400,000 text lines) on
the embedded default (SQLite), against the charges of a busy creditor.

    .venv/bin/python bench/bench_statement.py [--transactions 50000] [--charges 20000] [--repeat 3]

Builds a throwaway SQLite database (migrated, then filled with bulk_create): `--charges` open charges over as
many debtors (names, CPFs), a Pix cobv for one in ten. Writes one SGML OFX 1.x statement in cp1252 (no closing
tags on elements, comma amounts, `[-3:BRT]` dates) with `--transactions` lines: 10 % debits; of the credits
8 % name our txid, 12 % are a debtor's payment by name and masked CPF, 2 % fit two homonyms (ambiguous), the
rest are nobody's (unmatched). Then, each `--repeat` times on a fresh copy of the database:

- baseline: ofxtools' own whole-document parse of the same file (`OFXTree.parse` + `convert`; the file is
  written so that it accepts it), and our streamed reader alone (`read_transactions`);
- `import_statement --dry-run` and the real import (`statement_import`), and the same import again (every
  line already seen);

and prints the medians, the ratios to the baselines and the peak Python memory in KB (tracemalloc, in a
separate pass at the full size and at a tenth of it: flat memory means the two peaks are close).
Target (issue #15): ≤ 20 s for the real import, memory flat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import describe_machine

FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elisa",
    "Fábio",
    "Gisele",
    "Heitor",
    "Iara",
    "João",
    "Luíza",
    "Márcio",
]
LAST = [
    "Silva",
    "Souza",
    "Conceição",
    "Gonçalves",
    "Araújo",
    "Pereira",
    "Lima",
    "Ribeiro",
    "Câmara",
    "Teixeira",
]
HEADER = (
    "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\n"
    "COMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n<OFX>\r\n<SIGNONMSGSRSV1>\r\n<SONRS>\r\n"
    "<STATUS>\r\n<CODE>0\r\n<SEVERITY>INFO\r\n</STATUS>\r\n<DTSERVER>20261206120000[-3:BRT]\r\n<LANGUAGE>POR\r\n"
    "</SONRS>\r\n</SIGNONMSGSRSV1>\r\n<BANKMSGSRSV1>\r\n<STMTTRNRS>\r\n<TRNUID>1\r\n<STATUS>\r\n<CODE>0\r\n"
    "<SEVERITY>INFO\r\n</STATUS>\r\n<STMTRS>\r\n<CURDEF>BRL\r\n<BANKACCTFROM>\r\n<BANKID>0999\r\n"
    "<BRANCHID>0042\r\n<ACCTID>12345-6\r\n<ACCTTYPE>CHECKING\r\n</BANKACCTFROM>\r\n<BANKTRANLIST>\r\n"
    "<DTSTART>20261101000000[-3:BRT]\r\n<DTEND>20261206235959[-3:BRT]\r\n"
)
FOOTER = (
    "</BANKTRANLIST>\r\n<LEDGERBAL>\r\n<BALAMT>1000,00\r\n<DTASOF>20261206235959[-3:BRT]\r\n</LEDGERBAL>\r\n"
    "</STMTRS>\r\n</STMTTRNRS>\r\n</BANKMSGSRSV1>\r\n</OFX>\r\n"
)


def _cpf(n: int) -> str:
    base = [int(d) for d in f"{n:09d}"]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(base, range(size + 1, 1, -1), strict=True))
        base.append((total * 10 % 11) % 10)
    return "".join(map(str, base))


def build(charges: int, seed: int = 15) -> list[dict]:
    """The debtors and charges; returns what the statement's lines are written from."""
    from django.utils import timezone

    from billing.models import Charge, Client, PixCobv
    from billing.suppression import phone_hash

    rng = random.Random(seed)
    created = timezone.make_aware(dt.datetime(2026, 10, 1))
    people = []
    for i in range(charges):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)} {i}"
        people.append(
            {"name": name, "cpf": _cpf(200_000_000 + i), "amount": Decimal(rng.randint(3000, 90000)) / 100}
        )
    Client.objects.bulk_create(
        Client(
            name=p["name"], phone=f"+55119{i:08d}", phone_hash=phone_hash(f"+55119{i:08d}"), document=p["cpf"]
        )
        for i, p in enumerate(people)
    )
    clients = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    Charge.objects.bulk_create(
        Charge(client_id=c, amount=p["amount"], due_date=dt.date(2026, 11, 10), external_id=f"B-{i}")
        for i, (c, p) in enumerate(zip(clients, people, strict=True))
    )
    Charge.objects.update(created_at=created)
    ids = list(Charge.objects.order_by("pk").values_list("pk", flat=True))
    cobvs = []
    for i, (charge_id, p) in enumerate(zip(ids, people, strict=True)):
        p["charge"] = charge_id
        if i % 10 == 0:
            p["txid"] = f"bench{i:08d}x{rng.getrandbits(64):016x}"
            cobvs.append(
                PixCobv(
                    charge_id=charge_id,
                    txid=p["txid"],
                    amount=p["amount"],
                    due_date=dt.date(2026, 11, 10),
                    version_key="v1",
                )
            )
    PixCobv.objects.bulk_create(cobvs)
    return people


def _masked(cpf: str) -> str:
    return f"***.{cpf[3:6]}.{cpf[6:9]}-**"


def write_statement(path: Path, people: list[dict], transactions: int, seed: int = 16) -> dict:
    """One SGML statement, in file order; returns how many lines of each kind it has."""
    rng = random.Random(seed)
    with_txid = [p for p in people if "txid" in p]
    by_name = [p for p in people if "txid" not in p]
    rng.shuffle(with_txid)
    rng.shuffle(by_name)
    kinds = {"debit": 0, "txid": 0, "name": 0, "homonym": 0, "nobody": 0}
    with path.open("w", encoding="cp1252", newline="") as fh:
        fh.write(HEADER)
        for n in range(transactions):
            roll = rng.random()
            day = dt.date(2026, 11, 1) + dt.timedelta(days=n * 35 // transactions)
            when = f"{day:%Y%m%d}{rng.randint(8, 20):02d}{rng.randint(0, 59):02d}00[-3:BRT]"
            if roll < 0.10:
                kind, amount, memo = (
                    "debit",
                    -Decimal(rng.randint(100, 9000)) / 100,
                    "TARIFA PACOTE DE SERVIÇOS",
                )
            elif roll < 0.172 and with_txid:
                p = with_txid.pop()
                kind, amount, memo = "txid", p["amount"], f"PIX QR CODE TXID {p['txid']}"
            elif roll < 0.28 and by_name:
                p = by_name.pop()
                kind, amount, memo = (
                    "name",
                    p["amount"],
                    f"PIX RECEBIDO {p['name'].rsplit(' ', 1)[0].upper()} {_masked(p['cpf'])}",
                )
            elif roll < 0.298:
                kind, amount, memo = "homonym", Decimal("99.99"), "PIX RECEBIDO PAULO HOMONIMO"
            else:
                kind, amount, memo = (
                    "nobody",
                    Decimal(rng.randint(100, 500000)) / 100,
                    f"PIX RECEBIDO LOJA {n} LTDA",
                )
            kinds[kind] += 1
            fh.write(
                f"<STMTTRN>\r\n<TRNTYPE>{'DEBIT' if amount < 0 else 'CREDIT'}\r\n<DTPOSTED>{when}\r\n"
                f"<TRNAMT>{str(amount).replace('.', ',')}\r\n<FITID>{day:%Y%m%d}{n:07d}\r\n"
                f"<MEMO>{memo}\r\n</STMTTRN>\r\n"
            )
        fh.write(FOOTER)
    return kinds


def add_homonyms() -> None:
    from billing.models import Charge, Client

    for k in (1, 2):
        client = Client.objects.create(
            name=f"Paulo Homonimo {'Filho' if k == 2 else ''}".strip(), phone=f"+5521999{k:06d}"
        )
        Charge.objects.create(client=client, amount=Decimal("99.99"), due_date=dt.date(2026, 11, 10))
    Charge.objects.update(created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def ofxtools_whole(path: Path) -> int:
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    tree.parse(str(path))
    return len(tree.convert().statements[0].banktranlist)


def streamed(path: Path) -> int:
    from billing.payments.ofx import read_transactions

    with path.open("rb") as fh:
        return sum(1 for _ in read_transactions(fh))


def peak_kb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round(peak / 1e3)


# long-function: the measuring sequence, in order, reads better whole
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=50_000)
    parser.add_argument("--charges", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-statement-"))
    db = workdir / "bench.db"
    env = _common.server_env(
        workdir,
        DATABASE_URL=f"sqlite:///{db}",
        WAHA_WEBHOOK_HMAC_KEY="bench-hmac-" + "k" * 32,
        WAHA_BASE_URL="http://127.0.0.1:9",
        REDIS_URL="",
    )
    _common.prepare_database(env)
    _common.setup_django(env)
    import logging

    from django.db import connection

    from billing.payments.statements import statement_import

    logging.disable(logging.INFO)  # loguru's per-payment info line is not what is measured
    people = build(args.charges)
    add_homonyms()
    statement = workdir / "extrato.ofx"
    kinds = write_statement(statement, people, args.transactions)
    small = workdir / "extrato-decimo.ofx"
    write_statement(small, people, args.transactions // 10)
    connection.close()
    template = workdir / "template.db"
    shutil.copy(db, template)

    runs: dict[str, list[float]] = {
        k: [] for k in ("ofxtools_whole", "streamed_read", "dry_run", "import", "reimport")
    }
    summary = again = None
    for _ in range(args.repeat):
        connection.close()
        shutil.copy(template, db)
        for leftover in (workdir / "bench.db-wal", workdir / "bench.db-shm"):
            leftover.unlink(missing_ok=True)
        runs["ofxtools_whole"].append(timed(lambda: ofxtools_whole(statement))[0])
        runs["streamed_read"].append(timed(lambda: streamed(statement))[0])
        runs["dry_run"].append(timed(lambda: statement_import(path=statement, dry_run=True))[0])
        seconds, summary = timed(lambda: statement_import(path=statement))
        runs["import"].append(seconds)
        seconds, again = timed(lambda: statement_import(path=statement))
        runs["reimport"].append(seconds)
    medians = {k: round(_common.median(v), 2) for k, v in runs.items()}
    memory = {
        "streamed_read_peak_kb": {
            "tenth": peak_kb(lambda: streamed(small)),
            "full": peak_kb(lambda: streamed(statement)),
        },
        "dry_run_peak_kb": {
            "tenth": peak_kb(lambda: statement_import(path=small, dry_run=True)),
            "full": peak_kb(lambda: statement_import(path=statement, dry_run=True)),
        },
        "ofxtools_whole_peak_kb": {
            "tenth": peak_kb(lambda: ofxtools_whole(small)),
            "full": peak_kb(lambda: ofxtools_whole(statement)),
        },
    }
    lines = statement.read_bytes().count(b"\n")
    print(
        json.dumps(
            {
                "machine": describe_machine("SQLite"),
                "transactions": args.transactions,
                "text_lines": lines,
                "file_mb": round(statement.stat().st_size / 1e6, 1),
                "charges": args.charges,
                "kinds": kinds,
                "repeat": args.repeat,
                "median_seconds": medians,
                "x_ofxtools_whole": {k: round(v / medians["ofxtools_whole"], 2) for k, v in medians.items()},
                "x_streamed_read": {k: round(v / medians["streamed_read"], 2) for k, v in medians.items()},
                "import_summary": summary.as_dict() if summary else None,
                "reimport_summary": again.as_dict() if again else None,
                "memory": memory,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
