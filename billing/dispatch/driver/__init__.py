"""The campaign driver: claims pending dispatches (one at a time when paced, in batches when not), paced per
WAHA session, and sends them.

One driver task serves one WAHA session ("lane" 0; unpaced campaigns get more lanes). It loops while it has a
budget (well below django-q2's timeout, so the broker never hands the task out again while it runs):

    refresh the session's running campaigns (start due ones; defer those outside their window or over a cap)
    reserve a pace slot (shared per session: database row or Redis)  →  sleep until the slot
    claim one dispatch (conditional UPDATE pending → sending; skip rules and the per-debtor cap decided
        in the same transaction)
    →  resolve the chat id once per client  →  render  →  sendText  →  commit `sent` at once

Unpaced campaigns (delay 0) go in batches instead (`send_batch`): reserve up to UNPACED_BATCH slots, claim
that many dispatches in one transaction (SELECT … FOR UPDATE SKIP LOCKED … LIMIT n, skip rules and per-debtor
cap for the batch, one conditional UPDATE → sending, committed), resolve the missing chat ids with
check-exists outside any transaction (stored with one UPDATE), then send one by one, each committed `sent`
right after its call, and record the batch's conversation messages in a few statements.

A worker killed mid-send therefore leaves at most one row (paced) or one batch (unpaced) in `sending`, which
recovery later marks `unknown` (never resent automatically). Several drivers (tasks re-delivered, two
qcluster processes, the tick) may run at once: a lease in the cache keeps it to one per lane, and even
without it the conditional claim and the shared pace keep every message single and paced.

The package: `state` (tunables, run statistics, the lease, the session's campaigns now), `claim`, `sending`
and `loop` (`dispatch_drive`); its public names are re-exported here.
"""

from .claim import dispatch_claim_batch, dispatch_claim_next
from .loop import dispatch_drive
from .sending import send_batch, send_one
from .state import UNPACED_BATCH, DriveStats, driver_budget, lease_key

__all__ = [
    "UNPACED_BATCH",
    "DriveStats",
    "dispatch_claim_batch",
    "dispatch_claim_next",
    "dispatch_drive",
    "driver_budget",
    "lease_key",
    "send_batch",
    "send_one",
]
