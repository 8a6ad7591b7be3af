"""The demo API without sockets: routing, signature checks, rate limits, faults and the market-data endpoints.

`DemoApi.handle` serves one HTTP request (the HTTP layer calls it); `DemoApi.answer` serves a request
made in process (the embedded demo source), through the same routes and answers, without signatures,
rate limits or faults. Markets that settled before the exchange's historical cutoff, their candles,
and trades created before it are served only under `/historical/*`, as Kalshi does.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server.faults import Fault, Faults
from kalshi_assets.demo.server.orders import OrderEndpoints
from kalshi_assets.demo.server.wire import API_PREFIX, ApiError, Query, page, parse_iso
from kalshi_assets.kalshi.limits import (
    BATCH_CANDLE_TICKERS,
    BATCH_CANDLES,
    CANDLE_INTERVALS_MINUTES,
    EVENTS_PAGE_LIMIT,
    MARKET_CANDLES,
    MARKETS_PAGE_LIMIT,
    MAX_ORDERBOOK_DEPTH,
    TRADES_PAGE_LIMIT,
    candles_in_window,
)
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

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class ServerRateLimits:
    """The server's buckets per caller (API key, or client address when unsigned)."""

    reads_per_second: float = 20.0
    writes_per_second: float = 10.0
    burst_seconds: float = 1.0
    tier: str = "basic"  # the usage tier GET /account/limits names


DEFAULT_RATE_LIMITS = ServerRateLimits()  # Kalshi's basic tier


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


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Answer]
    auth: bool
    kind: str  # "read" or "write" bucket
    tier: str | None  # "live" or "historical" for the routes that serve markets, candles and trades


@dataclass
class ServerStats:
    """Answer counts by status (for tests and the benchmark)."""

    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    dropped: int = 0
    truncated: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) + self.dropped


