"""Multi-turn conversation scenarios as data (chatbot/scenarios/*.yaml): loading with clear errors, building
each scenario's world (client, charges, agreements, the last reminder), and checking each turn.

Two players use this module: `test_scenarios_api.py` replays every scenario through POST /api/chat/process
(fast, no processes), and `test_e2e_scenarios.py` plays them through the real path (simulator → signed webhook
→ qcluster worker → chatbot → simulator). The format is described in docs/chatbot.md ("Scenarios").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
INTENTS = (
    "saudacao",
    "agradecimento",
    "confirmacao_pagamento",
    "promessa_pagamento",
    "negociacao",
    "dificuldade_financeira",
    "informacoes_pagamento",
    "contestacao",
    "falar_humano",
    "opt_out",
    "pessoa_errada",
    "desconhecido",
)
CHARGE_ACTIONS = ("claim_payment", "create_promise", "create_agreement", "dispute")
CLIENT_ACTIONS = ("opt_out", "mark_wrong_number", "handoff")
MEDIA_KINDS = {
    "image": ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32),
    "pdf": ("application/pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"),
    "audio": ("audio/ogg; codecs=opus", b"OggS\x00\x02" + b"\x00" * 32),
}
SCENARIO_KEYS = {"name", "about", "client", "charges", "reminder", "turns"}
TURN_KEYS = {"say", "media", "intent", "actions", "contains", "excludes", "flagged", "silent"}
CHARGE_KEYS = {"amount", "due", "description", "reference", "status", "agreement", "paid"}


class ScenarioError(ValueError):
    """A scenario file that does not follow the format: names the file, scenario, turn and field."""


@dataclass
class Turn:
    say: str = ""
    media: str = ""  # image | pdf | audio: the debtor sends a file instead of text
    intent: str = ""
    actions: list[tuple[str, str]] = field(default_factory=list)  # (type, charge key or "")
    contains: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    flagged: bool | None = None
    silent: bool = False


@dataclass
class Scenario:
    name: str
    file: str
    about: str
    client: dict[str, Any] | None  # None: the number belongs to no client
    charges: dict[str, dict[str, Any]]
    reminder: str
    turns: list[Turn]

    @property
    def has_media(self) -> bool:
        return any(turn.media for turn in self.turns)


def _fail(where: str, why: str) -> ScenarioError:
    return ScenarioError(f"{where}: {why}")


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return value
    raise _fail(where, "expected a text or a list of texts")


def _turn(raw: Any, where: str, charge_keys: set[str]) -> Turn:
    if not isinstance(raw, dict):
        raise _fail(where, "a turn is a mapping (say/media, intent, actions, contains, excludes)")
    unknown = set(raw) - TURN_KEYS
    if unknown:
        raise _fail(where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(TURN_KEYS)}")
    say, media = raw.get("say") or "", raw.get("media") or ""
    if bool(say) == bool(media):
        raise _fail(where, "give exactly one of `say` (the debtor's text) or `media` (image, pdf, audio)")
    if media and media not in MEDIA_KINDS:
        raise _fail(f"{where}.media", f"{media!r} is not one of {sorted(MEDIA_KINDS)}")
    intent = raw.get("intent") or ""
    if intent and intent not in INTENTS:
        raise _fail(f"{where}.intent", f"{intent!r} is not one of {list(INTENTS)}")
    actions = []
    for index, item in enumerate(_strings(raw.get("actions"), f"{where}.actions")):
        kind, _, key = item.partition("@")
        if kind in CHARGE_ACTIONS:
            if key not in charge_keys:
                raise _fail(
                    f"{where}.actions[{index}]",
                    f"{item!r}: name the charge as {kind}@<key> {sorted(charge_keys)}",
                )
        elif kind in CLIENT_ACTIONS:
            if key:
                raise _fail(f"{where}.actions[{index}]", f"{kind} takes no charge")
        else:
            raise _fail(
                f"{where}.actions[{index}]", f"{kind!r} is not one of {list(CHARGE_ACTIONS + CLIENT_ACTIONS)}"
            )
        actions.append((kind, key))
    flagged = raw.get("flagged")
    if flagged is not None and not isinstance(flagged, bool):
        raise _fail(f"{where}.flagged", "true or false")
    return Turn(
        say=str(say),
        media=str(media),
        intent=intent,
        actions=actions,
        contains=_strings(raw.get("contains"), f"{where}.contains"),
        excludes=_strings(raw.get("excludes"), f"{where}.excludes"),
        flagged=flagged,
        silent=bool(raw.get("silent")),
    )


def _charge(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(where, "a charge is a mapping (amount, due, description, reference, status, agreement)")
    unknown = set(raw) - CHARGE_KEYS
    if unknown:
        raise _fail(where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(CHARGE_KEYS)}")
    try:
        amount = Decimal(str(raw["amount"]))
    except (KeyError, InvalidOperation):
        raise _fail(f"{where}.amount", "a decimal amount such as 189.90") from None
    due = raw.get("due")
    if not isinstance(due, dt.date):
        raise _fail(f"{where}.due", "a date such as 2026-12-10")
    agreement = raw.get("agreement")
    if agreement is not None and (
        not isinstance(agreement, dict) or not isinstance(agreement.get("installments"), int)
    ):
        raise _fail(f"{where}.agreement", "{installments: 3, first_due: 2026-12-20}")
    try:
        paid = Decimal(str(raw.get("paid", 0)))
    except InvalidOperation:
        raise _fail(f"{where}.paid", "the decimal amount already received, such as 120.00") from None
    return {**raw, "amount": amount, "paid": paid}


def load_file(path: Path) -> list[Scenario]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path.name, f"not valid YAML ({exc})") from None
    if not isinstance(data, list):
        raise _fail(path.name, "the file is a list of scenarios")
    scenarios = []
    for index, raw in enumerate(data):
        where = f"{path.name}[{index}]"
        if not isinstance(raw, dict) or not raw.get("name"):
            raise _fail(where, "a scenario is a mapping with a `name`")
        where = f"{path.name}:{raw['name']}"
        unknown = set(raw) - SCENARIO_KEYS
        if unknown:
            raise _fail(where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(SCENARIO_KEYS)}")
        charges = {str(k): _charge(v, f"{where}.charges.{k}") for k, v in (raw.get("charges") or {}).items()}
        reminder = str(raw.get("reminder") or "")
        if reminder and reminder not in charges:
            raise _fail(f"{where}.reminder", f"{reminder!r} is not one of the charges {sorted(charges)}")
        client = raw.get("client", {})
        if client is not None and not isinstance(client, dict):
            raise _fail(f"{where}.client", "a mapping ({name: ...}) or null for a number of no client")
        if client is None and charges:
            raise _fail(f"{where}.charges", "a number of no client has no charges")
        turns = raw.get("turns")
        if not isinstance(turns, list) or not turns:
            raise _fail(f"{where}.turns", "a non-empty list of turns")
        scenarios.append(
            Scenario(
                name=str(raw["name"]),
                file=path.name,
                about=str(raw.get("about") or ""),
                client=client,
                charges=charges,
                reminder=reminder,
                turns=[_turn(t, f"{where}.turns[{i}]", set(charges)) for i, t in enumerate(turns)],
            )
        )
    return scenarios


def load_scenarios(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    scenarios = [s for path in sorted(directory.glob("*.yaml")) for s in load_file(path)]
    names = [s.name for s in scenarios]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ScenarioError(f"scenario names must be unique: {duplicated}")
    return scenarios


# --- the world of one scenario ---------------------------------------------------------------------


@dataclass
class World:
    scenario: Scenario
    phone: str  # +55...
    chat_id: str
    client: Any
    charges: dict[str, Any]  # key → Charge

    def charge_key(self, charge_id: Any) -> str:
        return next((key for key, charge in self.charges.items() if charge.pk == charge_id), f"?{charge_id}")


def build_world(scenario: Scenario, *, phone: str, reminder_waha_id: str = "") -> World:
    """The client (unless the number is nobody's), its charges and agreements, and the last reminder: a
    campaign Dispatch of that charge with its outbound Message in the conversation (what the focus reads)."""
    from django.utils import timezone

    from billing import services as billing
    from billing.models import Charge
    from billing.tests.factories import ChargeFactory, ClientFactory, DispatchFactory
    from conversations import services as conversations
    from conversations.models import Message

    chat_id = f"{phone.lstrip('+')}@c.us"
    if scenario.client is None:
        return World(scenario, phone, chat_id, None, {})
    client = ClientFactory(name=scenario.client.get("name") or "Maria Souza", phone=phone)
    charges = {}
    for key, spec in scenario.charges.items():
        charge = ChargeFactory(
            client=client,
            amount=spec["amount"],
            due_date=spec["due"],
            description=spec.get("description") or "",
            external_id=spec.get("reference") or f"{scenario.name[:40]}-{key}",
            status=spec.get("status") or Charge.Status.OPEN,
        )
        if spec["paid"]:
            # Money already received (a partial payment, or the whole when the status is paid: just now).
            paid_at = timezone.now() if charge.status == Charge.Status.PAID else None
            Charge.objects.filter(pk=charge.pk).update(amount_paid=spec["paid"], paid_at=paid_at)
            charge.refresh_from_db()
        if spec.get("agreement"):
            billing.agreement_create(
                charge=charge,
                installments=spec["agreement"]["installments"],
                first_due_date=spec["agreement"].get("first_due") or spec["due"] + dt.timedelta(days=30),
            )
            charge.refresh_from_db()
        charges[key] = charge
    if scenario.reminder:
        charge = charges[scenario.reminder]
        conversation = conversations.conversation_get_or_create(
            chat_ids=[chat_id], client=client, session_name="default"
        )
        dispatch = DispatchFactory(charge=charge, status="read")
        text = f"Olá! Lembrete: a cobrança de R$ {charge.amount} vence em {charge.due_date:%d/%m/%Y}."
        conversations.message_record_outbound(
            conversation=conversation,
            body=text,
            author=Message.Author.CAMPAIGN,
            waha_id=reminder_waha_id or f"true_{chat_id}_REMINDER{charge.pk}",
            dispatch=dispatch,
        )
    return World(scenario, phone, chat_id, client, charges)


# --- checking one turn -------------------------------------------------------------------------------


def check_reply(turn: Turn, reply: str, where: str) -> list[str]:
    errors = []
    if turn.silent:
        if reply:
            errors.append(f"{where}: expected silence, the bot said {reply!r}")
        return errors
    if not reply:
        errors.append(f"{where}: the bot did not answer")
    low = reply.lower()
    errors += [f"{where}: reply lacks {p!r}: {reply!r}" for p in turn.contains if p.lower() not in low]
    errors += [f"{where}: reply must not contain {p!r}: {reply!r}" for p in turn.excludes if p.lower() in low]
    return errors


def check_intent(turn: Turn, intent: str, where: str) -> list[str]:
    if turn.media or turn.silent or not turn.intent or intent == turn.intent:
        return []
    return [f"{where}: intent {intent!r}, expected {turn.intent!r}"]


def check_actions(turn: Turn, actions: list[dict[str, Any]], world: World, where: str) -> list[str]:
    """The turn's actions, as returned by the bot (POST /api/chat/process): exactly the expected charge and
    client actions (flags are checked apart, with `flagged`)."""
    got = sorted(
        (a["type"], world.charge_key(a.get("charge_id")) if a["type"] in CHARGE_ACTIONS else "")
        for a in actions
        if a["type"] != "flag"
    )
    expected = sorted(turn.actions)
    if got != expected:
        return [f"{where}: actions {got}, expected {expected}"]
    return []


def check_effects(turn: Turn, world: World, before: dict[str, Any], where: str) -> list[str]:
    """The expected actions seen in the database (the end-to-end player has no action list): each charge
    action changed its charge, the client actions changed the client, and nothing else changed."""
    now = snapshot(world)
    errors = []
    expected = set(turn.actions)
    for key in world.charges:
        changed = {
            "claim_payment": now["charges"][key]["status"] == "payment_claimed"
            and before["charges"][key]["status"] != "payment_claimed",
            "dispute": now["charges"][key]["status"] == "disputed"
            and before["charges"][key]["status"] != "disputed",
            "create_promise": now["charges"][key]["promises"] > before["charges"][key]["promises"],
            "create_agreement": now["charges"][key]["agreements"] > before["charges"][key]["agreements"],
        }
        for kind, happened in changed.items():
            if happened != ((kind, key) in expected):
                errors.append(f"{where}: {kind}@{key} {'happened' if happened else 'did not happen'}")
    for kind in ("opt_out", "mark_wrong_number", "handoff"):
        happened = now[kind] and not before[kind]
        if happened != ((kind, "") in expected):
            errors.append(f"{where}: {kind} {'happened' if happened else 'did not happen'}")
    return errors


def snapshot(world: World) -> dict[str, Any]:
    from billing.models import Agreement, Charge, Client, PromiseToPay
    from conversations.models import Conversation

    charges = {}
    for key, charge in world.charges.items():
        charges[key] = {
            "status": Charge.objects.filter(pk=charge.pk).values_list("status", flat=True).first(),
            "promises": PromiseToPay.objects.filter(charge=charge).count(),
            "agreements": Agreement.objects.filter(charge=charge).count(),
        }
    client = Client.objects.filter(pk=getattr(world.client, "pk", None)).first()
    conversation = Conversation.objects.filter(chat_id=world.chat_id).first()
    return {
        "charges": charges,
        "opt_out": bool(client and client.opted_out_at),
        "mark_wrong_number": bool(client and client.wrong_number),
        "handoff": bool(conversation and conversation.state == Conversation.State.HUMAN),
        "flagged": bool(conversation and conversation.needs_attention),
    }


def check_flag(turn: Turn, world: World, before: dict[str, Any], where: str) -> list[str]:
    if turn.flagged is None:
        return []
    flagged = snapshot(world)["flagged"]
    if flagged != turn.flagged:
        return [f"{where}: conversation {'flagged' if flagged else 'not flagged'}, expected the opposite"]
    return []
