"""Sistema (/painel/sistema/): a health check per component and the queue numbers; and today's sends per
session against the daily cap (JSON for the WhatsApp page)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.status import Stat

from chatbot.classification import active_classifier
from chatbot.selectors import active_model_version
from cobranca.alerts import alerts_active
from cobranca.dashboard import selectors
from cobranca.roles import operator_required
from whatsapp import client as waha_api


def _check(fn: Callable[[], tuple[bool, str]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a health page reports failures, it does not raise them
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000)}


def _check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, f"{connection.vendor} respondendo"


def _check_worker() -> tuple[bool, str]:
    stats = [s for s in Stat.get_all() if s]
    if not stats:
        return False, "Nenhum worker (qcluster) ativo nos últimos segundos"
    workers = sum(len(getattr(s, "workers", []) or []) for s in stats)
    states = ", ".join(sorted({str(getattr(s, "status", "?")) for s in stats}))
    return True, f"{len(stats)} cluster(s), {workers} worker(s): {states}"


def _check_waha() -> tuple[bool, str]:
    ok = waha_api.get_client().ping()
    return ok, ("WAHA respondeu ao ping" if ok else f"Sem resposta de {settings.WAHA_BASE_URL}")


def _f1(value: Any) -> str:
    return f", F1 macro {value:.3f}" if isinstance(value, (int, float)) else ""


def _check_model() -> tuple[bool, str]:
    """The model the bot answers with (chatbot.classification.active_classifier: the active ModelVersion, else
    the configured/shipped weights), asked one sample question. A fresh install has no trained version and is
    fine: the shipped model answers."""
    version = active_model_version()
    classifier = active_classifier()
    prediction = classifier.predict("quero pagar o boleto")
    answered = f"; respondeu “{prediction.raw_intent or prediction.intent}” ({prediction.confidence:.0%})"
    path = getattr(classifier, "path", None)
    backend = getattr(classifier, "backend", "?")
    if version is not None and path is not None and Path(version.path).resolve() == Path(path).resolve():
        return True, f"{version.version} ({version.backend}){_f1(version.macro_f1)}{answered}"
    metrics = (getattr(classifier, "metadata", None) or {}).get("metrics") or {}
    shipped = f"modelo embarcado {path.name if path else ''} ({backend}){_f1(metrics.get('macro_f1'))}"
    if version is not None:
        return True, f"Versão ativa {version.version} inutilizável; em uso o {shipped}{answered}"
    return True, f"Sem versão treinada ativa: em uso o {shipped}{answered}"


@operator_required
@require_GET
@never_cache
def sistema(request: HttpRequest) -> HttpResponse:
    checks = [
        ("Banco de dados", "fa-database", _check(_check_database)),
        ("Worker (django-q2)", "fa-gears", _check(_check_worker)),
        ("WAHA (WhatsApp)", "fa-brands fa-whatsapp", _check(_check_waha)),
        ("Modelo do assistente", "fa-robot", _check(_check_model)),
    ]
    return render(
        request,
        "dashboard/sistema.html",
        {
            "checks": checks,
            "alerts": alerts_active(),
            "queue": selectors.queue_numbers(),
            "nav": "sistema",
            "now": timezone.now(),
        },
    )


@operator_required
@require_GET
@never_cache
def sends_today(request: HttpRequest) -> JsonResponse:
    """Today's sends per WAHA session against its daily cap, for static/js/whatsapp_cap.js."""
    return JsonResponse({"sessions": selectors.sends_today()})
