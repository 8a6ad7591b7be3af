"""When and how long to wait before retrying a Kalshi request.

Hand-written rather than tenacity: whether an attempt may be retried depends on the HTTP method
and on the order body carrying a `client_order_id`, the wait honours a `Retry-After` answer, and
the client needs the decision per attempt to re-sign, re-acquire rate-limit tokens and pass the
circuit breaker each time; a policy object plus a loop in the client says that more plainly.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kalshi_assets.kalshi.errors import (
    KalshiConnectionError,
    KalshiError,
    KalshiRateLimited,
    KalshiResponseError,
    KalshiServerError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(max, base * 2**n)).

    A `Retry-After` from the server replaces the computed wait (capped at `max_retry_after_s`).
    `max_attempts` is a call's whole budget: the circuit breaker counts the call once, after it (see
    `client.py`), so at 30% transient faults a call fails only with probability 0.3**10.
    """

    max_attempts: int = 10
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    max_retry_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must not be negative")

    def backoff_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return self.rng.uniform(0.0, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)


def is_transient(error: BaseException) -> bool:
    """429, 5xx, a lost connection or a mangled body: worth another attempt."""
    return isinstance(
        error, KalshiRateLimited | KalshiServerError | KalshiConnectionError | KalshiResponseError
    )


def may_retry(method: str, error: BaseException, *, has_client_order_id: bool) -> bool:
    """Reads are retried on transient errors. A write only with its original client_order_id, which
    the exchange de-duplicates, so a retry after an unseen success cannot place a second order."""
    if not isinstance(error, KalshiError) or not is_transient(error):
        return False
    if method.upper() in ("GET", "HEAD"):
        return True
    return has_client_order_id


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - now(), 0.0)
