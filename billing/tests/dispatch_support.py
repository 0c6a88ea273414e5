"""Shared helpers for the dispatch tests: a fake WAHA client at the driver's seam, stubs for sibling modules.

Not a test module (no test_ prefix): pytest does not collect it; the dispatch tests import it.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import time
import types
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.tests.factories import ChargeFactory, MessageTemplateFactory
from whatsapp.client import WahaError


class FakeWaha:
    """Records what would go to WAHA. `errors` are raised by the next send_text calls, in order."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.checks: list[str] = []
        self.unknown_phones: set[str] = set()
        self.errors: list[WahaError] = []
        self.check_errors: list[WahaError] = []
        self._ids = itertools.count(1)

    def check_exists(self, phone: str, *, session: str | None = None) -> str | None:
        self.checks.append(phone)
        if self.check_errors:
            raise self.check_errors.pop(0)
        if phone in self.unknown_phones:
            return None
        return phone.lstrip("+") + "@c.us"

    def send_text(
        self, chat_id: str, text: str, *, session: str | None = None, message_id: str | None = None
    ) -> str:
        if self.errors:
            raise self.errors.pop(0)
        waha_id = f"true_{chat_id}_FAKE{next(self._ids):06d}"
        self.sent.append(
            {"chat_id": chat_id, "text": text, "session": session, "id": waha_id, "at": time.monotonic()}
        )
        return waha_id

    def new_message_id(self, *, session: str | None = None) -> str:
        return f"FAKE{next(self._ids):06d}"


def waha_error(reason: str, *, permanent: bool = False, status: int | None = None) -> WahaError:
    return WahaError(reason, f"simulated {reason}", permanent=permanent, status_code=status)


def _module_or_stub(name: str, **attrs) -> types.ModuleType | None:
    try:
        importlib.import_module(name)
        return None
    except ImportError:
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        return module


def _stub_render(*, body, charge=None, client=None, context=None, now=None) -> str:
    values = {
        "name": client.name if client else "",
        "amount": str(charge.amount) if charge else "",
        "due_date": f"{charge.due_date:%d/%m/%Y}" if charge else "",
        "creditor_name": "Credor",
        "creditor_document": "00.000.000/0001-91",
    }
    return body.format(**values)


@pytest.fixture
def sibling_modules(monkeypatch):
    """Use the real templating/compliance/segments modules when present, small stubs until they exist."""
    stubs = {
        "billing.templating": _module_or_stub(
            "billing.templating", template_render=_stub_render, template_validate=lambda body: []
        ),
        "billing.compliance": _module_or_stub(
            "billing.compliance", template_compliance_warnings=lambda body: []
        ),
        "billing.segments": _module_or_stub(
            "billing.segments",
            charges_for_segment=lambda segment: __import__("billing.models").models.Charge.objects.all(),
        ),
    }
    for name, module in stubs.items():
        if module is not None:
            monkeypatch.setitem(sys.modules, name, module)
    return stubs


@pytest.fixture
def fake_waha(monkeypatch, settings, sibling_modules):
    settings.SEND_WINDOW = "always"
    settings.DISPATCH_PER_DEBTOR_DAILY_CAP = 1
    settings.DISPATCH_DAILY_CAP = 1000
    settings.DISPATCH_RETRY_BASE_SECONDS = 30
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    return fake


def make_charges(n: int, **kwargs) -> list:
    return [ChargeFactory(**kwargs) for _ in range(n)]


def plain_template(name: str = "lembrete-simples"):
    # Identifies the creditor (CDC art. 42-A) so the compliance linter has nothing to say about it.
    return MessageTemplateFactory(
        name=name,
        body=(
            "Olá {name}, sua fatura de {amount} vence em {due_date}. "
            "{creditor_name}, CNPJ {creditor_document}."
        ),
    )


def start_campaign(charges, *, delay="0", jitter="0", send_window="always", **kwargs):
    """A running campaign over exactly these charges (through an import batch), without enqueuing drivers."""
    from billing.dispatch import services
    from billing.models import ImportBatch

    batch = ImportBatch.objects.create(filename="teste.json", file_format="json")
    for charge in charges:
        charge.import_batch = batch
        charge.save(update_fields=["import_batch"])
    campaign = services.campaign_create(
        template=kwargs.pop("template", None) or plain_template(),
        import_batch=batch,
        delay_seconds=Decimal(delay),
        jitter_seconds=Decimal(jitter),
        send_window=send_window,
        **kwargs,
    )
    return services.campaign_start(campaign=campaign, confirm_compliance=True, confirm_off_hours=True)


def drive(session_name: str = "default", budget: float = 5.0):
    from billing.dispatch.driver import dispatch_drive

    return dispatch_drive(session_name=session_name, budget=budget)


def now():
    return timezone.now()


def ensure_default_regua():
    """The default régua as its data migration installs it. Transactional tests flush every table, data
    migrations included, so a test running after one needs it installed again."""
    import importlib

    from django.apps import apps

    from billing.regua.models import Regua

    regua = Regua.objects.filter(slug="default").first()
    if regua is None:
        importlib.import_module("billing.migrations.0005_default_regua").install(apps, None)
        regua = Regua.objects.get(slug="default")
    return regua
