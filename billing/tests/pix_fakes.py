"""A PSP stand-in at the client seam (`get_pix_client`) for unit tests: records calls, answers like the spec,
fails on demand. The real PSP simulator (billing.pix_api.simulator) is for the integration tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.pix_api import PixApiError, PixNotFound

E2E_PREFIX = "E12345678" + "202612071200"


def e2eid(n: int) -> str:
    return f"{E2E_PREFIX}{n:011d}"


class FakePsp:
    def __init__(self) -> None:
        self.cobvs: dict[str, dict] = {}
        self.pix: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures: list[PixApiError] = []  # raised, one per call, before anything else
        self.webhooks: dict[str, str] = {}

    def _maybe_fail(self, name: str, key: str) -> None:
        self.calls.append((name, key))
        if self.failures:
            raise self.failures.pop(0)

    def _answer(self, txid: str) -> dict:
        body = self.cobvs[txid]
        return {
            **body,
            "txid": txid,
            "status": "ATIVA",
            "revisao": body.get("revisao", 0),
            "location": f"psp.example/qr/v2/cobv/{txid}",
            "pixCopiaECola": f"00020101PIXCOBV-{txid}-R{body.get('revisao', 0)}-{body['valor']['original']}",
        }

    def put_cobv(self, txid: str, body: dict) -> dict:
        self._maybe_fail("put_cobv", txid)
        if txid in self.cobvs:
            raise PixApiError("invalid_request", "cobrança já existe", permanent=True, status=400)
        self.cobvs[txid] = {**body, "revisao": 0}
        return self._answer(txid)

    def patch_cobv(self, txid: str, body: dict) -> dict:
        self._maybe_fail("patch_cobv", txid)
        if txid not in self.cobvs:
            raise PixNotFound()
        current = self.cobvs[txid]
        self.cobvs[txid] = {**current, **body, "revisao": current["revisao"] + 1}
        return self._answer(txid)

    def get_cobv(self, txid: str) -> dict:
        self._maybe_fail("get_cobv", txid)
        if txid not in self.cobvs:
            raise PixNotFound()
        return self._answer(txid)

    def pay(self, txid: str, valor: str, n: int, *, when: dt.datetime | None = None) -> dict:
        """A Pix arrives at the PSP (no call recorded): returns the webhook item."""
        item = {
            "endToEndId": e2eid(n),
            "txid": txid,
            "valor": f"{Decimal(valor):.2f}",
            "horario": (when or dt.datetime.now(dt.UTC)).isoformat().replace("+00:00", "Z"),
            "chave": "pix@cobranca.example",
        }
        self.pix[item["endToEndId"]] = item
        return item

    def get_pix(self, e2eid: str) -> dict:
        self._maybe_fail("get_pix", e2eid)
        if e2eid not in self.pix:
            raise PixNotFound()
        return dict(self.pix[e2eid])

    def list_pix(self, inicio: dt.datetime, fim: dt.datetime):
        self._maybe_fail("list_pix", f"{inicio.isoformat()}..{fim.isoformat()}")
        yield from (dict(p) for p in self.pix.values())

    def put_webhook(self, chave: str, url: str) -> None:
        self._maybe_fail("put_webhook", chave)
        self.webhooks[chave] = url


def transient(reason: str = "server_error") -> PixApiError:
    return PixApiError(
        reason, "falha simulada", permanent=False, status=503 if reason == "server_error" else None
    )
