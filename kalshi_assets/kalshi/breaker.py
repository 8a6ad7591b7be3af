"""Circuit breakers, one per external API, kept in a registry with their statistics.

Written here instead of using pybreaker because pybreaker holds one lock for the whole protected
call (concurrent calls through one breaker run one at a time) and counts excluded exceptions as
successes (a 404 would reset the failure streak). This breaker takes its lock only to read and
change state, never around the call, and an excluded outcome is neutral: it neither counts as a
failure nor resets the count.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from kalshi_assets.kalshi.errors import CircuitOpenError, KalshiError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # for example a 404: the API answered correctly, the request was wrong


@dataclass(frozen=True)
class BreakerStats:
    name: str
    state: str
    calls: int  # calls admitted through the breaker
    successes: int
    failures: int
    neutral: int  # outcomes that counted neither way (4xx other than 429)
    rejected: int  # calls refused fast while open
    consecutive_failures: int
    success_rate: float  # successes / (successes + failures); 1.0 before any counted outcome
    opened_count: int
    last_failure: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


StateChangeCallback = Callable[[str, str, str, BreakerStats], None]


def classify_kalshi_outcome(exc: BaseException) -> Outcome:
    """A Kalshi client error of 4xx other than 429 is the caller's mistake, not an API failure; a call
    cut short because the breaker opened under it says nothing new about the API."""
    if isinstance(exc, CircuitOpenError):
        return Outcome.NEUTRAL
    if (
        isinstance(exc, KalshiError)
        and exc.status is not None
        and 400 <= exc.status < 500
        and exc.status != 429
    ):
        return Outcome.NEUTRAL
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: say nothing about the API
        return Outcome.NEUTRAL
    return Outcome.FAILURE


class _Permit:
    __slots__ = ("probe", "generation")

    def __init__(self, probe: bool, generation: int) -> None:
        self.probe = probe
        self.generation = generation


# The integration promises: open after 5 consecutive failed calls, probe after 60 s, close after 2
# successful probes in a row. The Kalshi client counts a call once, after its whole retry budget.
FAILURE_THRESHOLD = 5
RECOVERY_TIMEOUT_S = 60.0
SUCCESS_THRESHOLD = 2


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures, fails fast while open, admits exactly
    one probe once `recovery_timeout_s` has passed, and closes after `success_threshold` successful
    probes in a row (a failed probe reopens it). While open, the `CircuitOpenError` it raises carries
    the failure that opened it as `__cause__`."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        recovery_timeout_s: float = RECOVERY_TIMEOUT_S,
        success_threshold: int = SUCCESS_THRESHOLD,
        classify: Callable[[BaseException], Outcome] = classify_kalshi_outcome,
        on_state_change: StateChangeCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or success_threshold < 1:
            raise ValueError("failure_threshold and success_threshold must be at least 1")
        if recovery_timeout_s < 0:
            raise ValueError("recovery_timeout_s must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout_s = recovery_timeout_s
        self.success_threshold = success_threshold
        self._classify = classify
        self._on_state_change = on_state_change
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        # Bumped on every transition so an outcome of a call admitted under an older state
        # (a slow call that started while closed) cannot close or reopen the breaker.
        self._generation = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._consecutive_failures = 0
        self._half_open_successes = 0
        self._calls = self._successes = self._failures = self._neutral = self._rejected = 0
        self._opened_count = 0
        self._last_failure: str | None = None
        self._last_error: BaseException | None = None

    # --- state -------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def stats(self) -> BreakerStats:
        with self._lock:
            return self._stats_locked()

    def retry_in_s(self) -> float:
        """Seconds until an open breaker admits its next probe (0 unless open)."""
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.recovery_timeout_s - (self._clock() - self._opened_at))

    def _stats_locked(self) -> BreakerStats:
        counted = self._successes + self._failures
        return BreakerStats(
            name=self.name,
            state=self._state.value,
            calls=self._calls,
            successes=self._successes,
            failures=self._failures,
            neutral=self._neutral,
            rejected=self._rejected,
            consecutive_failures=self._consecutive_failures,
            success_rate=self._successes / counted if counted else 1.0,
            opened_count=self._opened_count,
            last_failure=self._last_failure,
        )

    def _transition_locked(self, new: BreakerState, events: list[tuple[str, str, BreakerStats]]) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self._generation += 1
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
            self._opened_count += 1
        if new is BreakerState.HALF_OPEN:
            self._half_open_successes = 0
        if new is BreakerState.CLOSED:
            self._consecutive_failures = 0
        self._probe_in_flight = False
        events.append((old.value, new.value, self._stats_locked()))

    def _notify(self, events: list[tuple[str, str, BreakerStats]]) -> None:
        # Outside the lock: the callback (the audit log) may be slow or call back into stats().
        for old, new, stats in events:
            logger.log(
                logging.WARNING if new != BreakerState.CLOSED.value else logging.INFO,
                "circuit breaker %r: %s -> %s (failures=%d, success_rate=%.3f)",
                self.name, old, new, stats.failures, stats.success_rate,
            )  # fmt: skip
            if self._on_state_change is not None:
                try:
                    self._on_state_change(self.name, old, new, stats)
                except Exception:
                    # The breaker must keep protecting the API even if its observer breaks.
                    logger.exception("on_state_change callback failed for breaker %r", self.name)

    # --- admission and outcomes --------------------------------------------------------------

    def _admit(self) -> _Permit:
        events: list[tuple[str, str, BreakerStats]] = []
        try:
            with self._lock:
                if self._state is BreakerState.OPEN:
                    waited = self._clock() - self._opened_at
                    if waited < self.recovery_timeout_s:
                        self._rejected += 1
                        raise CircuitOpenError(
                            self.name, self.recovery_timeout_s - waited, last_failure=self._last_error
                        ) from self._last_error
                    self._transition_locked(BreakerState.HALF_OPEN, events)
                if self._state is BreakerState.HALF_OPEN:
                    if self._probe_in_flight:
                        self._rejected += 1
                        raise CircuitOpenError(self.name, 0.0, last_failure=self._last_error) from self._last_error
                    self._probe_in_flight = True
                    self._calls += 1
                    return _Permit(probe=True, generation=self._generation)
                self._calls += 1
                return _Permit(probe=False, generation=self._generation)
        finally:
            self._notify(events)

    def _record(self, permit: _Permit, outcome: Outcome, error: BaseException | None = None) -> None:
        events: list[tuple[str, str, BreakerStats]] = []
        with self._lock:
            current = permit.generation == self._generation
            if outcome is Outcome.NEUTRAL:
                self._neutral += 1
                if permit.probe and current:
                    self._probe_in_flight = False  # the next caller may probe
            elif outcome is Outcome.SUCCESS:
                self._successes += 1
                if current and self._state is BreakerState.CLOSED:
                    self._consecutive_failures = 0
                elif current and permit.probe:
                    self._half_open_successes += 1
                    self._probe_in_flight = False
                    if self._half_open_successes >= self.success_threshold:
                        self._transition_locked(BreakerState.CLOSED, events)
            else:
                self._failures += 1
                self._last_failure = f"{type(error).__name__}: {error}" if error is not None else "failure"
                self._last_error = error
                if current and self._state is BreakerState.CLOSED:
                    self._consecutive_failures += 1
                    if self._consecutive_failures >= self.failure_threshold:
                        self._transition_locked(BreakerState.OPEN, events)
                elif current and permit.probe:
                    self._consecutive_failures += 1
                    self._transition_locked(BreakerState.OPEN, events)
        self._notify(events)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` through the breaker; raise `CircuitOpenError` without calling it while open."""
        permit = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._record(permit, self._classify(exc), exc)
            raise
        self._record(permit, Outcome.SUCCESS)
        return result

    def reset(self) -> None:
        """Force the breaker closed (an operator's action)."""
        events: list[tuple[str, str, BreakerStats]] = []
        with self._lock:
            self._transition_locked(BreakerState.CLOSED, events)
        self._notify(events)


class BreakerRegistry:
    """Named breakers (one per external API) sharing defaults and one state-change observer."""

    def __init__(
        self,
        *,
        on_state_change: StateChangeCallback | None = None,
        failure_threshold: int = FAILURE_THRESHOLD,
        recovery_timeout_s: float = RECOVERY_TIMEOUT_S,
        success_threshold: int = SUCCESS_THRESHOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_state_change = on_state_change
        self._defaults: dict[str, Any] = {
            "failure_threshold": failure_threshold,
            "recovery_timeout_s": recovery_timeout_s,
            "success_threshold": success_threshold,
        }
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str, **overrides: Any) -> CircuitBreaker:
        """The breaker called `name`, created with the registry defaults (plus overrides) on first use."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                settings = {**self._defaults, **overrides}
                breaker = CircuitBreaker(
                    name, on_state_change=self._on_state_change, clock=self._clock, **settings
                )
                self._breakers[name] = breaker
            return breaker

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._breakers)

    def stats(self) -> dict[str, BreakerStats]:
        with self._lock:
            breakers = list(self._breakers.values())
        return {breaker.name: breaker.stats() for breaker in breakers}


default_registry = BreakerRegistry()
