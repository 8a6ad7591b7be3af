"""Fault injection for the demo server: random rates per request plus scripted faults for tests."""

from __future__ import annotations

import collections
import random
import threading
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class FaultConfig:
    """Random faults, each drawn per request. Rates are probabilities in [0, 1]."""

    error_rate: float = 0.0
    error_status: int = 500
    latency_s: float = 0.0  # added to every request
    drop_rate: float = 0.0  # close the connection without answering
    truncate_rate: float = 0.0  # cut a successful JSON body in half
    seed: int | None = None
    throttle_rate: float = 0.0  # answer 429 {"error": "too many requests"} without Retry-After, like Kalshi

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "truncate_rate", "throttle_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        total = self.error_rate + self.drop_rate + self.truncate_rate + self.throttle_rate
        if total > 1.0:
            raise ValueError(f"the fault rates add up to {total:g}, more than 1")
        if self.latency_s < 0:
            raise ValueError(f"latency_s must not be negative, got {self.latency_s}")
        if not 400 <= self.error_status <= 599:
            raise ValueError(f"error_status must be an HTTP error status, got {self.error_status}")


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    kind: 'status' (answer `status` without processing), 'drop' (close the connection without
    processing), 'drop_after' (process, then close without answering: the answer is lost but the
    effect, say a placed order, happened) or 'truncate' (cut a successful JSON body in half).
    """

    kind: str
    status: int = 500
    retry_after: str | None = None


class Faults:
    """Thread-safe fault switches: random rates (`configure`) plus scripted faults (`force_*`) that
    hit the next matching requests in order, for deterministic tests."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._rng = random.Random(self._config.seed)
        self._scripted: collections.deque[tuple[Fault, str | None]] = collections.deque()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> None:
        with self._lock:
            self._config = replace(self._config, **changes)
            if "seed" in changes:
                self._rng = random.Random(changes["seed"])

    def force_status(
        self, status: int, times: int = 1, *, retry_after: str | None = None, path_prefix: str | None = None
    ) -> None:
        self._force(Fault("status", status, retry_after), times, path_prefix)

    def force_drop(self, times: int = 1, *, path_prefix: str | None = None) -> None:
        self._force(Fault("drop"), times, path_prefix)

    def force_drop_after(self, times: int = 1, *, path_prefix: str | None = None) -> None:
        self._force(Fault("drop_after"), times, path_prefix)

    def force_truncate(self, times: int = 1, *, path_prefix: str | None = None) -> None:
        self._force(Fault("truncate"), times, path_prefix)

    def _force(self, fault: Fault, times: int, path_prefix: str | None) -> None:
        with self._lock:
            self._scripted.extend([(fault, path_prefix)] * times)

    def clear(self) -> None:
        with self._lock:
            self._config = FaultConfig(seed=self._config.seed)
            self._scripted.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._scripted)

    def draw(self, path: str) -> tuple[float, Fault | None]:
        """(latency to add, the fault for this request or None)."""
        with self._lock:
            config = self._config
            for index, (fault, prefix) in enumerate(self._scripted):
                if prefix is None or path.startswith(prefix):
                    del self._scripted[index]
                    return config.latency_s, fault
            roll = self._rng.random()
            if roll < config.drop_rate:
                return config.latency_s, Fault("drop")
            roll -= config.drop_rate
            if roll < config.error_rate:
                return config.latency_s, Fault("status", config.error_status)
            roll -= config.error_rate
            if roll < config.truncate_rate:
                return config.latency_s, Fault("truncate")
            roll -= config.truncate_rate
            if roll < config.throttle_rate:
                return config.latency_s, Fault("status", 429)
            return config.latency_s, None
