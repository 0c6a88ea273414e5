"""Webhook delivery of the WAHA simulator: signing, retries and a delivery log, as WAHA's WebhookSender does.

Delivery runs on one worker thread per target URL so the API thread that caused an event never waits for the
receiver (real WAHA posts asynchronously too), while events to one receiver keep their emission order unless a
retry or the out-of-order fault reorders them. Retries are re-queued through the scheduler instead of sleeping
in the worker, so one failing event does not hold back the next ones.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ulid import ULID

from whatsapp.simulator.scheduler import Scheduler

# "*" subscribes to everything except these two (DOCS:how-to/events).
STAR_EXCLUDED = frozenset({"state.change", "engine.event"})

DEFAULT_RETRY_POLICY = "constant"
DEFAULT_RETRY_DELAY_SECONDS = 2.0
DEFAULT_RETRY_ATTEMPTS = 15

# Receivers are local or explicitly configured: never route deliveries through an HTTP(S)_PROXY from the env.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign(body: bytes, key: str) -> str:
    """Hex HMAC-SHA512 of the exact raw body, the value of ``X-Webhook-Hmac``."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha512).hexdigest()


@dataclass(frozen=True)
class WebhookTarget:
    """One webhook subscription: a session's ``config.webhooks[]`` entry or the global webhook."""

    url: str
    events: tuple[str, ...] = ("*",)
    hmac_key: str | None = None
    policy: str = DEFAULT_RETRY_POLICY
    delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    attempts: int = DEFAULT_RETRY_ATTEMPTS
    custom_headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WebhookTarget:
        """Build from a WAHA ``WebhookConfig`` dict, applying WAHA's defaults for missing parts."""
        hmac_conf = config.get("hmac") or {}
        retries = config.get("retries") or {}
        headers = tuple(
            (str(h.get("name")), str(h.get("value")))
            for h in (config.get("customHeaders") or [])
            if isinstance(h, dict) and h.get("name")
        )
        url = str(config["url"])
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must be http(s)")
        delay = retries.get("delaySeconds")
        attempts = retries.get("attempts")
        return cls(
            url=url,
            events=tuple(str(e) for e in (config.get("events") or ["*"])),
            hmac_key=(hmac_conf.get("key") or None) if isinstance(hmac_conf, dict) else None,
            policy=str(retries.get("policy") or DEFAULT_RETRY_POLICY),
            delay_seconds=float(DEFAULT_RETRY_DELAY_SECONDS if delay is None else delay),
            attempts=int(DEFAULT_RETRY_ATTEMPTS if attempts is None else attempts),
            custom_headers=headers,
        )

    def wants(self, event: str) -> bool:
        if event in self.events:
            return True
        return "*" in self.events and event not in STAR_EXCLUDED

    def retry_delay(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1`` (``attempt`` counts from 1), per WAHA's retry policies."""
        base = self.delay_seconds
        if self.policy == "linear":
            return base * attempt
        if self.policy == "exponential":
            return base * (2 ** (attempt - 1)) * (1 + random.uniform(0, 0.2))
        return base


@dataclass
class _Job:
    target: WebhookTarget
    envelope: dict[str, Any]
    body: bytes
    request_id: str
    generation: int
    attempt: int = 1
    copy: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class WebhookDispatcher:
    """Queues signed webhook posts, retries failures, and records every attempt for tests to inspect."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        user_agent: str,
        retry_delay_override: float | None = None,
        request_timeout: float = 10.0,
        log_size: int = 10000,
    ) -> None:
        self.scheduler = scheduler
        self.user_agent = user_agent
        self.retry_delay_override = retry_delay_override
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[_Job | None]] = {}
        self._threads: list[threading.Thread] = []
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=log_size)
        self._generation = 0
        self._pending = 0
        self._closed = False

    # --- public -----------------------------------------------------------------------------------------

    def submit(
        self, target: WebhookTarget, envelope: dict[str, Any], body: bytes, *, copies: int = 1
    ) -> None:
        """Queue ``copies`` deliveries of one event (the duplicate fault delivers the same body twice)."""
        request_id = str(ULID())
        with self._lock:
            generation = self._generation
        for copy in range(1, copies + 1):
            self._enqueue(_Job(target, envelope, body, request_id, generation, copy=copy))

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def pending(self) -> int:
        """Deliveries queued, in flight or waiting for a retry."""
        with self._lock:
            return self._pending

    def clear(self) -> None:
        """Forget the log and drop every queued or scheduled retry (used by the simulator's reset)."""
        with self._lock:
            self._generation += 1
            self._log.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._generation += 1
            queues = list(self._queues.values())
        for q in queues:
            q.put(None)

    # --- internals --------------------------------------------------------------------------------------

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            if self._closed or job.generation != self._generation:
                return
            q = self._queues.get(job.target.url)
            if q is None:
                q = queue.Queue()
                self._queues[job.target.url] = q
                thread = threading.Thread(
                    target=self._worker, args=(q,), name=f"waha-sim-webhook-{len(self._queues)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._pending += 1
        q.put(job)

    def _worker(self, q: queue.Queue[_Job | None]) -> None:
        while True:
            job = q.get()
            if job is None:
                return
            try:
                self._deliver(job)
            finally:
                with self._lock:
                    self._pending -= 1

    # long-function: one delivery with its retries, steps in order
    def _deliver(self, job: _Job) -> None:
        with self._lock:
            if job.generation != self._generation:
                return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            "X-Webhook-Request-Id": job.request_id,
            "X-Webhook-Timestamp": str(job.envelope.get("timestamp", "")),
        }
        for name, value in job.target.custom_headers:
            headers[name] = value
        if job.target.hmac_key:
            headers["X-Webhook-Hmac"] = sign(job.body, job.target.hmac_key)
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        request = urllib.request.Request(  # noqa: S310 - from_config allows http(s) only
            job.target.url, data=job.body, headers=headers, method="POST"
        )
        try:
            with _OPENER.open(request, timeout=self.request_timeout) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        ok = status is not None and 200 <= status < 300
        with self._lock:
            if job.generation != self._generation:
                return
            self._log.append(
                {
                    "event_id": job.envelope.get("id"),
                    "event": job.envelope.get("event"),
                    "session": job.envelope.get("session"),
                    "url": job.target.url,
                    "attempt": job.attempt,
                    "copy": job.copy,
                    "status_code": status,
                    "ok": ok,
                    "error": error,
                    "request_id": job.request_id,
                    "signed": bool(job.target.hmac_key),
                    "at": int(time.time() * 1000),
                    "body": job.envelope,
                }
            )
        if ok or job.attempt >= job.target.attempts:
            return
        delay = job.target.retry_delay(job.attempt)
        if retry_after is not None:
            delay = retry_after
        if self.retry_delay_override is not None:
            delay = self.retry_delay_override
        retry = _Job(
            job.target,
            job.envelope,
            job.body,
            job.request_id,
            job.generation,
            attempt=job.attempt + 1,
            copy=job.copy,
        )
        with self._lock:
            self._pending += 1  # counted while waiting in the scheduler

        def requeue() -> None:
            with self._lock:
                self._pending -= 1
            self._enqueue(retry)

        self.scheduler.schedule(delay, requeue)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
