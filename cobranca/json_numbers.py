"""Strict JSON for webhook bodies: what json.loads accepts but no database stores as JSON is refused with a
reason the webhooks answer as a 400 (WAHA's and the PSP's intake share it).

- NaN / Infinity / -Infinity are not JSON (RFC 8259): "non_standard_json";
- a number too big for a float (1e400 becomes inf, which jsonb and SQLite's JSON_VALID refuse):
  "number_out_of_range"."""

from __future__ import annotations

import json
import math
from typing import Any


class JsonRejected(Exception):
    """Not a ValueError on purpose: it must pass through callers' `except ValueError` (malformed JSON)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refuse_constant(name: str) -> Any:
    raise JsonRejected("non_standard_json")


def finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRejected("number_out_of_range")
    return value


def strict_loads(body: bytes | str) -> Any:
    """json.loads that raises JsonRejected for NaN/Infinity and out-of-range numbers (ValueError and
    RecursionError as json.loads does for the rest)."""
    return json.loads(body, parse_constant=refuse_constant, parse_float=finite_float)
