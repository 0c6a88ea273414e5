"""The operator's side of the simulated PSP: make a payment happen, forge one, deliver webhooks.

A payment is stored first (so ``GET /pix/{e2eid}`` confirms it) and then notified, as a real PSP does.
Delivery is synchronous: ``POST /_sim/pay`` answers with what the webhook endpoint answered, so a test or a
curl user sees at once whether the notification got through.
"""

from __future__ import annotations

import json
import secrets
import string
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from .state import ALNUM, Problem, PspState, e2eid, half, money


def _bad(detail: str) -> Problem:
    return Problem(400, "RequisicaoInvalida", "Requisição inválida.", detail)


def deliver(state: PspState, url: str, pix: list[dict[str, Any]]) -> dict[str, Any]:
    """POST ``{"pix": [...]}`` to ``url + "/pix"`` (the spec: the PSP appends /pix); record the outcome."""
    target = url.rstrip("/") + "/pix"
    body = json.dumps({"pix": pix}).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the URL was registered through PUT /webhook (http/https)
        target, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    outcome: dict[str, Any] = {"url": target, "endToEndIds": [p["endToEndId"] for p in pix]}
    try:
        with urllib.request.urlopen(request, timeout=state.options.webhook_timeout) as response:  # noqa: S310
            outcome["status"] = response.status
    except urllib.error.HTTPError as exc:
        outcome["status"] = exc.code
    except (urllib.error.URLError, OSError) as exc:
        outcome["status"] = None
        outcome["error"] = type(getattr(exc, "reason", exc)).__name__
    with state.lock:
        state.deliveries.append({**outcome, "body": {"pix": pix}})
    return outcome


def pay(state: PspState, body: dict[str, Any]) -> dict[str, Any]:
    """``{"txid", "valor"?, "times"?, "partial"?, "infoPagador"?}``: one Pix, notified ``times`` times."""
    txid = body.get("txid")
    if not isinstance(txid, str) or not txid:
        raise _bad("txid é obrigatório")
    due = state.amount_due(txid)
    removed = state.cobv_status(txid) == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    if removed:  # the payer's bank finds no payable charge behind the code: no Pix is made
        raise Problem(
            422, "CobVOperacaoInvalida", "Operação inválida.", f"cobv {txid} foi removida pelo recebedor"
        )
    if body.get("valor") is not None:
        valor = money(str(body["valor"]), "valor")
    elif due is None:
        raise Problem(404, "NaoEncontrado", "Não Encontrado", f"cobv {txid} não existe: informe valor")
    else:
        valor = half(due) if body.get("partial") else due
    times = int(body.get("times", 1))
    if not 0 <= times <= 10:
        raise _bad("times deve estar entre 0 e 10")
    pix = state.record_pix(txid=txid, valor=valor, info=str(body.get("infoPagador") or ""))
    url = state.webhook_url_for(state.chave_of(txid))
    deliveries = [deliver(state, url, [pix]) for _ in range(times)] if url else []
    return {"pix": pix, "deliveries": deliveries, "webhook": url}


def notify_forged(state: PspState, body: dict[str, Any]) -> dict[str, Any]:
    """Notify a Pix the PSP never received (GET /pix/{e2eid} answers 404): what a forger would post."""
    url = body.get("webhookUrl") or state.webhook_url_for(body.get("chave"))
    if not url:
        raise _bad("nenhum webhook registrado (PUT /v2/webhook/{chave}) e nenhum webhookUrl informado")
    txid = body.get("txid") or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(30)
    )
    when = datetime.now(UTC)
    forged = {
        "endToEndId": body.get("endToEndId") or e2eid(state.options.payer_ispb, when),
        "txid": txid,
        "valor": f"{money(str(body.get('valor', '1.00')), 'valor'):.2f}",
        "horario": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if len(forged["endToEndId"]) != 32 or any(c not in ALNUM for c in forged["endToEndId"]):
        raise _bad("endToEndId deve ter 32 caracteres alfanuméricos")
    return {"pix": forged, "deliveries": [deliver(state, url, [forged])]}


def snapshot(state: PspState) -> dict[str, Any]:
    """``GET /_sim/state``: what the PSP holds, for tests and for an operator's curl."""
    with state.lock:
        return {
            "cobv": {txid: state._public(record) for txid, record in state.cobvs.items()},
            "pix": list(state.pix.values()),
            "webhooks": list(state.webhooks.values()),
            "deliveries": list(state.deliveries),
            "faults": state.faults.as_dict(),
            "tokens_issued": state.tokens_issued,
            "tokens_live": len(state.tokens),
            "unauthorized": state.unauthorized,
            "requests": list(state.requests[-200:]),
        }
