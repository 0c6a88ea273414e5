"""Pacing: slot arithmetic and the shared per-session state (database and Redis backends, several threads)."""

from __future__ import annotations

import itertools
import random
import statistics
import threading

import pytest
from django.db import connection

from billing.dispatch import pacing
from billing.models import PacingState


def test_slot_gaps_stay_within_delay_plus_minus_jitter_and_average_the_delay():
    rng = random.Random(7)
    gaps = [pacing.slot_gap(delay=1.0, jitter=0.2, rng=rng) for _ in range(5000)]
    assert min(gaps) >= 0.8
    assert max(gaps) <= 1.2
    assert statistics.mean(gaps) == pytest.approx(1.0, abs=0.01)


def test_the_guard_keeps_gaps_off_the_exact_minimum():
    rng = random.Random(1)
    gaps = [pacing.slot_gap(delay=1.0, jitter=0.2, rng=rng) for _ in range(2000)]
    assert min(gaps) >= 0.8 + pacing.JITTER_GUARD_SECONDS - 1e-9


def test_no_delay_means_no_gap():
    assert pacing.slot_gap(delay=0, jitter=0) == 0.0


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False


def _backends():
    params = [pytest.param("db", id="db")]
    params.append(
        pytest.param(
            "redis",
            id="redis",
            marks=pytest.mark.skipif(
                not _redis_available(), reason="Redis is not reachable at 127.0.0.1:6379"
            ),
        )
    )
    return params


@pytest.fixture(params=_backends())
def backend(request, settings):
    settings.DISPATCH_PACING_BACKEND = request.param
    if request.param == "redis":
        if not settings.REDIS_URL:
            settings.REDIS_URL = "redis://127.0.0.1:6379/15"
        pacing._redis.cache_clear()
        pacing._redis_reserve_script.cache_clear()
    yield request.param
    pacing._redis.cache_clear()
    pacing._redis_reserve_script.cache_clear()


@pytest.fixture
def session_name(backend, db):
    name = f"pacing-test-{random.randrange(10**9)}"
    yield name
    pacing.pacing_reset(session_name=name)


def test_consecutive_reservations_are_spaced_by_the_delay(session_name):
    first = pacing.pacing_reserve(session_name=session_name, delay=2, jitter=0, daily_cap=100)
    second = pacing.pacing_reserve(session_name=session_name, delay=2, jitter=0, daily_cap=100)
    gap = (second.slots[0] - first.slots[0]).total_seconds()
    assert gap == pytest.approx(2, abs=0.002)


def test_a_slot_beyond_the_horizon_is_not_reserved(session_name):
    pacing.pacing_reserve(session_name=session_name, delay=30, jitter=0, daily_cap=100)
    later = pacing.pacing_reserve(session_name=session_name, delay=30, jitter=0, daily_cap=100, horizon=5)
    assert later.slots == []
    assert later.next_free_at is not None
    assert pacing.pacing_sent_today(session_name=session_name) == 1


def test_the_daily_cap_stops_reservations_and_a_refund_gives_one_back(session_name):
    batch = pacing.pacing_reserve(session_name=session_name, delay=0, jitter=0, daily_cap=3, count=5)
    assert len(batch.slots) == 3
    assert pacing.pacing_reserve(session_name=session_name, delay=0, jitter=0, daily_cap=3).cap_reached
    pacing.pacing_refund(session_name=session_name, count=1)
    assert len(pacing.pacing_reserve(session_name=session_name, delay=0, jitter=0, daily_cap=3).slots) == 1


@pytest.mark.django_db(transaction=True)
def test_two_threads_share_one_pace(backend):
    name = f"threads-{random.randrange(10**9)}"
    slots: list = []
    lock = threading.Lock()
    errors: list = []

    def worker():
        try:
            for _ in range(15):
                reservation = pacing.pacing_reserve(session_name=name, delay=0.1, jitter=0.02, daily_cap=1000)
                with lock:
                    slots.extend(reservation.slots)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(slots) == 30
        ordered = sorted(slots)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
        assert min(gaps) >= 0.08 - 0.001
        assert statistics.mean(gaps) == pytest.approx(0.1, abs=0.01)
        assert pacing.pacing_sent_today(session_name=name) == 30
    finally:
        pacing.pacing_reset(session_name=name)


@pytest.mark.django_db(transaction=True)
def test_two_threads_never_exceed_the_daily_cap_together(backend):
    name = f"cap-{random.randrange(10**9)}"
    got: list = []
    lock = threading.Lock()

    def worker():
        try:
            for _ in range(20):
                reservation = pacing.pacing_reserve(session_name=name, delay=0, jitter=0, daily_cap=25)
                with lock:
                    got.extend(reservation.slots)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert len(got) == 25
    finally:
        pacing.pacing_reset(session_name=name)


def test_the_db_backend_keeps_its_state_in_the_pacing_row(settings, db):
    settings.DISPATCH_PACING_BACKEND = "db"
    pacing.pacing_reserve(session_name="row-check", delay=5, jitter=0, daily_cap=10)
    state = PacingState.objects.get(session_name="row-check")
    assert state.sent_today == 1
    assert state.next_send_at is not None
