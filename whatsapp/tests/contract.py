"""Validate WAHA-shaped JSON against the official OpenAPI spec of WAHA 2026.7.1 with jsonschema.

The spec (``docs/specs/waha/openapi.json``, a copy of the official one kept in the repository) is the contract
both the simulator and our client are tested against. It is known to be wrong in places, so a small, explicit
list of leniencies is applied to a copy of it, each naming why. Anything not listed is validated as written.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

# Kept in the repository (version and source in the README beside it): a clone alone runs these tests.
SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "specs" / "waha" / "openapi.json"


def spec_path() -> Path:
    return SPEC_PATH


@functools.cache
def load_spec() -> dict[str, Any]:
    return json.loads(spec_path().read_text(encoding="utf-8"))


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def _normalize(node: Any) -> Any:
    """Spec-wide leniencies: OpenAPI 3.0 leftovers in a document that declares itself 3.1.

    1. ``nullable: true`` means nothing in 3.1/JSON Schema 2020-12, so it is turned into "or null" (WAHA's
       generator emits 3.0 style, e.g. ``timestamps.activity``, ``environment.worker.id``).
    2. ``required: true`` inside a property schema is not valid JSON Schema (jsonschema would crash
       iterating a bool); it is dropped, the parent's ``required`` list is what counts.
    """
    if isinstance(node, list):
        return [_normalize(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _normalize(value) for key, value in node.items()}
    if isinstance(result.get("required"), bool):
        del result["required"]
    if result.pop("nullable", False) is True:
        return _nullable(result)
    return result


def _drop_required(schema: dict[str, Any], *names: str) -> None:
    schema["required"] = [name for name in schema.get("required", []) if name not in names]


def _make_property_nullable(schema: dict[str, Any], *names: str) -> None:
    for name in names:
        schema["properties"][name] = _nullable(schema["properties"][name])


# Each entry: (schema, what is relaxed, why). Applied by _apply_leniencies; listed here for review.
LENIENCIES: list[tuple[str, str, str]] = [
    ("WAHAWebhook*", "event: type object → string", "the enum lists strings but the type says object (typo)"),
    ("WAHAWebhook*", "me: may be null", "WAHA sends me=null while the session is not authenticated"),
    (
        "WebhookConfig",
        "events items: object → string",
        "event names are strings; the generator typed them object",
    ),
    ("WAMessage", "participant, mediaUrl not required", "1:1 messages omit them; mediaUrl is deprecated"),
    ("WAMessage", "media, replyTo may be null", "WAHA sends null when there is no media / no quote"),
    ("WAMessageAckBody", "participant not required", "only group acks carry a participant"),
    ("WAHAEnvironment", "browser may be null", "GOWS/NOWEB run no browser; WAHA reports null"),
    (
        "SessionInfo",
        "me, presence may be null",
        "me is null until the QR is scanned; presence null until set",
    ),
    ("LidToPhoneNumber", "lid, pn may be null", "docs: unknown side is null ({lid, pn|null})"),
    ("sendText 201", "engine-specific shapes instead of WAMessage", "#760: body is the engine's raw object"),
    ("GET /api/sessions/{session}/me", "MeInfo or null", "null when not authenticated (docs)"),
    ("GET /api/{session}/lids/pn/{phone}", "path named {phoneNumber} in the spec", "same operation"),
]


def _apply_leniencies(schemas: dict[str, Any]) -> None:
    for name, schema in schemas.items():
        if name.startswith("WAHAWebhook") and "properties" in schema:
            event = schema["properties"].get("event")
            if isinstance(event, dict) and event.get("type") == "object":
                event["type"] = "string"
            if "me" in schema["properties"]:
                _make_property_nullable(schema, "me")
    schemas["WebhookConfig"]["properties"]["events"]["items"] = {"type": "string"}
    _drop_required(schemas["WAMessage"], "participant", "mediaUrl")
    _make_property_nullable(schemas["WAMessage"], "media", "replyTo")
    _drop_required(schemas["WAMessageAckBody"], "participant")
    _make_property_nullable(schemas["WAHAEnvironment"], "browser")
    _make_property_nullable(schemas["SessionInfo"], "me", "presence")
    _make_property_nullable(schemas["LidToPhoneNumber"], "lid", "pn")


@functools.cache
def components() -> dict[str, Any]:
    """The spec's ``components`` with the leniencies above applied (a copy; the file is untouched)."""
    normalized = _normalize(copy.deepcopy(load_spec()["components"]))
    _apply_leniencies(normalized["schemas"])
    return normalized


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # The components ride along in the root document so "#/components/schemas/X" refs resolve.
    return Draft202012Validator({**schema, "components": components()})


