"""The demo exchange as a loopback HTTP server that speaks Kalshi's Trade API v2.

It serves `DemoExchange` data under Kalshi's paths and answer shapes, with cursor pagination,
RSA-PSS signature checks on authenticated paths (the demo key pair; 401 on a bad or stale
signature), token-bucket rate limits that answer 429 `{"error": "too many requests"}` without a
Retry-After header like Kalshi, in-memory paper orders (a duplicate `client_order_id` answers 409),
and switches for fault injection: error rate, latency, dropped connections and truncated JSON.

Use `DemoServer` in tests (port 0, a background thread, a context manager) and `serve()` (or
`kalshi-assets demo-server --port N`) to run it in the foreground.
"""

from __future__ import annotations

import base64
import binascii
import collections
import ipaddress
import json
import logging
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.kalshi.ratelimit import TokenBucket
from kalshi_assets.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    load_public_key,
    signing_message,
    verify_signature,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/trade-api/v2"
DEMO_BALANCE_CENTS = 100_000_00  # a constant paper balance of $100,000
MAX_BODY_BYTES = 1_000_000
DEMO_USER_ID = "00000000-0000-4000-8000-000000000001"
TAKER_FEE_RATE = Decimal("0.07")


class ApiError(Exception):
    """An error answer: status plus Kalshi's `{"error": {"code", "message", "service"}}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "service": "demo-exchange"}}


# --- fault injection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultConfig:
    """Random faults, each drawn per request. Rates are probabilities in [0, 1]."""

    error_rate: float = 0.0
    error_status: int = 500
    latency_s: float = 0.0  # added to every request
    drop_rate: float = 0.0  # close the connection without answering
    truncate_rate: float = 0.0  # cut a successful JSON body in half
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
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
            return config.latency_s, None


# --- rate limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerRateLimits:
    """The server's buckets per caller (API key, or client address when unsigned)."""

    reads_per_second: float = 20.0
    writes_per_second: float = 10.0
    burst_seconds: float = 1.0


class _CallerBuckets:
    def __init__(self, limits: ServerRateLimits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, caller: str, kind: str) -> bool:
        rate = self._limits.reads_per_second if kind == "read" else self._limits.writes_per_second
        with self._lock:
            bucket = self._buckets.get((caller, kind))
            if bucket is None:
                bucket = TokenBucket(rate, max(1.0, rate * self._limits.burst_seconds))
                self._buckets[(caller, kind)] = bucket
        return bucket.try_acquire()


# --- pagination ----------------------------------------------------------------------------------


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "invalid_parameters", "invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "invalid_parameters", "invalid cursor")
    return offset


def page(items: list[dict], limit: int, cursor: str | None) -> tuple[list[dict], str]:
    """A slice of `items` and the cursor of the next slice ("" at the end)."""
    offset = decode_cursor(cursor) if cursor else 0
    chunk = items[offset : offset + limit]
    following = offset + limit
    return chunk, encode_cursor(following) if following < len(items) else ""


# --- query helpers -----------------------------------------------------------------------------


class Query:
    """Typed access to query parameters; bad values answer 400 like the API."""

    def __init__(self, raw: str) -> None:
        self._values = parse_qs(raw, keep_blank_values=True)

    def text(
        self, name: str, *, required: bool = False, choices: tuple[str, ...] | None = None
    ) -> str | None:
        values = self._values.get(name)
        if not values:
            if required:
                raise ApiError(400, "missing_parameters", f"missing required parameter {name!r}")
            return None
        value = values[-1]
        if choices is not None and value not in choices:
            raise ApiError(400, "invalid_parameters", f"{name} must be one of {', '.join(choices)}")
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        value = self.text(name, required=required)
        if value is None or value == "":
            if required:
                raise ApiError(400, "missing_parameters", f"missing required parameter {name!r}")
            return default
        try:
            number = int(value)
        except ValueError:
            raise ApiError(400, "invalid_parameters", f"{name} must be an integer, got {value!r}") from None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ApiError(400, "invalid_parameters", f"{name} must be within [{lo}, {hi}], got {number}")
        return number

    def integers(self, name: str) -> list[int]:
        out = []
        for raw in self._values.get(name, []):
            for part in raw.split(","):
                try:
                    out.append(int(part))
                except ValueError:
                    raise ApiError(
                        400, "invalid_parameters", f"{name} holds a non-integer {part!r}"
                    ) from None
        return out

    def boolean(self, name: str) -> bool:
        value = self.text(name)
        if value is None or value == "":
            return False
        if value.lower() not in ("true", "false"):
            raise ApiError(400, "invalid_parameters", f"{name} must be true or false")
        return value.lower() == "true"

    def cursor(self) -> str | None:
        values = self._values.get("cursor")
        if values is None:
            return None
        if values[-1] == "":
            # Kalshi is reported to reject an empty cursor: a client must omit it on the first page.
            raise ApiError(400, "invalid_parameters", "cursor must not be empty; omit it for the first page")
        return values[-1]


