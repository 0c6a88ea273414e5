"""Loguru, configured once per process: a console sink, a JSON file sink, standard logging routed in, and a
masking patcher so that no sink ever sees a full phone number, CPF/CNPJ or message body."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from loguru import logger

from cobranca.masking import mask_text

_configured = False


class InterceptHandler(logging.Handler):
    """Send records of the standard `logging` module (Django, django-q2, requests...) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = logging.currentframe(), 2
        while frame and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def _mask_value(value: object, depth: int = 0) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**9:
        # A phone bound as a number (JSON number, spreadsheet cell): masked as text when it looks like one.
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    if depth < 5 and isinstance(value, dict):
        return {key: _mask_value(item, depth + 1) for key, item in value.items()}
    if depth < 5 and isinstance(value, (list, tuple)):
        return [_mask_value(item, depth + 1) for item in value]
    return value


def mask_record(record: dict) -> None:
    """Loguru patcher, the one place logs are masked: runs before any sink formats the record. Covers the
    message and every bound extra (strings, numbers that look like phones, nested dicts and lists)."""
    record["message"] = mask_text(record["message"])
    extra = record["extra"]
    for key, value in list(extra.items()):
        extra[key] = _mask_value(value)


def configure_logging(*, level: str | None = None, log_file: str | None = None, force: bool = False) -> None:
    global _configured
    if _configured and not force:
        return
    from django.conf import settings

    level = level or settings.LOG_LEVEL
    log_file = log_file if log_file is not None else settings.LOG_FILE

    logger.remove()
    logger.configure(patcher=mask_record)
    logger.add(
        sys.stderr,
        level=level,
        backtrace=False,
        diagnose=False,  # diagnose would print local variables (message bodies) in tracebacks
        format="<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
        "<cyan>{name}</cyan> - <level>{message}</level>",
    )
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_file,
            level=level,
            serialize=True,
            rotation="10 MB",
            retention="30 days",
            compression="zip",
            backtrace=False,
            diagnose=False,
            enqueue=False,
        )

    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in (
        "django",
        "django.request",
        "django.server",
        "django.db.backends",
        "django-q",
        "django_q",
        "urllib3",
        "requests",
    ):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
    # SQL at DEBUG would print parameters (phones, names): keep it quiet unless asked explicitly.
    logging.getLogger("django.db.backends").setLevel(logging.INFO)
    _configured = True
