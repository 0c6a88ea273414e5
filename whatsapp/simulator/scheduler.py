"""A single-thread timer queue for the simulator's delayed work (status transitions, acks, webhook retries).

One thread with a heap instead of a ``threading.Timer`` per job: acks and retries can number in the
thousands during a load test and each Timer is a thread.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
import traceback
from collections.abc import Callable


class Scheduler:
    """Runs callables after a delay, in due-time order, on one daemon thread."""

    def __init__(self, name: str = "waha-sim-scheduler") -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._running = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._counter), fn))
            self._cond.notify()

    def idle(self) -> bool:
        """True when nothing is scheduled or running (tests use it to wait for quiescence)."""
        with self._cond:
            return not self._heap and not self._running

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, fn = heapq.heappop(self._heap)
                self._running += 1
            try:
                fn()
            except Exception:  # noqa: BLE001 - a failing job must not kill the scheduler
                traceback.print_exc(file=sys.stderr)
            finally:
                with self._cond:
                    self._running -= 1
