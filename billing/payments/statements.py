"""Bank statements (OFX): reconcile the credits of a statement with the open charges (docs/payments.md,
"Extratos bancários (OFX)").

`statement_import` reads the file twice, streamed (`billing.payments.ofx`): first to check all of it (a
malformed file applies nothing and says which line and field), then in chunks of `CHUNK` lines to
reconcile. Per credit (TRNAMT > 0; debits are counted and left alone):

1. **Which line is it** (re-imports and overlapping exports change nothing): its reference is
   `<account>:<FITID>`. When that reference is already taken (stored earlier or earlier in this file) by a
   line with another fingerprint (date, amount and text: `matching.fingerprint`), the bank reused the FITID
   and the line's reference becomes `<account>:<FITID>:<fingerprint>`. A reference already stored as a
   Payment counts as `already_applied`, as an issue of the queue as `already_queued`.
2. **txid**: a txid of ours (PixCobv) in the NAME or MEMO decides the charge (and installment).
3. Else **amount + payer + date window**: the open charges whose balance, or whose agreement's open
   installment's balance, equals the amount; the payer's CPF/CNPJ or name must match the client's
   (`matching`); the line must be posted between the charge's creation less
   `STATEMENT_MATCH_DAYS_BEFORE_CREATION` and its due date (or its creation, if later) plus
   `STATEMENT_MATCH_DAYS_AFTER_DUE` days (the installment's due date for an installment). One candidate is
   applied (`apply_payment`); several go to the queue as AMBIGUOUS with the candidates; none as UNMATCHED
   with the charges of that amount as suggestions. A charge (installment) settled by a line of this import
   is no candidate for the next ones.

`--dry-run` (and the dashboard's preview) does the same reading and matching and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from loguru import logger

from billing.models import Payment, PaymentIssue
from billing.payments import candidates as cands
from billing.payments.apply import (
    PaymentFacts,
    apply_payment,
    payments_applied_batched,
    payments_applied_flush,
)
from billing.payments.matching import LineIdentity, fingerprint, line_identity
from billing.payments.ofx import OfxError, OfxTransaction, read_transactions
from cobranca import clock
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

__all__ = ["StatementSummary", "statement_import"]

CHUNK = 500
# A credit dated later than now by more than this (bank/server clock skew) is refused, not applied.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
ISSUE_PREFIX = "statement:"


@dataclass
class StatementSummary:
    file: str = ""
    dry_run: bool = False
    accounts: list[str] = field(default_factory=list)
    lines: int = 0
    credits: int = 0
    debits: int = 0
    matched: int = 0
    matched_by_txid: int = 0
    partial: int = 0
    overpaid: int = 0
    ambiguous: int = 0
    unmatched: int = 0
    already_applied: int = 0
    already_queued: int = 0
    amount_matched: Decimal = Decimal("0")
    # Lines not applied, one entry each: {"line", "fitid", "posted", "amount", "reason"} (pt-BR reason).
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["amount_matched"] = str(self.amount_matched)
        return data


@dataclass
class _Line:
    tx: OfxTransaction
    fp: str
    identity: LineIdentity
    reference: str = ""


def statement_import(
    *,
    path: str | Path,
    filename: str = "",
    dry_run: bool = False,
    by=None,
    progress: Callable[[int, int], None] | None = None,
) -> StatementSummary:
    """Reconcile one OFX statement (see the module docstring). Safe to run again on the same or an
    overlapping statement. Raises ApplicationError for a file that is not a readable OFX statement.
    `progress(lines_done, lines_total)` is called after the check and after each chunk (the dashboard's
    worker shows it)."""
    summary = StatementSummary(file=filename or Path(path).name, dry_run=dry_run)
    try:
        for tx in _transactions(path):  # pass 1: the whole file must read before anything is written
            summary.lines += 1
            if tx.account not in summary.accounts:
                summary.accounts.append(tx.account)
    except OfxError as exc:
        raise ApplicationError(
            f"Extrato OFX inválido: {exc}", {"line": exc.line, "field": exc.field, "detail": exc.detail}
        ) from exc
    total, summary.lines = summary.lines, 0
    report = progress or (lambda done, total: None)
    report(0, total)
    run = _Run(summary, by=by)
    with _connection_kept(), payments_applied_batched():
        for chunk in _chunks(_transactions(path), CHUNK):
            run.chunk(chunk)
            payments_applied_flush()  # the chunk's thank-you tasks, one commit
            report(summary.lines, total)
    if not dry_run:
        audit_record(action="statement.import", actor=by, target_type="statement", details=summary.as_dict())
    logger.info("statement.import {}", summary.as_dict())
    return summary


@contextmanager
def _connection_kept() -> Iterator[None]:
    """Keep the database connection for the whole import. django-q's ORM broker closes "old" connections
    before every enqueue outside a transaction: with SQLite's CONN_MAX_AGE=0 that was a close (a WAL
    checkpoint) and a reconnect per payment when each thank-you was enqueued alone, most of the import's time
    (they are now enqueued per chunk, in a transaction; a receiver may still enqueue outside one). The
    connection is still closed as usual after the import (request end, command end)."""
    connection.ensure_connection()
    close_at, connection.close_at = connection.close_at, None
    try:
        yield
    finally:
        connection.close_at = close_at


def _transactions(path: str | Path) -> Iterator[OfxTransaction]:
    with open(path, "rb") as fh:
        yield from read_transactions(fh, default_tz=settings.TIME_ZONE)


def _chunks(items: Iterator[OfxTransaction], size: int) -> Iterator[list[OfxTransaction]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


class _Run:
    """One import: the chunks share what earlier lines of this file claimed and settled."""

    def __init__(self, summary: StatementSummary, *, by) -> None:
        self.summary = summary
        self.by = by
        self.dry_run = summary.dry_run
        # Plain references claimed in this file → fingerprint. A real run stores each chunk before the next
        # is read, so it keeps only the current chunk's; a dry run stores nothing and keeps them all.
        self.claimed: dict[str, str] = {}
        self.settled: set[tuple[int, int | None]] = set()
        self.window = cands.Window(
            before=dt.timedelta(days=settings.STATEMENT_MATCH_DAYS_BEFORE_CREATION),
            after=dt.timedelta(days=settings.STATEMENT_MATCH_DAYS_AFTER_DUE),
        )

    def chunk(self, chunk: list[OfxTransaction]) -> None:
        self.summary.lines += len(chunk)
        lines = []
        latest = clock.now() + FUTURE_TOLERANCE
        for tx in chunk:
            if tx.amount <= 0:
                self.summary.debits += 1
                continue
            if tx.posted > latest:
                self._refuse(tx, f"data no futuro ({timezone.localtime(tx.posted):%d/%m/%Y %H:%M})")
                continue
            ident = line_identity(tx.name, tx.memo)
            fp = fingerprint(
                posted_date=tx.posted.date().isoformat(), amount=tx.amount, memo=tx.memo, name=tx.name
            )
            lines.append(_Line(tx, fp, ident))
        self.summary.credits += len(lines)
        if not self.dry_run:
            self.claimed.clear()
        # No transaction around the chunk: SQLite has one writer, and a chunk's payments would hold it for
        # seconds. Each payment commits alone (apply_payment is idempotent by the line's reference, so a line
        # another process applied meanwhile comes back "already_applied"); the chunk's issues are one INSERT.
        fresh = self._identify(lines)
        index = cands.CandidateIndex.load(lines=[ln.tx for ln in fresh], idents=[ln.identity for ln in fresh])
        issues = [issue for line in fresh if (issue := self._reconcile(line, index)) is not None]
        if issues and not self.dry_run:
            PaymentIssue.objects.bulk_create(issues, ignore_conflicts=True)

    def _refuse(self, tx: OfxTransaction, reason: str) -> None:
        """A line that must not be applied: reported per line in the summary; nothing stored, so importing
        the statement again (once the line's date has come) applies it."""
        self.summary.refused.append(
            {
                "line": tx.line,
                "fitid": tx.fitid,
                "posted": tx.posted.isoformat(),
                "amount": str(tx.amount),
                "reason": reason,
            }
        )
        logger.warning("statement.line_refused fitid={} line={} reason={}", tx.fitid, tx.line, reason)

    # --- 1. which line is it ----------------------------------------------------------------------------

    def _identify(self, lines: list[_Line]) -> list[_Line]:
        """Give each line its reference; count and drop the lines seen before (stored, or earlier in this
        file)."""
        bases = {f"{ln.tx.account}:{ln.tx.fitid}": ln for ln in lines}
        wanted = set(bases) | {f"{ln.tx.account}:{ln.tx.fitid}:{ln.fp}" for ln in lines}
        applied = dict(
            Payment.objects.filter(source=Payment.Source.STATEMENT, reference__in=wanted).values_list(
                "reference", "raw__fingerprint"
            )
        )
        issue_keys = [ISSUE_PREFIX + r for r in wanted]
        queued = {
            key.removeprefix(ISSUE_PREFIX): fp
            for key, fp in PaymentIssue.objects.filter(key__in=issue_keys).values_list(
                "key", "details__fingerprint"
            )
        }
        fresh = []
        for line in lines:
            base = f"{line.tx.account}:{line.tx.fitid}"
            owner = next((src[base] for src in (self.claimed, applied, queued) if base in src), None)
            reference = base if owner in (None, line.fp) else f"{base}:{line.fp}"
            if reference in self.claimed or reference in applied:
                self.summary.already_applied += 1
            elif reference in queued:
                self.summary.already_queued += 1
            else:
                self.claimed[reference] = line.fp
                line.reference = reference
                fresh.append(line)
        return fresh

    # --- 2-3. which charge ------------------------------------------------------------------------------

    def _reconcile(self, line: _Line, index: cands.CandidateIndex) -> PaymentIssue | None:
        tx, ident = line.tx, line.identity
        by_txid = index.by_txid(ident)
        if by_txid is not None:
            self.summary.matched_by_txid += 1
            self._apply(line, by_txid)
            return None
        found, suggestions = index.candidates(tx, ident, self.window, exclude=self.settled)
        if len(found) == 1:
            self._apply(line, found[0])
            return None
        kind = PaymentIssue.Kind.AMBIGUOUS if found else PaymentIssue.Kind.UNMATCHED
        if found:
            self.summary.ambiguous += 1
        else:
            self.summary.unmatched += 1
        if self.dry_run:
            return None
        shown = found or suggestions
        return PaymentIssue(
            kind=kind,
            key=ISSUE_PREFIX + line.reference,
            amount=tx.amount,
            charge_id=found[0].charge_id if len(found) == 1 else None,
            details={
                "source": "statement",
                "file": self.summary.file,
                "line": tx.line,
                "fingerprint": line.fp,
                "facts": _facts_json(line),
                "candidates": [c.as_json() for c in shown[:10]],
                "candidates_total": len(shown),
                "suggestions": not found,
            },
        )

    def _apply(self, line: _Line, candidate: cands.Candidate) -> None:
        self.settled.add(candidate.key)
        self.summary.matched += 1
        self.summary.amount_matched += line.tx.amount
        if self.dry_run:
            return
        facts = facts_from_json(_facts_json(line))
        outcome = apply_payment(
            charge_id=candidate.charge_id, facts=facts, installment_id=candidate.installment_id
        )
        if outcome.status == "already_applied":
            self.summary.matched -= 1
            self.summary.amount_matched -= line.tx.amount
            self.summary.already_applied += 1
        elif outcome.status == "partial":
            self.summary.partial += 1
        elif outcome.status in ("overpaid", "not_payable"):
            self.summary.overpaid += 1


def _facts_json(line: _Line) -> dict[str, Any]:
    """Everything needed to apply the line later (the queue's "apply to this charge"), as JSON."""
    tx, ident = line.tx, line.identity
    return {
        "amount": str(tx.amount),
        "paid_at": tx.posted.isoformat(),
        "reference": line.reference,
        "account": tx.account,
        "fitid": tx.fitid,
        "fingerprint": line.fp,
        "trntype": tx.trntype,
        "name": tx.name,
        "memo": tx.memo,
        "payer_name": ident.payer_name,
        "payer_document": ident.full_document,
        "txid": ident.txids[0] if ident.txids else "",
    }


def facts_from_json(data: dict[str, Any], *, by=None, txid: str | None = None) -> PaymentFacts:
    """The PaymentFacts of a statement line kept as `_facts_json` (in an issue's details)."""
    paid_at = dt.datetime.fromisoformat(data["paid_at"])
    if timezone.is_naive(paid_at):
        paid_at = timezone.make_aware(paid_at)
    raw = {k: data.get(k, "") for k in ("account", "fitid", "fingerprint", "trntype", "name", "memo")}
    return PaymentFacts(
        amount=Decimal(data["amount"]),
        paid_at=paid_at,
        source=Payment.Source.STATEMENT,
        reference=data["reference"],
        txid=data.get("txid", "") if txid is None else txid,
        payer_name=data.get("payer_name", ""),
        payer_document=data.get("payer_document", ""),
        raw=raw,
        by=by,
    )
