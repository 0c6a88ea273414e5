"""The one error type services raise: a message for people and structured details for clients."""

from __future__ import annotations


class ApplicationError(Exception):
    def __init__(self, message: str, extra: dict | None = None, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status_code = status_code
