"""Fixtures for the trading tests: an audit log in tmp_path, a small book, order and client builders."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kalshi_assets.audit import AuditLog
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer
from kalshi_assets.kalshi import KalshiClient, RateLimiter, RateLimitTier, RetryPolicy
from kalshi_assets.trading import LIVE_TRADING_CONFIRMATION, LIVE_TRADING_ENV, Order, OrderBook, StaticBooks

DECIDED_AT = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
TICKER = "KXCPI-26OCT-T0.5"
EVENT = "KXCPI-26OCT"


@pytest.fixture(autouse=True)
def _no_audit_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each audit log uses the key file inside its own tmp directory.
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)
    monkeypatch.delenv(LIVE_TRADING_ENV, raising=False)


@pytest.fixture
def audit_log(tmp_path: Path) -> Iterator[AuditLog]:
    with AuditLog(tmp_path / "audit", fsync="off") as log:
        yield log


def make_order(
    count: int = 10,
    price: str = "0.52",
    *,
    side: str = "yes",
    action: str = "buy",
    ticker: str = TICKER,
    strategy: str = "normal_h1d_edge0.02",
    decided_at: datetime = DECIDED_AT,
    time_in_force: str = "immediate_or_cancel",
) -> Order:
    return Order.create(
        strategy, EVENT, ticker, side, action, count, price, decided_at, time_in_force=time_in_force
    )


@pytest.fixture
def order() -> Callable[..., Order]:
    return make_order


def cpi_book() -> OrderBook:
    """YES bids 0.46 x 40, 0.47 x 60, 0.48 x 30; NO bids 0.48 x 50, 0.49 x 20, 0.50 x 25.

    So the YES asks are 0.50 x 25, 0.51 x 20, 0.52 x 50 (1 - NO bid, best first).
    """
    return OrderBook.from_levels(
        [("0.4600", "40.00"), ("0.4700", "60.00"), ("0.4800", "30.00")],
        [("0.4800", "50.00"), ("0.4900", "20.00"), ("0.5000", "25.00")],
    )


@pytest.fixture
def books() -> StaticBooks:
    return StaticBooks({TICKER: cpi_book()})


def records(log: AuditLog) -> list[dict[str, Any]]:
    return log.query()


def money(text: str) -> Decimal:
    return Decimal(text)


# --- the loopback demo exchange and signed clients ---------------------------------------------------

FAST_TIER = RateLimitTier("test", 10_000, 10_000)


@pytest.fixture(scope="session")
def demo_exchange() -> DemoExchange:
    return DemoExchange(seed=7)


@pytest.fixture
def demo_server(demo_exchange: DemoExchange) -> Iterator[DemoServer]:
    with DemoServer(demo_exchange, rate_limits=None) as running:
        yield running


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_TRADING_ENV, LIVE_TRADING_CONFIRMATION)


@pytest.fixture
def signed_client(demo_server: DemoServer) -> Iterator[Callable[..., KalshiClient]]:
    clients: list[KalshiClient] = []

    def build(**overrides: Any) -> KalshiClient:
        settings: dict[str, Any] = {
            "api_key_id": DEMO_API_KEY_ID,
            "private_key_pem": demo_key_pair()[0],
            "retry": RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.01, rng=random.Random(1)),
            "rate_limiter": RateLimiter(FAST_TIER),
            "sleep": lambda _s: None,
            "timeout_s": (10.0, 30.0),  # generous: a loaded CI machine must not turn into a retry
        }
        settings.update(overrides)
        client = KalshiClient(demo_server.base_url, **settings)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def active_market(exchange: DemoExchange, series: str = "KXCPI") -> dict[str, Any]:
    """An open demo market with a two-sided book at the demo's now."""
    for market in exchange.markets(series_ticker=series):
        if market["status"] != "active":
            continue
        book = exchange.orderbook(market["ticker"])["orderbook_fp"]
        if book["yes_dollars"] and book["no_dollars"]:
            return market
    raise LookupError(f"no active two-sided market in {series}")