class DemoApi(OrderEndpoints):
    """Routing, auth, rate limits, faults and the endpoint logic, independent of the socket layer."""

    def __init__(
        self,
        exchange: Any,
        *,
        faults: Faults | None = None,
        rate_limits: ServerRateLimits | None = DEFAULT_RATE_LIMITS,
        api_key_id: str = DEMO_API_KEY_ID,
        public_key_pem: bytes | None = None,
        max_clock_skew_s: float = 30.0,
        record_responses: bool = False,
    ) -> None:
        self.exchange = exchange
        self.faults = faults or Faults()
        self.api_key_id = api_key_id
        self.public_key = load_public_key(public_key_pem if public_key_pem is not None else demo_key_pair()[1])
        self.max_clock_skew_s = max_clock_skew_s
        self.rate_limits = rate_limits
        self._buckets = _CallerBuckets(rate_limits) if rate_limits is not None else None
        self.record_responses = record_responses
        # (method, path with query, request body, status, answer body) when record_responses is on
        self.responses: list[tuple[str, str, bytes, int, bytes]] = []
        self.stats = ServerStats()
        # Requests answered per tier: "historical" for /historical/*, "live" for other market data.
        self.tier_requests: collections.Counter[str] = collections.Counter()
        self._stats_lock = threading.Lock()
        self._init_orders()
        # Enough for a few clients paging at once; an entry is a whole answer (a market's trades of a window).
        self._list_cache = lru_cache(maxsize=16)(self._cached_list)
        self._routes = self._build_routes()

    # --- routing --------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        seg = r"([^/]+)"
        live, historical = "live", "historical"
        # (method, path, handler, needs a signature, rate-limit bucket, tier counted in tier_requests)
        table = [
            ("GET", "/exchange/status", self.exchange_status, False, "read", None),
            ("GET", "/series", self.series_list, False, "read", None),
            ("GET", f"/series/{seg}", self.series_one, False, "read", None),
            ("GET", f"/series/{seg}/markets/{seg}/candlesticks", self.market_candlesticks, False, "read", live),
            ("GET", f"/series/{seg}/events/{seg}/forecast_percentile_history", self.forecast_history, True, "read",
             None),
            ("GET", "/events", self.events_list, False, "read", None),
            ("GET", f"/events/{seg}", self.event_one, False, "read", None),
            ("GET", "/markets", self.markets_list, False, "read", live),
            ("GET", "/markets/candlesticks", self.batch_candlesticks, False, "read", live),
            ("GET", "/markets/trades", self.trades_list, False, "read", live),
            ("GET", f"/markets/{seg}", self.market_one, False, "read", live),
            ("GET", f"/markets/{seg}/orderbook", self.orderbook, True, "read", None),
            ("GET", "/historical/cutoff", self.historical_cutoff, False, "read", historical),
            ("GET", "/historical/markets", self.historical_markets, False, "read", historical),
            ("GET", f"/historical/markets/{seg}", self.historical_market, False, "read", historical),
            ("GET", f"/historical/markets/{seg}/candlesticks", self.historical_candlesticks, False, "read",
             historical),
            ("GET", "/historical/trades", self.historical_trades, False, "read", historical),
            ("GET", "/account/limits", self.account_limits, True, "read", None),
            ("GET", "/portfolio/balance", self.balance, True, "read", None),
            ("GET", "/portfolio/orders", self.orders_list, True, "read", None),
            ("GET", f"/portfolio/orders/{seg}", self.order_one, True, "read", None),
            ("POST", "/portfolio/orders", self.create_order, True, "write", None),
        ]  # fmt: skip
        return [_Route(method, re.compile(f"^{pattern}$"), *rest) for method, pattern, *rest in table]

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
        key_id, timestamp, signature = (headers.get(h) for h in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE))
        if not (key_id or timestamp or signature):
            return None
        if not (key_id and timestamp and signature):
            raise ApiError(401, "authentication_error", "incomplete KALSHI-ACCESS-* headers")
        if key_id != self.api_key_id:
            raise ApiError(401, "authentication_error", "unknown API key")
        try:
            timestamp_ms = int(timestamp)
        except ValueError:
            raise ApiError(401, "authentication_error", "KALSHI-ACCESS-TIMESTAMP must be milliseconds") from None
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
            status, answer = self._dispatch(route, groups, parts.query, body)
        except ApiError as exc:
            return exc.status, exc.body(), None
        except Exception:
            logger.exception("demo server failed on %s %s", method, raw_path)
            return 500, ApiError(500, "internal_server_error", "internal error").body(), None
        return status, answer, fault

    def answer(self, method: str, path: str, params: Mapping[str, Any] | list[tuple[str, str]] | None = None) -> Answer:
        """Serve a request made in process (`path` relative to the API prefix) through the same routes:
        no signature, rate limit or fault. Errors come back as (status, Kalshi's error body)."""
        try:
            route, groups = self._match(method, path)
            return self._dispatch(route, groups, urlencode(params or [], doseq=True), b"")
        except ApiError as exc:
            return exc.status, exc.body()

    def _dispatch(self, route: _Route, groups: tuple[str, ...], query: str, body: bytes) -> Answer:
        if route.tier is not None:
            with self._stats_lock:
                self.tier_requests[route.tier] += 1
        return route.handler(Query(query), *groups, body=body)

    def record(
        self, method: str, path: str, request_body: bytes, status: int | None, body: bytes, fault: Fault | None
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
            event_ticker, series_ticker, status, tickers, tier = key
            return self.exchange.markets(
                event_ticker=event_ticker, series_ticker=series_ticker, status=status,
                tickers=list(tickers) if tickers else None, tier=tier,
            )  # fmt: skip
        if kind == "trades":
            ticker, min_ts, max_ts, tier = key
            return self.exchange.trades(ticker=ticker, min_ts=min_ts, max_ts=max_ts, tier=tier)
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

    def _market_in_tier(self, ticker: str, tier: str) -> dict:
        """The market if `tier` serves it; 404 naming the other tier otherwise."""
        market = self._lookup(self.exchange.market, ticker)
        if self._lookup(self.exchange.market_tier, ticker) != tier:
            other = "/historical/markets" if tier == "live" else "/markets"
            raise ApiError(404, "not_found", f"market {ticker} is not in the {tier} tier; see {other}/{ticker}")
        return market

    # --- market data -------------------------------------------------------------------------

    def exchange_status(self, query: Query, *, body: bytes) -> Answer:
        return 200, {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}

    def series_list(self, query: Query, *, body: bytes) -> Answer:
        category, tags = query.text("category"), query.text("tags")
        series = self.exchange.series_list()
        if category:
            series = [s for s in series if s.get("category") == category]
        if tags:
            wanted = set(tags.split(","))
            series = [s for s in series if wanted & set(s.get("tags") or [])]
        return 200, {"series": series}

    def series_one(self, query: Query, series_ticker: str, *, body: bytes) -> Answer:
        return 200, {"series": self._lookup(self.exchange.series, series_ticker)}

    def events_list(self, query: Query, *, body: bytes) -> Answer:
        limit = query.integer("limit", default=200, lo=1, hi=EVENTS_PAGE_LIMIT)
        status = query.text("status", choices=("unopened", "open", "closed", "settled"))
        events = self._list("events", query.text("series_ticker"), status)
        min_close_ts = query.integer("min_close_ts")
        if min_close_ts is not None:
            events = [e for e in events if any(parse_iso(m["close_time"]) > min_close_ts
                                               for m in self._live_markets(e["event_ticker"]))]
        chunk, cursor = page(events, limit or 200, query.cursor())
        if query.boolean("with_nested_markets"):
            chunk = [{**e, "markets": self._live_markets(e["event_ticker"])} for e in chunk]
        return 200, {"events": chunk, "cursor": cursor}

    def _live_markets(self, event_ticker: str) -> list[dict]:
        return self._list("markets", event_ticker, None, None, (), "live")

    def event_one(self, query: Query, event_ticker: str, *, body: bytes) -> Answer:
        event = self._lookup(self.exchange.event, event_ticker)
        markets = self._live_markets(event_ticker)
        if query.boolean("with_nested_markets"):
            event = {**event, "markets": markets}
        return 200, {"event": event, "markets": markets}

    def markets_list(self, query: Query, *, body: bytes) -> Answer:
        limit = query.integer("limit", default=100, lo=1, hi=MARKETS_PAGE_LIMIT)
        status = query.text("status", choices=("unopened", "open", "paused", "closed", "settled"))
        mve_filter = query.text("mve_filter", choices=("only", "exclude"))
        tickers = tuple(t for t in (query.text("tickers") or "").split(",") if t)
        markets = self._list("markets", query.text("event_ticker"), query.text("series_ticker"), status, tickers, "live")
        if mve_filter == "only":
            markets = []  # the demo lists no multivariate (KXMVE) markets
        min_close, max_close = query.integer("min_close_ts"), query.integer("max_close_ts")
        if min_close is not None or max_close is not None:
            markets = [
                m for m in markets
                if (min_close is None or parse_iso(m["close_time"]) >= min_close)
                and (max_close is None or parse_iso(m["close_time"]) <= max_close)
            ]  # fmt: skip
        chunk, cursor = page(markets, limit or 100, query.cursor())
        return 200, {"markets": chunk, "cursor": cursor}

    def market_one(self, query: Query, ticker: str, *, body: bytes) -> Answer:
        return 200, {"market": self._market_in_tier(ticker, "live")}

    def _candle_window(self, query: Query, cap: int) -> tuple[int, int, int]:
        start = query.integer("start_ts", required=True)
        end = query.integer("end_ts", required=True)
        interval = query.integer("period_interval", required=True)
        assert start is not None and end is not None and interval is not None
        if interval not in CANDLE_INTERVALS_MINUTES:
            raise ApiError(400, "invalid_parameters", "period_interval must be 1, 60 or 1440")
        if end < start:
            raise ApiError(400, "invalid_parameters", "end_ts is before start_ts")
        if candles_in_window(start, end, interval) > cap:
            raise ApiError(400, "invalid_parameters", f"more than {cap} candlesticks requested; narrow the window")
        return start, end, interval

    def market_candlesticks(self, query: Query, series_ticker: str, ticker: str, *, body: bytes) -> Answer:
        start, end, interval = self._candle_window(query, MARKET_CANDLES)
        market = self._market_in_tier(ticker, "live")
        event = self._lookup(self.exchange.event, market["event_ticker"])
        if event["series_ticker"] != series_ticker:
            raise ApiError(404, "not_found", f"market {ticker} is not in series {series_ticker}")
        candles = self._lookup(self.exchange.candlesticks, ticker, start, end, period_interval=interval)
        return 200, {"ticker": ticker, "candlesticks": candles}

    def batch_candlesticks(self, query: Query, *, body: bytes) -> Answer:
        tickers = [t for t in (query.text("market_tickers", required=True) or "").split(",") if t]
        if not tickers:
            raise ApiError(400, "missing_parameters", "market_tickers is empty")
        if len(tickers) > BATCH_CANDLE_TICKERS:
            raise ApiError(400, "invalid_parameters", f"at most {BATCH_CANDLE_TICKERS} market_tickers per request")
        start, end, interval = self._candle_window(query, BATCH_CANDLES)
        markets, total = [], 0
        for ticker in dict.fromkeys(tickers):
            try:
                if self.exchange.market_tier(ticker) != "live":
                    continue  # archived markets are left out, like unknown tickers
                candles = self.exchange.candlesticks(ticker, start, end, period_interval=interval)
            except KeyError:
                continue  # unknown tickers are left out of the answer
            except ValueError as exc:
                raise ApiError(400, "invalid_parameters", str(exc)) from None
            total += len(candles)
            markets.append({"market_ticker": ticker, "candlesticks": candles})
        if total > BATCH_CANDLES:
            raise ApiError(400, "invalid_parameters", f"{total} candles requested; at most {BATCH_CANDLES} per request")
        return 200, {"markets": markets}

    def trades_list(self, query: Query, *, body: bytes) -> Answer:
        return self._trades(query, "live")

    def _trades(self, query: Query, tier: str) -> Answer:
        limit = query.integer("limit", default=100, lo=0, hi=TRADES_PAGE_LIMIT)
        trades = self._list("trades", query.text("ticker"), query.integer("min_ts"), query.integer("max_ts"), tier)
        chunk, cursor = page(trades, limit or 100, query.cursor())
        return 200, {"trades": chunk, "cursor": cursor}

    def orderbook(self, query: Query, ticker: str, *, body: bytes) -> Answer:
        depth = query.integer("depth", default=0, lo=0, hi=MAX_ORDERBOOK_DEPTH)
        return 200, self._lookup(self.exchange.orderbook, ticker, depth=depth or None)

    def forecast_history(self, query: Query, series_ticker: str, event_ticker: str, *, body: bytes) -> Answer:
        percentiles = query.integers("percentiles")
        if not percentiles:
            raise ApiError(400, "missing_parameters", "missing required parameter 'percentiles'")
        start = query.integer("start_ts", required=True)
        end = query.integer("end_ts", required=True)
        interval = query.integer("period_interval", required=True)
        event = self._lookup(self.exchange.event, event_ticker)
        if event["series_ticker"] != series_ticker:
            raise ApiError(404, "not_found", f"event {event_ticker} is not in series {series_ticker}")
        history = self._lookup(self.exchange.forecast_percentile_history, event_ticker, percentiles, start, end, interval)
        return 200, {"forecast_history": history}

    def account_limits(self, query: Query, *, body: bytes) -> Answer:
        limits = self.rate_limits
        if limits is None:  # a server without limits answers like a very large tier
            return 200, {"usage_tier": "unlimited", "read_limit": 1_000_000, "write_limit": 1_000_000}
        return 200, {"usage_tier": limits.tier, "read_limit": int(limits.reads_per_second),
                     "write_limit": int(limits.writes_per_second)}

    # --- the historical tier -----------------------------------------------------------------

    def historical_cutoff(self, query: Query, *, body: bytes) -> Answer:
        return 200, self.exchange.historical_cutoffs()

    def historical_markets(self, query: Query, *, body: bytes) -> Answer:
        limit = query.integer("limit", default=100, lo=0, hi=MARKETS_PAGE_LIMIT)
        query.text("mve_filter", choices=("exclude",))  # the demo lists no multivariate markets
        tickers = tuple(t for t in (query.text("tickers") or "").split(",") if t)
        event_ticker, series_ticker = query.text("event_ticker"), query.text("series_ticker")
        if sum(bool(f) for f in (tickers, event_ticker, series_ticker)) > 1:
            raise ApiError(400, "invalid_parameters", "tickers, event_ticker and series_ticker are mutually exclusive")
        markets = self._list("markets", event_ticker, series_ticker, None, tickers, "historical")
        chunk, cursor = page(markets, limit or 100, query.cursor())
        return 200, {"markets": chunk, "cursor": cursor}

    def historical_market(self, query: Query, ticker: str, *, body: bytes) -> Answer:
        return 200, {"market": self._market_in_tier(ticker, "historical")}

    def historical_candlesticks(self, query: Query, ticker: str, *, body: bytes) -> Answer:
        start, end, interval = self._candle_window(query, MARKET_CANDLES)
        self._market_in_tier(ticker, "historical")
        candles = self._lookup(self.exchange.candlesticks, ticker, start, end, period_interval=interval, historical=True)
        return 200, {"ticker": ticker, "candlesticks": candles}

    def historical_trades(self, query: Query, *, body: bytes) -> Answer:
        return self._trades(query, "historical")
