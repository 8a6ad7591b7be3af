"""The demo exchange as a loopback HTTP server that speaks Kalshi's Trade API v2.

It serves `DemoExchange` data under Kalshi's paths and answer shapes, the historical tier included
(`/historical/cutoff`, `/historical/markets[/{ticker}[/candlesticks]]`, `/historical/trades`), with
cursor pagination, RSA-PSS signature checks on authenticated paths (the demo key pair; 401 on a bad or
stale signature), token-bucket rate limits that answer 429 `{"error": "too many requests"}` without a
Retry-After header like Kalshi, in-memory paper orders (a duplicate `client_order_id` answers 409),
and switches for fault injection: error rate, latency, dropped connections and truncated JSON.

Modules: `faults` (injection), `wire` (error bodies, cursors, query parameters), `routes` (`DemoApi`:
routing, auth, rate limits, market data), `orders` (portfolio endpoints and paper fills), `http`
(`DemoServer` in a background thread for tests, `serve()` for `kalshi-assets demo-server`).
"""

from kalshi_assets.demo.server.faults import Fault, FaultConfig, Faults
from kalshi_assets.demo.server.http import MAX_BODY_BYTES, DemoServer, serve
from kalshi_assets.demo.server.orders import DEMO_BALANCE_CENTS, DEMO_USER_ID, _paper_order
from kalshi_assets.demo.server.routes import DEFAULT_RATE_LIMITS, DemoApi, ServerRateLimits, ServerStats
from kalshi_assets.demo.server.wire import API_PREFIX, ApiError, Query, decode_cursor, encode_cursor, page

__all__ = [
    "API_PREFIX",
    "DEFAULT_RATE_LIMITS",
    "DEMO_BALANCE_CENTS",
    "DEMO_USER_ID",
    "MAX_BODY_BYTES",
    "ApiError",
    "DemoApi",
    "DemoServer",
    "Fault",
    "FaultConfig",
    "Faults",
    "Query",
    "ServerRateLimits",
    "ServerStats",
    "_paper_order",
    "decode_cursor",
    "encode_cursor",
    "page",
    "serve",
]
