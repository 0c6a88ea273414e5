"""Retiring Pix charges (cobv) that must no longer be paid (#15): a charge paid or cancelled other than by its
cobv (an operator's "Confirmar pagamento", a statement line, a receipt, a cancel), and an old version that a
new one superseded. Each is removed at the PSP (`PATCH /cobv/{txid}` with `status:
REMOVIDA_PELO_USUARIO_RECEBEDOR`, API Pix 2.9) and its row becomes `removed`, so the debtor cannot pay twice.

It runs in a worker after the change commits (`cobvs_retire_on_commit`), and again in every
"payments-lifecycle" run: a cobv the PSP could not be reached for (timeout, 5xx, 429, connection) stays
`active` and is retried there. A permanent refusal (already paid or removed at the PSP, unknown txid)
retires the row too: the PSP will not take a Pix for it.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from loguru import logger

from billing.models import Charge, Installment, PixCobv
from billing.pix_api import PixApiError, get_pix_client
from cobranca.tasks import enqueue_on_commit

REMOVED_BY_US = {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}
BATCH = 200
# The PSP's refusals that mean the cobv cannot be paid anyway (already paid or removed, unknown txid); a 401
# or 403 says our credentials are wrong, not that the cobv is gone: kept active and retried.
GONE_REASONS = ("invalid_request", "not_found")


def _api_pix() -> bool:
    return settings.PIX_PROVIDER == "api_pix"


def cobvs_to_remove() -> QuerySet[PixCobv]:
    """Active cobvs of a charge (or installment) paid or cancelled, and active ones a newer version of the
    same charge and installment superseded. An installment paid another way is found by the hourly run."""
    newer = PixCobv.objects.filter(
        charge=OuterRef("charge"), installment=OuterRef("installment"), pk__gt=OuterRef("pk")
    ).exclude(status=PixCobv.Status.REMOVED)
    newer_charge_level = PixCobv.objects.filter(
        charge=OuterRef("charge"), installment__isnull=True, pk__gt=OuterRef("pk")
    ).exclude(status=PixCobv.Status.REMOVED)
    superseded = Q(installment__isnull=False, has_newer=True) | Q(installment__isnull=True, has_newer_cl=True)
    return (
        PixCobv.objects.filter(status=PixCobv.Status.ACTIVE)
        .annotate(has_newer=Exists(newer), has_newer_cl=Exists(newer_charge_level))
        .filter(
            Q(charge__status__in=(Charge.Status.PAID, Charge.Status.CANCELLED))
            | Q(installment__status__in=(Installment.Status.PAID, Installment.Status.CANCELLED))
            | superseded
        )
        .order_by("pk")
    )


def cobvs_retire_on_commit(charge: Charge) -> None:
    """After the transaction commits, remove the charge's active cobvs at the PSP (api_pix only; no query
    otherwise)."""
    if _api_pix() and PixCobv.objects.filter(charge=charge, status=PixCobv.Status.ACTIVE).exists():
        enqueue_on_commit("billing.payments.pix_removal.cobvs_remove_task")


def cobvs_remove(*, limit: int = BATCH) -> dict[str, int]:
    """Remove what `cobvs_to_remove` finds at the PSP. Returns counts: removed, refused (permanent: retired
    too), retry (transient: left active for the next run)."""
    counts = {"removed": 0, "refused": 0, "retry": 0}
    if not _api_pix():
        return counts
    client = get_pix_client()
    for cobv in list(cobvs_to_remove()[:limit]):
        try:
            client.patch_cobv(cobv.txid, REMOVED_BY_US)
        except PixApiError as exc:
            if not exc.permanent or exc.reason not in GONE_REASONS:  # unreachable, or our credentials
                counts["retry"] += 1
                logger.warning("pix.cobv_remove_retry txid={} reason={}", cobv.txid, exc.reason)
                continue
            counts["refused"] += 1
            logger.info("pix.cobv_remove_refused txid={} reason={}", cobv.txid, exc.reason)
        else:
            counts["removed"] += 1
            logger.info("pix.cobv_removed charge={} txid={}", cobv.charge_id, cobv.txid)
        PixCobv.objects.filter(pk=cobv.pk, status=PixCobv.Status.ACTIVE).update(status=PixCobv.Status.REMOVED)
    return counts


def cobvs_remove_task() -> dict[str, int]:
    return cobvs_remove()