def _parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _fixed(value: Decimal, places: str = "0.0001") -> str:
    return str(value.quantize(Decimal(places)))


# --- the application -------------------------------------------------------------------------------


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., tuple[int, dict[str, Any]]]
    auth: bool
    kind: str  # "read" or "write" bucket


@dataclass
class ServerStats:
    """Answer counts by status (for tests and the benchmark)."""

    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    dropped: int = 0
    truncated: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) + self.dropped


class DemoApi:
    """Routing, auth, rate limits, faults and the endpoint logic, independent of the socket layer."""

    def __init__(
        self,
        exchange: Any,
        *,
        faults: Faults | None = None,
        rate_limits: ServerRateLimits | None = ServerRateLimits(),
        api_key_id: str = DEMO_API_KEY_ID,
        public_key_pem: bytes | None = None,
        max_clock_skew_s: float = 30.0,
        record_responses: bool = False,
    ) -> None:
        self.exchange = exchange
        self.faults = faults or Faults()
        self.api_key_id = api_key_id
        self.public_key = load_public_key(
            public_key_pem if public_key_pem is not None else demo_key_pair()[1]
        )
        self.max_clock_skew_s = max_clock_skew_s
        self._buckets = _CallerBuckets(rate_limits) if rate_limits is not None else None
        self.record_responses = record_responses
        # (method, path with query, request body, status, answer body) when record_responses is on
        self.responses: list[tuple[str, str, bytes, int, bytes]] = []
        self.stats = ServerStats()
        self._stats_lock = threading.Lock()
        self._orders_lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}  # order_id -> Order, in placement order
        self._client_order_ids: dict[str, str] = {}  # client_order_id -> order_id
        self._list_cache = lru_cache(maxsize=256)(self._cached_list)
        self._routes = self._build_routes()

    # --- routing --------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        seg = r"([^/]+)"
        table = [
            ("GET", "/exchange/status", self.exchange_status, False, "read"),
            ("GET", "/series", self.series_list, False, "read"),
            ("GET", f"/series/{seg}", self.series_one, False, "read"),
            ("GET", f"/series/{seg}/markets/{seg}/candlesticks", self.market_candlesticks, False, "read"),
            (
                "GET",
                f"/series/{seg}/events/{seg}/forecast_percentile_history",
                self.forecast_history,
                True,
                "read",
            ),
            ("GET", "/events", self.events_list, False, "read"),
            ("GET", f"/events/{seg}", self.event_one, False, "read"),
            ("GET", "/markets", self.markets_list, False, "read"),
            ("GET", "/markets/candlesticks", self.batch_candlesticks, False, "read"),
            ("GET", "/markets/trades", self.trades_list, False, "read"),
            ("GET", f"/markets/{seg}", self.market_one, False, "read"),
            ("GET", f"/markets/{seg}/orderbook", self.orderbook, True, "read"),
            ("GET", "/portfolio/balance", self.balance, True, "read"),
            ("GET", "/portfolio/orders", self.orders_list, True, "read"),
            ("GET", f"/portfolio/orders/{seg}", self.order_one, True, "read"),
            ("POST", "/portfolio/orders", self.create_order, True, "write"),
        ]
        return [
            _Route(method, re.compile(f"^{pattern}$"), handler, auth, kind)
            for method, pattern, handler, auth, kind in table
        ]

    def _match(self, method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
        known_path = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groups()
                known_path = True
        if known_path:
            raise ApiError(405, "method_not_allowed", f"{method} is not supported on {path}")
        raise ApiError(404, "not_found", f"no such endpoint: {path}")

    # --- request pipeline -----------------------------------------------------------------

    def authenticate(self, method: str, full_path: str, headers: Any) -> str | None:
        """The caller's key id if the request is signed correctly; None if unsigned; 401 if wrong."""
        key_id, timestamp, signature = (
            headers.get(h) for h in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE)
        )
        if not (key_id or timestamp or signature):
            return None
        if not (key_id and timestamp and signature):
            raise ApiError(401, "authentication_error", "incomplete KALSHI-ACCESS-* headers")
        if key_id != self.api_key_id:
            raise ApiError(401, "authentication_error", "unknown API key")
        try:
            timestamp_ms = int(timestamp)
        except ValueError:
            raise ApiError(
                401, "authentication_error", "KALSHI-ACCESS-TIMESTAMP must be milliseconds"
            ) from None
        skew_s = abs(time.time() - timestamp_ms / 1000.0)
        if skew_s > self.max_clock_skew_s:
            raise ApiError(401, "authentication_error", f"stale request timestamp ({skew_s:.0f}s off)")
        if not verify_signature(self.public_key, signing_message(timestamp, method, full_path), signature):
            raise ApiError(401, "authentication_error", "invalid signature")
        return key_id

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes, client_address: str
    ) -> tuple[int, dict[str, Any], Fault | None]:
        """(status, JSON body, the fault to apply to the answer) for one request."""
        parts = urlsplit(raw_path)
        full_path = parts.path
        latency_s, fault = self.faults.draw(full_path.removeprefix(API_PREFIX))
        if latency_s > 0:
            time.sleep(latency_s)
        if fault is not None and fault.kind == "drop":
            return 0, {}, fault
        if fault is not None and fault.kind == "status":
            message = "too many requests" if fault.status == 429 else "injected fault"
            if fault.status == 429:
                return 429, {"error": message}, fault
            return fault.status, ApiError(fault.status, "injected_fault", message).body(), fault
        try:
            if not full_path.startswith(API_PREFIX + "/"):
                raise ApiError(404, "not_found", f"no such endpoint: {full_path}")
            route, groups = self._match(method, full_path[len(API_PREFIX) :])
            caller = self.authenticate(method, full_path, headers)
            if route.auth and caller is None:
                raise ApiError(401, "authentication_error", "this endpoint needs KALSHI-ACCESS-* headers")
            if self._buckets is not None and not self._buckets.allow(caller or client_address, route.kind):
                return 429, {"error": "too many requests"}, fault
            status, answer = route.handler(Query(parts.query), *groups, body=body)
        except ApiError as exc:
            return exc.status, exc.body(), None
        except Exception:
            logger.exception("demo server failed on %s %s", method, raw_path)
            return 500, ApiError(500, "internal_server_error", "internal error").body(), None
        return status, answer, fault

    def record(
        self,
        method: str,
        path: str,
        request_body: bytes,
        status: int | None,
        body: bytes,
        fault: Fault | None,
    ) -> None:
        with self._stats_lock:
            if self.record_responses:
                self.responses.append((method, path, request_body, status or 0, body))
            if status is None:
                self.stats.dropped += 1
                return
            self.stats.by_status[status] += 1
            if fault is not None and fault.kind == "truncate":
                self.stats.truncated += 1

    # --- cached lists (the exchange is deterministic, so a filter's answer never changes) -------

    def _cached_list(self, kind: str, key: tuple) -> list[dict]:
        if kind == "events":
            series_ticker, status = key
            return self.exchange.events(series_ticker=series_ticker, status=status)
        if kind == "markets":
            event_ticker, series_ticker, status, tickers = key
            return self.exchange.markets(
                event_ticker=event_ticker,
                series_ticker=series_ticker,
                status=status,
                tickers=list(tickers) if tickers else None,
            )
        if kind == "trades":
            ticker, min_ts, max_ts = key
            return self.exchange.trades(ticker=ticker, min_ts=min_ts, max_ts=max_ts)
        raise ValueError(kind)

    def _list(self, kind: str, *key: Any) -> list[dict]:
        try:
            return self._list_cache(kind, tuple(key))
        except KeyError as exc:
            raise ApiError(404, "not_found", str(exc.args[0]) if exc.args else "not found") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_parameters", str(exc)) from None

    def _lookup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyError as exc:
            raise ApiError(404, "not_found", str(exc.args[0]) if exc.args else "not found") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_parameters", str(exc)) from None

    # --- endpoints --------------------------------------------------------------------------

    def exchange_status(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        return 200, {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}

    def series_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        category, tags = query.text("category"), query.text("tags")
        series = self.exchange.series_list()
        if category:
            series = [s for s in series if s.get("category") == category]
        if tags:
            wanted = set(tags.split(","))
            series = [s for s in series if wanted & set(s.get("tags") or [])]
        return 200, {"series": series}

    def series_one(self, query: Query, series_ticker: str, *, body: bytes) -> tuple[int, dict]:
        return 200, {"series": self._lookup(self.exchange.series, series_ticker)}

    def events_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        limit = query.integer("limit", default=200, lo=1, hi=200)
        status = query.text("status", choices=("unopened", "open", "closed", "settled"))
        events = self._list("events", query.text("series_ticker"), status)
        min_close_ts = query.integer("min_close_ts")
        nested = query.boolean("with_nested_markets")
        if min_close_ts is not None:
            events = [
                e
                for e in events
                if any(
                    _parse_iso(m["close_time"]) > min_close_ts
                    for m in self._list("markets", e["event_ticker"], None, None, ())
                )
            ]
        chunk, cursor = page(events, limit or 200, query.cursor())
        if nested:
            chunk = [
                {**e, "markets": self._list("markets", e["event_ticker"], None, None, ())} for e in chunk
            ]
        return 200, {"events": chunk, "cursor": cursor}

    def event_one(self, query: Query, event_ticker: str, *, body: bytes) -> tuple[int, dict]:
        event = self._lookup(self.exchange.event, event_ticker)
        markets = self._list("markets", event_ticker, None, None, ())
        if query.boolean("with_nested_markets"):
            event = {**event, "markets": markets}
        return 200, {"event": event, "markets": markets}

    def markets_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        limit = query.integer("limit", default=100, lo=1, hi=1000)
        status = query.text("status", choices=("unopened", "open", "paused", "closed", "settled"))
        mve_filter = query.text("mve_filter", choices=("only", "exclude"))
        tickers = tuple(t for t in (query.text("tickers") or "").split(",") if t)
        markets = self._list(
            "markets", query.text("event_ticker"), query.text("series_ticker"), status, tickers
        )
        if mve_filter == "only":
            markets = []  # the demo lists no multivariate (KXMVE) markets
        min_close, max_close = query.integer("min_close_ts"), query.integer("max_close_ts")
        if min_close is not None or max_close is not None:
            markets = [
                m
                for m in markets
                if (min_close is None or _parse_iso(m["close_time"]) >= min_close)
                and (max_close is None or _parse_iso(m["close_time"]) <= max_close)
            ]
        chunk, cursor = page(markets, limit or 100, query.cursor())
        return 200, {"markets": chunk, "cursor": cursor}

    def market_one(self, query: Query, ticker: str, *, body: bytes) -> tuple[int, dict]:
        return 200, {"market": self._lookup(self.exchange.market, ticker)}

    def _candle_window(self, query: Query) -> tuple[int, int, int]:
        start = query.integer("start_ts", required=True)
        end = query.integer("end_ts", required=True)
        interval = query.integer("period_interval", required=True)
        assert start is not None and end is not None and interval is not None
        if interval not in (1, 60, 1440):
            raise ApiError(400, "invalid_parameters", "period_interval must be 1, 60 or 1440")
        if end < start:
            raise ApiError(400, "invalid_parameters", "end_ts is before start_ts")
        return start, end, interval

    def market_candlesticks(
        self, query: Query, series_ticker: str, ticker: str, *, body: bytes
    ) -> tuple[int, dict]:
        start, end, interval = self._candle_window(query)
        market = self._lookup(self.exchange.market, ticker)
        event = self._lookup(self.exchange.event, market["event_ticker"])
        if event["series_ticker"] != series_ticker:
            raise ApiError(404, "not_found", f"market {ticker} is not in series {series_ticker}")
        candles = self._lookup(self.exchange.candlesticks, ticker, start, end, period_interval=interval)
        return 200, {"ticker": ticker, "candlesticks": candles}

    def batch_candlesticks(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        tickers = [t for t in (query.text("market_tickers", required=True) or "").split(",") if t]
        if not tickers:
            raise ApiError(400, "missing_parameters", "market_tickers is empty")
        if len(tickers) > 100:
            raise ApiError(400, "invalid_parameters", "at most 100 market_tickers per request")
        start, end, interval = self._candle_window(query)
        markets, total = [], 0
        for ticker in dict.fromkeys(tickers):
            try:
                candles = self.exchange.candlesticks(ticker, start, end, period_interval=interval)
            except KeyError:
                continue  # unknown tickers are left out of the answer
            except ValueError as exc:
                raise ApiError(400, "invalid_parameters", str(exc)) from None
            total += len(candles)
            markets.append({"market_ticker": ticker, "candlesticks": candles})
        if total > 10_000:
            raise ApiError(400, "invalid_parameters", f"{total} candles requested; at most 10000 per request")
        return 200, {"markets": markets}

    def trades_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        limit = query.integer("limit", default=100, lo=1, hi=1000)
        trades = self._list("trades", query.text("ticker"), query.integer("min_ts"), query.integer("max_ts"))
        chunk, cursor = page(trades, limit or 100, query.cursor())
        return 200, {"trades": chunk, "cursor": cursor}

    def orderbook(self, query: Query, ticker: str, *, body: bytes) -> tuple[int, dict]:
        depth = query.integer("depth", default=0, lo=0, hi=100)
        return 200, self._lookup(self.exchange.orderbook, ticker, depth=depth or None)

    def forecast_history(
        self, query: Query, series_ticker: str, event_ticker: str, *, body: bytes
    ) -> tuple[int, dict]:
        percentiles = query.integers("percentiles")
        if not percentiles:
            raise ApiError(400, "missing_parameters", "missing required parameter 'percentiles'")
        start = query.integer("start_ts", required=True)
        end = query.integer("end_ts", required=True)
        interval = query.integer("period_interval", required=True)
        event = self._lookup(self.exchange.event, event_ticker)
        if event["series_ticker"] != series_ticker:
            raise ApiError(404, "not_found", f"event {event_ticker} is not in series {series_ticker}")
        history = self._lookup(
            self.exchange.forecast_percentile_history, event_ticker, percentiles, start, end, interval
        )
        return 200, {"forecast_history": history}

    def balance(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        return 200, {"balance": DEMO_BALANCE_CENTS, "portfolio_value": 0, "updated_ts": int(time.time())}

    def orders_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        limit = query.integer("limit", default=100, lo=1, hi=1000)
        ticker = query.text("ticker")
        status = query.text("status", choices=("resting", "canceled", "executed"))
        with self._orders_lock:
            orders = [
                o
                for o in reversed(self.orders.values())  # newest first, like the API
                if (ticker is None or o["ticker"] == ticker) and (status is None or o["status"] == status)
            ]
        chunk, cursor = page(orders, limit or 100, query.cursor())
        return 200, {"orders": chunk, "cursor": cursor}

    def order_one(self, query: Query, order_id: str, *, body: bytes) -> tuple[int, dict]:
        with self._orders_lock:
            order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, "not_found", f"order {order_id} not found")
        return 200, {"order": order}

    def create_order(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        request = _parse_order_request(body)
        market = self._lookup(self.exchange.market, request["ticker"])
        if market["status"] != "active":
            raise ApiError(
                400, "market_closed", f"market {request['ticker']} is {market['status']}, not active"
            )
        book = self._lookup(self.exchange.orderbook, request["ticker"])["orderbook_fp"]
        series_ticker = self._lookup(self.exchange.event, market["event_ticker"])["series_ticker"]
        fee_multiplier = Decimal(
            str(self._lookup(self.exchange.series, series_ticker).get("fee_multiplier", 1))
        )
        with self._orders_lock:
            client_order_id = request["client_order_id"]
            if client_order_id in self._client_order_ids:
                raise ApiError(
                    409, "order_already_exists", f"an order with client_order_id {client_order_id} exists"
                )
            order = _paper_order(request, book, fee_multiplier)
            self.orders[order["order_id"]] = order
            self._client_order_ids[client_order_id] = order["order_id"]
        return 201, {"order": order}


def _parse_order_request(body: bytes) -> dict[str, Any]:
    """A validated CreateOrderRequest: count in contracts, prices as YES/NO dollar Decimals."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "invalid_parameters", "request body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_parameters", "request body must be a JSON object")
    ticker = data.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise ApiError(400, "missing_parameters", "ticker is required")
    side, action = data.get("side"), data.get("action")
    if side not in ("yes", "no"):
        raise ApiError(400, "invalid_parameters", "side must be yes or no")
    if action not in ("buy", "sell"):
        raise ApiError(400, "invalid_parameters", "action must be buy or sell")
    count = data.get("count")
    if count is None and data.get("count_fp") is not None:
        try:
            count_fp = Decimal(str(data["count_fp"]))
        except InvalidOperation:
            raise ApiError(400, "invalid_parameters", "count_fp is not a number") from None
        if count_fp != count_fp.to_integral_value():
            raise ApiError(400, "invalid_parameters", "the demo market trades whole contracts only")
        count = int(count_fp)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ApiError(400, "invalid_parameters", "count must be a whole number of contracts >= 1")
    prices: dict[str, Decimal] = {}
    for name in ("yes_price_dollars", "no_price_dollars"):
        if data.get(name) is not None:
            try:
                prices[name] = Decimal(str(data[name]))
            except InvalidOperation:
                raise ApiError(400, "invalid_parameters", f"{name} is not a number") from None
    for name, dollars_name in (("yes_price", "yes_price_dollars"), ("no_price", "no_price_dollars")):
        if data.get(name) is not None:  # legacy integer cents
            if isinstance(data[name], bool) or not isinstance(data[name], int):
                raise ApiError(400, "invalid_parameters", f"{name} must be integer cents")
            prices.setdefault(dollars_name, Decimal(data[name]) / 100)
    if len(prices) != 1:
        raise ApiError(
            400, "invalid_parameters", "give exactly one of yes_price(_dollars) and no_price(_dollars)"
        )
    ((price_name, price),) = prices.items()
    if not Decimal("0.01") <= price <= Decimal("0.99"):
        raise ApiError(400, "invalid_parameters", f"{price_name} must lie within 0.01..0.99")
    yes_price = price if price_name == "yes_price_dollars" else 1 - price
    time_in_force = data.get("time_in_force") or "good_till_canceled"
    if time_in_force not in ("fill_or_kill", "good_till_canceled", "immediate_or_cancel"):
        raise ApiError(400, "invalid_parameters", "unknown time_in_force")
    client_order_id = data.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(client_order_id, str):
        raise ApiError(400, "invalid_parameters", "client_order_id must be a string")
    return {
        "ticker": ticker,
        "side": side,
        "action": action,
        "count": count,
        "yes_price": yes_price,
        "time_in_force": time_in_force,
        "client_order_id": client_order_id,
    }


def _paper_order(request: dict[str, Any], book: dict[str, Any], fee_multiplier: Decimal) -> dict[str, Any]:
    """Fill against the touch of the demo book (top level only), rest or cancel the remainder."""
    side, action, count = request["side"], request["action"], request["count"]
    own_price = request["yes_price"] if side == "yes" else 1 - request["yes_price"]
    # The touch of the contract being traded: asks come from the other side's bids.
    other = book["no_dollars"] if side == "yes" else book["yes_dollars"]
    same = book["yes_dollars"] if side == "yes" else book["no_dollars"]
    fill_count, fill_price = 0, Decimal(0)
    if action == "buy" and other:
        best_other_bid, size = Decimal(other[-1][0]), Decimal(other[-1][1])
        ask = 1 - best_other_bid
        if own_price >= ask:
            fill_count, fill_price = min(count, int(size)), ask
    elif action == "sell" and same:
        best_bid, size = Decimal(same[-1][0]), Decimal(same[-1][1])
        if own_price <= best_bid:
            fill_count, fill_price = min(count, int(size)), best_bid
    if request["time_in_force"] == "fill_or_kill" and fill_count < count:
        fill_count = 0
    remaining = count - fill_count
    if remaining == 0:
        status = "executed"
    elif request["time_in_force"] == "good_till_canceled":
        status = "resting"
    else:
        status, remaining = "canceled", 0
    fee = Decimal(0)
    if fill_count:
        raw_fee = fee_multiplier * TAKER_FEE_RATE * fill_count * fill_price * (1 - fill_price)
        fee = raw_fee.quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "order_id": str(uuid.uuid4()),
        "user_id": DEMO_USER_ID,
        "client_order_id": request["client_order_id"],
        "ticker": request["ticker"],
        "side": side,
        "action": action,
        "type": "limit",
        "status": status,
        "yes_price_dollars": _fixed(request["yes_price"]),
        "no_price_dollars": _fixed(1 - request["yes_price"]),
        "fill_count_fp": _fixed(Decimal(fill_count), "0.01"),
        "remaining_count_fp": _fixed(Decimal(remaining), "0.01"),
        "initial_count_fp": _fixed(Decimal(count), "0.01"),
        "taker_fees_dollars": _fixed(fee),
        "maker_fees_dollars": "0.0000",
        "taker_fill_cost_dollars": _fixed(fill_price * fill_count),
        "maker_fill_cost_dollars": "0.0000",
        "expiration_time": None,
        "created_time": now,
        "last_update_time": now,
        "order_group_id": None,
    }


# --- the HTTP layer --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    server_version = "KalshiDemo/1.0"

    def version_string(self) -> str:
        return self.server_version
    server: _DemoHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; with Nagle on, the client's delayed ACK would
        # add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        api = self.server.api
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body cannot be skipped safely
            status, answer, fault = 400, ApiError(400, "invalid_parameters", "bad Content-Length").body(), None
            body = b""
        else:
            body = self.rfile.read(length) if length else b""
            status, answer, fault = api.handle(method, self.path, self.headers, body, self.client_address[0])
        if fault is not None and fault.kind in ("drop", "drop_after"):
            api.record(method, self.path, body, None, b"", fault)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = json.dumps(answer, separators=(",", ":")).encode()
        if fault is not None and fault.kind == "truncate" and 200 <= status < 300:
            payload = payload[: max(1, len(payload) // 2)]
        else:
            fault = fault if fault is not None and fault.kind == "status" else None
        # Recorded before sending, so a test that saw the answer also sees the record.
        api.record(method, self.path, body, status, payload, fault)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if fault is not None and fault.kind == "status" and fault.retry_after is not None:
            self.send_header("Retry-After", fault.retry_after)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: DemoApi) -> None:
        self.api = api
        super().__init__(address, _Handler)


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the demo server binds to loopback only, not {host!r}")


class DemoServer:
    """The demo API on a loopback port in a background thread (port 0 picks a free port)."""

    def __init__(
        self,
        exchange: Any | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rate_limits: ServerRateLimits | None = ServerRateLimits(),
        api_key_id: str = DEMO_API_KEY_ID,
        public_key_pem: bytes | None = None,
        max_clock_skew_s: float = 30.0,
        record_responses: bool = False,
    ) -> None:
        _require_loopback(host)
        if exchange is None:
            from kalshi_assets.demo.exchange import DemoExchange

            exchange = DemoExchange()
        self.api = DemoApi(
            exchange,
            faults=faults,
            rate_limits=rate_limits,
            api_key_id=api_key_id,
            public_key_pem=public_key_pem,
            max_clock_skew_s=max_clock_skew_s,
            record_responses=record_responses,
        )
        self._address = (host, port)
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.api.faults

    @property
    def stats(self) -> ServerStats:
        return self.api.stats

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the demo server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def start(self) -> DemoServer:
        if self._httpd is not None:
            raise RuntimeError("the demo server is already running")
        self._httpd = _DemoHTTPServer(self._address, self.api)
        httpd = self._httpd
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick (tests start and stop many servers).
            target=lambda: httpd.serve_forever(poll_interval=0.05),
            name="kalshi-demo-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        if self._thread is not None and self._thread.is_alive():
            self._httpd.shutdown()  # waits for the serving loop, so only while it runs
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted."""
        if self._httpd is None:
            self._httpd = _DemoHTTPServer(self._address, self.api)
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            self._httpd = None

    def bind(self) -> DemoServer:
        """Bind the socket without serving yet (to learn the port of port 0 before serve_forever)."""
        if self._httpd is None:
            self._httpd = _DemoHTTPServer(self._address, self.api)
        return self

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    exchange: Any | None = None,
    faults: Faults | FaultConfig | None = None,
    *,
    rate_limits: ServerRateLimits | None = ServerRateLimits(),
    announce: Callable[[str], None] = print,
    **kwargs: Any,
) -> None:
    """Serve the demo API in the foreground until interrupted; announces the base URL first."""
    if isinstance(faults, FaultConfig):
        faults = Faults(faults)
    server = DemoServer(
        exchange, host=host, port=port, faults=faults, rate_limits=rate_limits, **kwargs
    ).bind()
    announce(f"Kalshi demo API serving at {server.base_url} (key id {server.api.api_key_id})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