def schema_errors(instance: Any, schema: dict[str, Any] | str) -> list[str]:
    """Every violation as "path: message" (empty list = valid). ``schema`` may be a component name."""
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in _validator(schema).iter_errors(instance)
    ]


def assert_valid(instance: Any, schema: dict[str, Any] | str) -> None:
    """Raise an AssertionError naming the most relevant violation, with the full list."""
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    errors = list(_validator(schema).iter_errors(instance))
    if errors:
        main: ValidationError = best_match(errors)
        details = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        raise AssertionError(f"not valid against the WAHA spec: {main.message} (all: {details})")


def webhook_schema(event: str) -> dict[str, Any]:
    """The request-body schema the spec's top-level ``webhooks`` map gives for ``event``."""
    webhook = load_spec()["webhooks"][event]
    return webhook["post"]["requestBody"]["content"]["application/json"]["schema"]


def assert_valid_webhook(envelope: dict[str, Any]) -> None:
    assert_valid(envelope, webhook_schema(envelope["event"]))


# Paths whose name differs from the spec's template but denote the same operation.
_PATH_ALIASES = {"/api/{session}/lids/pn/{phone}": "/api/{session}/lids/pn/{phoneNumber}"}


def response_schema(
    method: str, path: str, status: int, content_type: str = "application/json"
) -> dict[str, Any]:
    """The spec's response schema for an operation (``path`` as the spec's template)."""
    path = _PATH_ALIASES.get(path, path)
    operation = load_spec()["paths"][path][method.lower()]
    content = operation["responses"][str(status)].get("content") or {}
    return content[content_type]["schema"] if content_type in content else {}


# sendText answers per engine (#760, #1083): the spec's WAMessage does not apply, so these are our contract,
# derived from docs/waha.md, "Sending". The serialized id must be recoverable from each.
SEND_TEXT_SHAPES: dict[str, dict[str, Any]] = {
    "NOWEB": {
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {
                "type": "object",
                "required": ["remoteJid", "fromMe", "id"],
                "properties": {
                    "remoteJid": {"type": "string", "pattern": "@(s\\.whatsapp\\.net|lid|g\\.us)$"},
                    "fromMe": {"const": True},
                    "id": {"type": "string", "minLength": 1},
                },
            },
        },
    },
    "GOWS": {
        "type": "object",
        "required": ["id", "_data"],
        "properties": {"id": {"type": "string", "pattern": "^true_.+@.+_.+$"}, "_data": {"type": "object"}},
    },
    "WEBJS": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {
                "type": "object",
                "required": ["_serialized"],
                "properties": {"_serialized": {"type": "string", "pattern": "^true_.+@.+_.+$"}},
            }
        },
    },
}


def assert_valid_response(method: str, path: str, status: int, body: Any, *, engine: str = "GOWS") -> None:
    """Validate an API answer against the spec operation, with the response-level leniencies above."""
    if (method.upper(), path) == ("POST", "/api/sendText"):
        if engine == "WEBJS-empty":
            assert body in (None, b"", ""), "WEBJS-empty must answer an empty body"
            return
        assert_valid(body, SEND_TEXT_SHAPES[engine])
        return
    if (method.upper(), path) == ("GET", "/api/sessions/{session}/me") and body is None:
        return
    assert_valid(body, response_schema(method, path, status))
