"""The circuit breaker: thresholds, fail-fast, a single probe, neutral 4xx, no serialization."""

from __future__ import annotations

import threading

import pytest

from kalshi_assets.kalshi.breaker import BreakerRegistry, BreakerState, CircuitBreaker
from kalshi_assets.kalshi.errors import (
    CircuitOpenError,
    KalshiBadRequest,
    KalshiNotFound,
    KalshiRateLimited,
    KalshiServerError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fail() -> None:
    raise KalshiServerError("boom", status=500, code="internal_server_error")


def not_found() -> None:
    raise KalshiNotFound("no such market", status=404, code="not_found")


def ok() -> str:
    return "ok"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str, str, str, int]]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list) -> CircuitBreaker:
    def record(name: str, old: str, new: str, stats) -> None:
        changes.append((name, old, new, stats.failures))

    return CircuitBreaker(
        "kalshi", failure_threshold=5, recovery_timeout_s=30, success_threshold=1, clock=clock, on_state_change=record
    )


def test_opens_after_five_consecutive_failures_and_fails_fast(breaker: CircuitBreaker, changes: list) -> None:
    for _ in range(4):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(KalshiServerError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    assert changes == [("kalshi", "closed", "open", 5)]

    calls = []
    with pytest.raises(CircuitOpenError) as raised:
        breaker.call(lambda: calls.append(1))
    assert calls == [], "an open breaker must not call through"
    assert raised.value.breaker_name == "kalshi"
    assert 29 < raised.value.retry_in_s <= 30
    stats = breaker.stats()
    assert (stats.state, stats.calls, stats.failures, stats.rejected) == ("open", 5, 5, 1)
    assert stats.success_rate == 0.0


def test_success_resets_the_streak(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)
    assert breaker.call(ok) == "ok"
    for _ in range(4):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)
    assert breaker.state is BreakerState.CLOSED


def test_client_errors_neither_count_nor_reset(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)
    for error in (not_found, lambda: (_ for _ in ()).throw(KalshiBadRequest("bad", status=400))):
        with pytest.raises((KalshiNotFound, KalshiBadRequest)):
            breaker.call(error)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.stats().consecutive_failures == 4, "a 4xx must not reset the streak"
    with pytest.raises(KalshiServerError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    stats = breaker.stats()
    assert (stats.failures, stats.neutral, stats.successes) == (5, 2, 0)


def test_rate_limited_counts_as_failure(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        with pytest.raises(KalshiRateLimited):
            breaker.call(lambda: (_ for _ in ()).throw(KalshiRateLimited("too many requests", status=429)))
    assert breaker.state is BreakerState.OPEN


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)


def test_exactly_one_probe_after_timeout_then_closes(breaker: CircuitBreaker, clock: FakeClock, changes) -> None:
    _open(breaker)
    clock.now += 29.9
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    clock.now += 0.2

    probe_started, release_probe = threading.Event(), threading.Event()
    results: list[object] = []

    def slow_probe() -> str:
        probe_started.set()
        assert release_probe.wait(5)
        return "probed"

    prober = threading.Thread(target=lambda: results.append(breaker.call(slow_probe)))
    prober.start()
    assert probe_started.wait(5)
    assert breaker.state is BreakerState.HALF_OPEN
    # While the probe is in flight every other call fails fast, without being called.
    called = []
    for _ in range(3):
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: called.append(1))
    assert called == []
    release_probe.set()
    prober.join()
    assert results == ["probed"]
    assert breaker.state is BreakerState.CLOSED
    assert [(old, new) for _, old, new, _ in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert breaker.call(ok) == "ok"


def test_failed_probe_reopens_for_a_full_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _open(breaker)
    clock.now += 31
    with pytest.raises(KalshiServerError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    clock.now += 2
    assert breaker.call(ok) == "ok"
    assert breaker.state is BreakerState.CLOSED


def test_closes_only_after_m_successes(clock: FakeClock) -> None:
    breaker = CircuitBreaker("m", failure_threshold=2, recovery_timeout_s=10, success_threshold=3, clock=clock)
    for _ in range(2):
        with pytest.raises(KalshiServerError):
            breaker.call(fail)
    clock.now += 10
    for expected in (BreakerState.HALF_OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED):
        assert breaker.call(ok) == "ok"
        assert breaker.state is expected


def test_neutral_probe_releases_the_probe_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _open(breaker)
    clock.now += 31
    with pytest.raises(KalshiNotFound):
        breaker.call(not_found)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(ok) == "ok"
    assert breaker.state is BreakerState.CLOSED


def test_concurrent_calls_are_not_serialized(breaker: CircuitBreaker) -> None:
    """Four calls must be inside the protected function at the same time."""
    barrier = threading.Barrier(4, timeout=5)
    results: list[int] = []

    def call_through() -> None:
        results.append(breaker.call(barrier.wait))

    threads = [threading.Thread(target=call_through) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 2, 3], "the barrier broke: calls were serialized"
    assert breaker.stats().successes == 4


def test_stale_success_does_not_close_an_open_breaker(breaker: CircuitBreaker) -> None:
    """A slow call admitted while closed that succeeds after the breaker opened changes nothing."""
    started, finish = threading.Event(), threading.Event()

    def slow_ok() -> str:
        started.set()
        assert finish.wait(5)
        return "late"

    slow = threading.Thread(target=lambda: breaker.call(slow_ok))
    slow.start()
    assert started.wait(5)
    _open(breaker)
    finish.set()
    slow.join()
    assert breaker.state is BreakerState.OPEN


def test_failing_observer_does_not_break_the_breaker(clock: FakeClock) -> None:
    def explode(*args) -> None:
        raise RuntimeError("audit log down")

    breaker = CircuitBreaker("x", failure_threshold=1, clock=clock, on_state_change=explode)
    with pytest.raises(KalshiServerError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN


def test_registry_shares_breakers_and_reports_stats(clock: FakeClock) -> None:
    seen: list[tuple[str, str, str]] = []
    registry = BreakerRegistry(
        failure_threshold=2, recovery_timeout_s=5, clock=clock, on_state_change=lambda n, o, w, s: seen.append((n, o, w))
    )
    kalshi = registry.get("kalshi")
    assert registry.get("kalshi") is kalshi
    macro = registry.get("alfred", failure_threshold=1)
    assert kalshi.call(ok) == "ok"
    with pytest.raises(KalshiServerError):
        macro.call(fail)
    stats = registry.stats()
    assert registry.names() == ["alfred", "kalshi"]
    assert stats["kalshi"].as_dict() | {"last_failure": None} == {
        "name": "kalshi",
        "state": "closed",
        "calls": 1,
        "successes": 1,
        "failures": 0,
        "neutral": 0,
        "rejected": 0,
        "consecutive_failures": 0,
        "success_rate": 1.0,
        "opened_count": 0,
        "last_failure": None,
    }
    assert stats["alfred"].state == "open" and stats["alfred"].success_rate == 0.0
    assert "KalshiServerError" in (stats["alfred"].last_failure or "")
    assert seen == [("alfred", "closed", "open")]


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", recovery_timeout_s=-1)
