"""Client-side token buckets, one for reads and one for writes, per Kalshi's rate-limit tiers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitTier:
    """Requests per second Kalshi allows one account, per bucket."""

    name: str
    reads_per_second: float
    writes_per_second: float


# The tiers Kalshi publishes. The current scheme (10 tokens a request, Basic 200/100 tokens a
# second) is the same request rate.
TIERS: dict[str, RateLimitTier] = {
    "basic": RateLimitTier("basic", 20, 10),
    "advanced": RateLimitTier("advanced", 30, 30),
    "premier": RateLimitTier("premier", 100, 100),
    "prime": RateLimitTier("prime", 400, 400),
}


def resolve_tier(tier: str | RateLimitTier) -> RateLimitTier:
    """A tier object from its name (case-insensitive) or the object itself."""
    if isinstance(tier, RateLimitTier):
        return tier
    try:
        return TIERS[tier.lower()]
    except KeyError:
        raise ValueError(f"unknown rate-limit tier {tier!r}; known: {', '.join(TIERS)}") from None


class TokenBucket:
    """A thread-safe token bucket that never sleeps while holding its lock.

    `acquire` reserves its tokens at once (the balance may go negative) and then sleeps for the
    time the debt takes to refill, so waiting callers are served in arrival order and the lock is
    held only for arithmetic.
    """

    def __init__(
        self,
        rate_per_second: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        self.rate = float(rate_per_second)
        self.capacity = float(capacity if capacity is not None else rate_per_second)
        if self.capacity < 1:
            raise ValueError(f"capacity must hold at least one token, got {self.capacity}")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._updated = clock()

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now

    def reserve(self, tokens: float = 1.0) -> float:
        """Take `tokens` now and return how many seconds the caller must wait before using them."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of capacity {self.capacity}")
        with self._lock:
            self._refill(self._clock())
            self._tokens -= tokens
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until `tokens` are available; return the seconds waited."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take `tokens` if they are there now, without waiting (the server side uses this)."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    @property
    def available(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._tokens


class RateLimiter:
    """The read and write buckets of one Kalshi account.

    The client's burst (`burst_seconds` of tokens, default half a second) is smaller than the
    server's bucket, so requests that leave together but arrive with jitter still fit under the
    server's limit; the sustained rate is the tier's full rate.
    """

    def __init__(
        self,
        tier: str | RateLimitTier = "basic",
        *,
        burst_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tier = resolve_tier(tier)
        if burst_seconds <= 0:
            raise ValueError(f"burst_seconds must be positive, got {burst_seconds}")

        def bucket(rate: float) -> TokenBucket:
            return TokenBucket(rate, max(1.0, rate * burst_seconds), clock=clock, sleep=sleep)

        self.reads = bucket(self.tier.reads_per_second)
        self.writes = bucket(self.tier.writes_per_second)

    def bucket_for(self, method: str) -> TokenBucket:
        """GETs spend read tokens; everything that changes state spends write tokens."""
        return self.reads if method.upper() in ("GET", "HEAD") else self.writes

    def acquire(self, method: str) -> float:
        return self.bucket_for(method).acquire()
