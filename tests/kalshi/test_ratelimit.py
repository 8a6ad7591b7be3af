"""Token buckets: refill arithmetic, reservation under concurrency, sleeping outside the lock."""

from __future__ import annotations

import threading

import pytest

from kalshi_assets.kalshi.ratelimit import TIERS, RateLimiter, RateLimitTier, TokenBucket, resolve_tier


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_serves_its_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=5, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0, 0, 0, 0, 0]
    # Every further token costs 1/10 s.
    assert bucket.acquire() == pytest.approx(0.1)
    assert bucket.acquire() == pytest.approx(0.1)
    # Over a long run the rate converges to 10/s: 100 more requests take 10 s of clock.
    start = clock.now
    for _ in range(100):
        bucket.acquire()
    assert clock.now - start == pytest.approx(10.0)


def test_bucket_refills_up_to_capacity_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20, capacity=4, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        assert bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.now += 0.051  # one token (and a hair, against float rounding)
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.now += 60
    assert bucket.available == pytest.approx(4)


def test_concurrent_reservations_lose_no_tokens() -> None:
    """With the clock frozen, the k-th reservation beyond the burst waits (k - capacity) / rate,
    whatever the interleaving of threads: no update may be lost."""
    clock = FakeClock()
    bucket = TokenBucket(50, capacity=10, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = sorted([0.0] * 10 + [(k - 10) / 50 for k in range(11, 321)])
    assert sorted(waits) == pytest.approx(expected)


def test_waiting_caller_does_not_hold_the_lock() -> None:
    """A caller asleep for its tokens must not block others from the bucket."""
    bucket = TokenBucket(1, capacity=1)  # real clock: the second token takes a second
    bucket.acquire()
    sleeper = threading.Thread(target=bucket.acquire)
    sleeper.start()
    try:
        probe_done = threading.Event()

        def probe() -> None:
            bucket.try_acquire()
            _ = bucket.available
            probe_done.set()

        threading.Thread(target=probe).start()
        assert probe_done.wait(0.5), "try_acquire blocked behind a sleeping acquire"
    finally:
        sleeper.join()


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(5, capacity=0.5)
    with pytest.raises(ValueError):
        TokenBucket(5, capacity=2).reserve(3)


def test_tiers_and_read_write_split() -> None:
    assert resolve_tier("Basic") == RateLimitTier("basic", 20, 10)
    assert TIERS["prime"].reads_per_second == 400
    with pytest.raises(ValueError, match="unknown rate-limit tier"):
        resolve_tier("platinum")
    clock = FakeClock()
    limiter = RateLimiter("basic", clock=clock, sleep=clock.sleep)
    assert limiter.bucket_for("GET") is limiter.reads
    assert limiter.bucket_for("post") is limiter.writes
    assert limiter.bucket_for("DELETE") is limiter.writes
    assert limiter.reads.rate == 20 and limiter.writes.rate == 10
    # The client's burst is half a second of tokens, below the server's one second.
    assert limiter.reads.capacity == 10 and limiter.writes.capacity == 5
    # Reads do not spend write tokens.
    for _ in range(10):
        limiter.acquire("GET")
    assert limiter.writes.available == pytest.approx(5)
