"""Loguru, configured once per process: a console sink, a JSON file sink, standard logging routed in, and a
masking patcher so that no sink ever sees a full phone number, CPF/CNPJ or message body."""

from __future__ import annotations

import functools
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


class _MaskedException(Exception):
    """What the sinks format in place of a logged exception: its text masked, the rest as it was."""


@functools.lru_cache(maxsize=256)
def _stand_in_type(original: type) -> type:
    # Same name, qualname and module as the original: the traceback's last line reads as before
    # ("django.db.utils.IntegrityError: …"); only the text after the colon differs.
    return type(
        original.__name__,
        (_MaskedException,),
        {"__module__": original.__module__, "__qualname__": original.__qualname__},
    )


def _masked_exception(value: BaseException | None, seen: dict[int, BaseException]) -> BaseException | None:
    """A stand-in of `value` for the sinks: its str and notes masked, its traceback (frames and source lines)
    and its chain (`__cause__`, `__context__`, each masked the same way) kept. The caller's exception object
    is never changed: it may still be re-raised or shown."""
    if value is None:
        return None
    if id(value) in seen:
        return seen[id(value)]
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        text = "<exception str() failed>"
    clone = _stand_in_type(type(value))(mask_text(text))
    seen[id(value)] = clone
    clone.__traceback__ = value.__traceback__
    clone.__cause__ = _masked_exception(value.__cause__, seen)
    clone.__context__ = _masked_exception(value.__context__, seen)
    clone.__suppress_context__ = value.__suppress_context__
    notes = getattr(value, "__notes__", None)
    if isinstance(notes, list):
        clone.__notes__ = [mask_text(str(note)) for note in notes]
    return clone


def mask_record(record: dict) -> None:
    """Loguru patcher, the one place logs are masked: runs before any sink formats the record. Covers the
    message, every bound extra (strings, numbers that look like phones, nested dicts and lists) and the
    exception: sinks format the traceback from `record["exception"]` (the JSON sink's `text` and its
    `exception.value`), so its value becomes a masked stand-in. The code's source lines in the traceback are
    left as they are (they hold names, not data)."""
    record["message"] = mask_text(record["message"])
    extra = record["extra"]
    for key, value in list(extra.items()):
        extra[key] = _mask_value(value)
    exception = record["exception"]
    if exception is not None and exception.value is not None:
        record["exception"] = exception._replace(value=_masked_exception(exception.value, {}))


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
