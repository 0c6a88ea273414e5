"""Validate API Pix JSON against the official OpenAPI spec (BCB API Pix 2.9.0) with jsonschema.

The spec (``docs/specs/pix/openapi.yaml``, kept unmodified in the repository) is the contract both the PSP
simulator and our client are tested against. It is wrong in a few places, so a short, explicit list of
corrections is applied to a copy of it, each naming why and each shown to be needed by a test
(``test_pix_api_contract.py``). Anything not listed is validated as written.
OpenAPI 3.0 schemas are JSON Schema draft 4 with extensions, hence ``Draft4Validator``.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "specs" / "pix" / "openapi.yaml"


@functools.cache
def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


# Each entry: (schema, what is corrected, why). Applied by _apply_corrections; listed here for review.
CORRECTIONS: list[tuple[str, str, str]] = [
    (
        "PessoaFisica.cpf, ParametrosConsultaPix.cpf",
        'pattern "/^\\d{11}$/" → "^\\d{11}$"',
        "a JavaScript regex literal: the slashes would have to appear in the CPF itself",
    ),
    (
        "PixConsultados",
        'required "cobs" → "pix"',
        "copied from CobsConsultadas: the list is named pix (its own property and example getPix1)",
    ),
    (
        "DadosRecebedor",
        "logradouro/cidade/uf/cep required inside recebedor, not beside it",
        "the object-level required list applies to the charge itself; its own example cobResponse4 fails it",
    ),
]


def _fix_pattern(node: Any) -> Any:
    if isinstance(node, list):
        return [_fix_pattern(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _fix_pattern(value) for key, value in node.items()}
    pattern = result.get("pattern")
    if isinstance(pattern, str) and pattern.startswith("/") and pattern.endswith("/") and len(pattern) > 2:
        result["pattern"] = pattern[1:-1]
    return result


def _apply_corrections(schemas: dict[str, Any]) -> None:
    consultados = schemas["PixConsultados"]
    consultados["required"] = [
        "parametros" if name == "parametros" else "pix" for name in consultados["required"]
    ]
    # Its "recebedor" property already requires them through allOf; only the misplaced list goes.
    schemas["DadosRecebedor"].pop("required", None)


@functools.cache
def components() -> dict[str, Any]:
    """The spec's ``components`` with the corrections above (a copy; the file is untouched)."""
    fixed = _fix_pattern(copy.deepcopy(load_spec()["components"]))
    _apply_corrections(fixed["schemas"])
    return fixed


@functools.cache
def raw_components() -> dict[str, Any]:
    return load_spec()["components"]


def _validator(schema: dict[str, Any], *, corrected: bool = True) -> Draft4Validator:
    # The components ride along in the root document so "#/components/schemas/X" refs resolve.
    return Draft4Validator({**schema, "components": components() if corrected else raw_components()})


def _schema(schema: dict[str, Any] | str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema


def schema_errors(instance: Any, schema: dict[str, Any] | str, *, corrected: bool = True) -> list[str]:
    """Every violation as "path: message" (empty list = valid). ``schema`` may be a component name."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in _validator(_schema(schema), corrected=corrected).iter_errors(instance)
    ]


def assert_valid(instance: Any, schema: dict[str, Any] | str) -> None:
    errors = list(_validator(_schema(schema)).iter_errors(instance))
    if errors:
        details = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        raise AssertionError(
            f"not valid against the API Pix spec: {best_match(errors).message} (all: {details})"
        )


def request_schema(method: str, path: str) -> dict[str, Any]:
    """The request-body schema of an operation (``path`` as the spec's template, e.g. "/cobv/{txid}")."""
    body = load_spec()["paths"][path][method.lower()]["requestBody"]
    if "$ref" in body:
        body = load_spec()["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    return body["content"]["application/json"]["schema"]


def response_schema(method: str, path: str, status: int) -> tuple[str, dict[str, Any]]:
    """(content type, schema) of an operation's answer; ("", {}) when the spec gives no body."""
    response = load_spec()["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = load_spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content") or {}
    for content_type, media in content.items():
        return content_type, media["schema"]
    return "", {}


def webhook_schema() -> dict[str, Any]:
    """The body the PSP POSTs to ``{webhookUrl}/pix`` (components.requestBodies.WebhookPixBody)."""
    return load_spec()["components"]["requestBodies"]["WebhookPixBody"]["content"]["application/json"][
        "schema"
    ]


# The spec's path templates, for matching a concrete request path to its operation.
_TEMPLATES = [
    (re.compile(r"^/cobv/[^/]+$"), "/cobv/{txid}"),
    (re.compile(r"^/pix/[^/]+$"), "/pix/{e2eid}"),
    (re.compile(r"^/pix$"), "/pix"),
    (re.compile(r"^/webhook/[^/]+$"), "/webhook/{chave}"),
]


def template_for(path: str) -> str:
    for regex, template in _TEMPLATES:
        if regex.match(path):
            return template
    raise KeyError(path)
