"""Fixtures for the Kalshi client tests: the loopback demo server and clients pointed at it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer, ServerRateLimits
from kalshi_assets.kalshi import BreakerRegistry, KalshiClient, RateLimiter, RateLimitTier, RetryPolicy


@pytest.fixture(scope="session")
def exchange() -> DemoExchange:
    return DemoExchange(seed=7)


@pytest.fixture(scope="session")
def demo_private_pem() -> bytes:
    return demo_key_pair()[0]


@pytest.fixture
def server(exchange: DemoExchange) -> Iterator[DemoServer]:
    """A demo server without rate limits (tests that want 429s build their own)."""
    with DemoServer(exchange, rate_limits=None, record_responses=True) as running:
        yield running


@pytest.fixture
def limited_server(exchange: DemoExchange) -> Iterator[DemoServer]:
    with DemoServer(exchange, rate_limits=ServerRateLimits(reads_per_second=5, writes_per_second=2)) as running:
        yield running


class Recorder:
    """Collects on_request callbacks and retry sleeps."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int | None, float, str | None]] = []
        self.sleeps: list[float] = []

    def on_request(self, method: str, path: str, status: int | None, elapsed_ms: float, code: str | None) -> None:
        self.requests.append((method, path, status, elapsed_ms, code))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def statuses(self) -> list[int | None]:
        return [status for _, _, status, _, _ in self.requests]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


FAST_TIER = RateLimitTier("test", 10_000, 10_000)


@pytest.fixture
def make_client(
    server: DemoServer, demo_private_pem: bytes, recorder: Recorder
) -> Iterator[Callable[..., KalshiClient]]:
    clients: list[KalshiClient] = []

    def build(signed: bool = True, **overrides: Any) -> KalshiClient:
        settings: dict[str, Any] = {
            "retry": RetryPolicy(max_attempts=6, base_delay_s=0.001, max_delay_s=0.01, rng=random.Random(1)),
            "rate_limiter": RateLimiter(FAST_TIER),
            "breaker_registry": BreakerRegistry(),
            "on_request": recorder.on_request,
            "sleep": recorder.sleep,
            "timeout_s": (2.0, 5.0),
        }
        if signed:
            settings.update(api_key_id=DEMO_API_KEY_ID, private_key_pem=demo_private_pem)
        settings.update(overrides)
        base_url = settings.pop("base_url", server.base_url)
        client = KalshiClient(base_url, **settings)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
