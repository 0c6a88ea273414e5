"""What a PSP answers when something goes wrong, made into one exception callers can act on.

Part of the API Pix client (see the package docstring). Privacy rule: the request body (a debtor's CPF and
name) and a problem's ``violacoes[].valor`` (an echo of what was sent) never go into an exception or a log
line.
"""

from __future__ import annotations

from typing import Any

import requests

REASONS = frozenset(
    {
        "timeout",  # no answer in time (the PSP may have acted)
        "connection",  # refused, reset, DNS, TLS handshake
        "unauthorized",  # the OAuth2 credentials or a fresh token were refused
        "forbidden",  # 403: the account lacks the scope (cobv.write, pix.read, webhook.write...)
        "not_found",  # 404
        "invalid_request",  # 400/409/422 and the other 4xx: the request must change before it can succeed
        "rate_limited",  # 429 (and 408): slow down, then try again
        "server_error",  # 5xx
        "bad_response",  # a 2xx whose body is not the JSON object the spec promises
        "configuration",  # the client itself is set up wrongly (a certificate file that cannot be read)
    }
)


class PixApiError(Exception):
    """A failed API Pix call, classified so callers know whether retrying later can help.

    ``permanent`` is False for timeouts, connection errors, 5xx, 408 and 429; True for the other 4xx.
    ``title`` and ``detail`` come from the PSP's problem+json when it sent one; they are safe to log.
    ``violacoes`` keeps each violation's ``razao`` and ``propriedade`` (never its ``valor``).
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        permanent: bool,
        status: int | None = None,
        title: str = "",
        path: str = "",
        violacoes: list[dict[str, str]] | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown PixApiError reason {reason!r}")
        self.reason = reason
        self.detail = detail
        self.permanent = permanent
        self.status = status
        self.title = title
        self.path = path
        self.violacoes = list(violacoes or [])
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"API Pix {self.reason}"
        if self.status is not None:
            head += f" ({self.status})"
        text = ": ".join(part for part in (self.title, self.detail) if part)
        where = f" [{self.path}]" if self.path else ""
        return f"{head}{': ' + text if text else ''}{where}"

    @property
    def transient(self) -> bool:
        return not self.permanent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, status={self.status!r}, "
            f"permanent={self.permanent!r}, path={self.path!r})"
        )


class PixNotFound(PixApiError):
    """404: the cobv, Pix or webhook does not exist at the PSP (permanent)."""

    def __init__(self, detail: str = "", *, title: str = "", path: str = "", **_: Any) -> None:
        super().__init__("not_found", detail, permanent=True, status=404, title=title, path=path)


def _problem(response: requests.Response) -> dict[str, Any]:
    """The problem+json body (RFC 7807 as the spec's ``Problema``), or {} when there is none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _violations(problem: dict[str, Any]) -> list[dict[str, str]]:
    kept = []
    for item in problem.get("violacoes") or []:
        if isinstance(item, dict):
            kept.append({k: str(item[k])[:200] for k in ("razao", "propriedade") if item.get(k) is not None})
    return kept


def _reason_for(status: int) -> tuple[str, bool]:
    if status >= 500:
        return "server_error", False
    if status == 401:
        return "unauthorized", True
    if status == 403:
        return "forbidden", True
    if status == 404:
        return "not_found", True
    if status == 408:
        return "timeout", False
    if status == 429:
        return "rate_limited", False
    return "invalid_request", True


def classify_response(response: requests.Response, path: str) -> PixApiError:
    """Turn a non-2xx answer into a PixApiError (PixNotFound for 404), reading its problem+json if any.

    A 5xx body is read only when it is a problem+json (the spec's ``ServicoIndisponivel``): any other server
    error page may echo the request, that is the debtor's data.
    """
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    problem = (
        _problem(response) if status < 500 or content_type.startswith("application/problem+json") else {}
    )
    title = str(problem.get("title") or "")[:200]
    detail = str(problem.get("detail") or "")[:500]
    violacoes = _violations(problem)
    if violacoes and not detail:
        detail = "; ".join(f"{v.get('propriedade', '?')}: {v.get('razao', '')}" for v in violacoes)[:500]
    if status == 404:
        return PixNotFound(detail, title=title, path=path)
    reason, permanent = _reason_for(status)
    return PixApiError(
        reason, detail, permanent=permanent, status=status, title=title, path=path, violacoes=violacoes
    )
