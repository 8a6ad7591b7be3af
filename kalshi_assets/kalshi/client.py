"""A signed, rate-limited, retrying Kalshi Trade API v2 client.

Every request passes, in order: the API's circuit breaker (fail fast while open), the read or write
token bucket, signing (a fresh millisecond timestamp per attempt), one HTTP exchange over a pooled
session, and classification of the answer into data or a typed error. Reads are retried on 429,
5xx, dropped connections and mangled bodies; an order POST is retried only with the
`client_order_id` it was first sent with.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, overload
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from kalshi_assets.kalshi.breaker import BreakerRegistry, CircuitBreaker, default_registry
from kalshi_assets.kalshi.errors import (
    CircuitOpenError,
    KalshiConflict,
    KalshiConnectionError,
    KalshiDuplicateOrder,
    KalshiError,
    KalshiKeyError,
    KalshiRateLimited,
    KalshiResponseError,
    KalshiServerError,
    error_class_for_status,
    parse_error_body,
)
from kalshi_assets.kalshi.ratelimit import RateLimiter, RateLimitTier, resolve_tier
from kalshi_assets.kalshi.retry import RetryPolicy, may_retry, parse_retry_after
from kalshi_assets.kalshi.signing import RequestSigner, SignerBackend, auth_headers, make_signer

logger = logging.getLogger(__name__)

PROD_BASE_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_LEGACY_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_LEGACY_BASE_URL = "https://demo-api.kalshi.co/trade-api/v2"

# on_request(method, path, status, elapsed_ms, error_code): one call per HTTP attempt, for the audit
# log. It never receives headers, signatures or keys.
RequestCallback = Callable[[str, str, int | None, float, str | None], None]

MAX_BATCH_CANDLE_TICKERS = 100
MAX_CANDLES_PER_ANSWER = 10_000
MAX_FORECAST_PERCENTILES = 10
CANDLE_INTERVALS_MINUTES = (1, 60, 1440)
TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unix_seconds(value: int | float | datetime) -> int:
    """Unix seconds from an int or a timezone-aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} has no timezone; pass an aware UTC datetime")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected Unix seconds or a datetime, got {type(value).__name__}")
    return int(value)


def dollars_string(value: str | Decimal | float | int, *, field: str) -> str:
    """A price as Kalshi's fixed-point dollar string ("0.5600"), strictly inside (0, 1)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a number") from None
    quantized = amount.quantize(Decimal("0.0001"))
    if quantized != amount:
        raise ValueError(f"{field}: {value!r} has more than 4 decimal places")
    if not Decimal(0) < quantized < Decimal(1):
        raise ValueError(f"{field}: {value!r} is not a price strictly between 0 and 1 dollar")
    return f"{quantized:.4f}"


def _encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query pairs: None dropped, booleans as true/false, sequences repeated (form, explode)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bool):
                pairs.append((key, "true" if item else "false"))
            elif isinstance(item, datetime):
                pairs.append((key, str(unix_seconds(item))))
            else:
                pairs.append((key, str(item)))
    return pairs


def _segment(value: str) -> str:
    if not value:
        raise ValueError("a path segment (ticker or id) must not be empty")
    return quote(value, safe="")


class KalshiClient:
    """Kalshi Trade API v2 over a pooled `requests.Session`.

    Credentials are optional: public market data needs none; portfolio calls need `api_key_id` and a
    private key (`private_key_path` or `private_key_pem`, with `passphrase` if encrypted).
    Rate limits follow `tier` (basic: 20 reads/s, 10 writes/s); `read_rate_per_s` and
    `write_rate_per_s` override one bucket each; `rate_limiter` replaces both.
    """

    def __init__(
        self,
        base_url: str = PROD_BASE_URL,
        api_key_id: str | None = None,
        private_key_path: str | None = None,
        private_key_pem: str | bytes | None = None,
        passphrase: str | bytes | None = None,
        *,
        signer: RequestSigner | None = None,
        signer_backend: SignerBackend = "cryptography",
        tier: str | RateLimitTier = "basic",
        read_rate_per_s: float | None = None,
        write_rate_per_s: float | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        breaker_registry: BreakerRegistry | None = None,
        breaker_name: str = "kalshi",
        timeout_s: tuple[float, float] = (3.05, 30.0),
        pool_maxsize: int = 16,
        session: requests.Session | None = None,
        on_request: RequestCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(
                f"plain http is allowed only to a loopback host (the demo server), got {base_url!r}"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"base_url must not carry a query or fragment: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._signed_prefix = parts.path  # "/trade-api/v2": Kalshi signs the path from here on

        has_key = private_key_path is not None or private_key_pem is not None or signer is not None
        if has_key and not api_key_id:
            raise KalshiKeyError("a private key was given without api_key_id")
        if api_key_id and not has_key:
            raise KalshiKeyError(
                "api_key_id was given without a private key (private_key_path or private_key_pem)"
            )
        if signer is None and has_key:
            signer = make_signer(
                private_key_path=private_key_path,
                private_key_pem=private_key_pem,
                passphrase=passphrase,
                backend=signer_backend,
            )
        self.api_key_id = api_key_id
        self._signer = signer

        if rate_limiter is None:
            if read_rate_per_s is not None or write_rate_per_s is not None:
                base = resolve_tier(tier)
                tier = RateLimitTier(
                    f"{base.name}-custom",
                    read_rate_per_s if read_rate_per_s is not None else base.reads_per_second,
                    write_rate_per_s if write_rate_per_s is not None else base.writes_per_second,
                )
            rate_limiter = RateLimiter(tier, sleep=sleep)
        self.rate_limiter = rate_limiter
        self.retry = retry or RetryPolicy()
        registry = breaker_registry if breaker_registry is not None else default_registry
        self.breaker: CircuitBreaker = registry.get(breaker_name)
        self.timeout_s = timeout_s
        self._on_request = on_request
        self._sleep = sleep
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Retries are ours (with signing and breaker per attempt): urllib3 must not retry on its own.
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_maxsize, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers.update({"Accept": "application/json", "User-Agent": "kalshi-assets/0.1"})
        self._session = session

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self._signer is not None

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> KalshiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KalshiClient({self.base_url!r}, authenticated={self.authenticated})"

    # --- the request pipeline -------------------------------------------------------------------

    def _report(
        self, method: str, path: str, status: int | None, elapsed_ms: float, code: str | None
    ) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(method, path, status, elapsed_ms, code)
        except Exception:
            logger.exception("on_request callback failed for %s %s", method, path)

    def _attempt(self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None) -> Any:
        self.rate_limiter.acquire(method)
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._signer is not None and self.api_key_id:
            headers.update(auth_headers(self.api_key_id, self._signer, method, self._signed_prefix + path))
        started = time.perf_counter()
        try:
            response = self._session.request(
                method, self.base_url + path, params=query, data=body, headers=headers, timeout=self.timeout_s
            )
        except requests.Timeout as exc:
            self._report(method, path, None, (time.perf_counter() - started) * 1000, "timeout")
            raise KalshiConnectionError(
                f"timed out: {exc}", code="timeout", method=method, path=path
            ) from None
        except requests.RequestException as exc:
            self._report(method, path, None, (time.perf_counter() - started) * 1000, "connection_error")
            raise KalshiConnectionError(
                f"no answer: {type(exc).__name__}", code="connection_error", method=method, path=path
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        try:
            data = json.loads(response.content) if response.content else None
            decoded = True
        except ValueError:
            data, decoded = None, False

        if 200 <= status < 300:
            if not decoded or data is None:
                self._report(method, path, status, elapsed_ms, "invalid_json")
                raise KalshiResponseError(
                    f"answer is not valid JSON ({len(response.content)} bytes; truncated?)",
                    status=status, code="invalid_json", method=method, path=path,
                )  # fmt: skip
            self._report(method, path, status, elapsed_ms, None)
            return data

        code, message, details = parse_error_body(data)
        error_class = error_class_for_status(status)
        self._report(method, path, status, elapsed_ms, code or f"http_{status}")
        kwargs: dict[str, Any] = {
            "status": status,
            "code": code,
            "method": method,
            "path": path,
            "details": details,
        }
        if error_class in (KalshiRateLimited, KalshiServerError):
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        text = message or response.reason or f"HTTP {status}"
        if status == 401 and self._signer is None:
            text += " (this client has no credentials; pass api_key_id and a private key)"
        raise error_class(text, **kwargs)

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        if not path.startswith("/"):
            raise ValueError(f"paths are relative to the base URL and start with '/', got {path!r}")
        if "?" in path:
            raise ValueError(f"put query parameters in params, not in the path: {path!r}")
        method = method.upper()
        query = _encode_params(params)
        # The body is serialized once, so every retry re-sends the same bytes (same client_order_id).
        body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None else None
        has_client_order_id = bool(json_body and json_body.get("client_order_id"))
        ambiguous_write = False  # an earlier attempt may have reached the exchange
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.breaker.call(self._attempt, method, path, query, body)
            except CircuitOpenError:
                raise
            except KalshiConflict as exc:
                if method != "GET" and has_client_order_id and json_body is not None:
                    raise KalshiDuplicateOrder(
                        exc.message, client_order_id=str(json_body["client_order_id"]),
                        after_lost_answer=ambiguous_write,
                        status=exc.status, code=exc.code, method=method, path=path, details=exc.details,
                    ) from exc  # fmt: skip
                raise
            except KalshiError as exc:
                if attempt >= self.retry.max_attempts or not may_retry(
                    method, exc, has_client_order_id=has_client_order_id
                ):
                    raise
                if method != "GET" and not isinstance(exc, KalshiRateLimited):
                    ambiguous_write = True  # a 5xx or lost answer: the order may exist
                delay = self.retry.backoff_s(attempt, getattr(exc, "retry_after", None))
                logger.info(
                    "%s %s attempt %d/%d failed (%s); retrying in %.2fs",
                    method, path, attempt, self.retry.max_attempts, exc.code or exc.status, delay,
                )  # fmt: skip
                if delay > 0:
                    self._sleep(delay)

    # --- generic reads ----------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET `path` (relative to the base URL) and return the decoded JSON object."""
        data = self._request("GET", path, params)
        if not isinstance(data, dict):
            raise KalshiResponseError(
                f"expected a JSON object, got {type(data).__name__}",
                code="unexpected_shape",
                method="GET",
                path=path,
            )
        return data

    def paginate(
        self,
        path: str,
        items_key: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item under `items_key` across cursor pages, in order.

        The first request carries no cursor (an empty `cursor=` is reported to answer 400); an
        empty or missing cursor in an answer ends the walk; a repeated cursor is an error rather
        than an endless loop.
        """
        query = dict(params or {})
        if not query.get("cursor"):
            query.pop("cursor", None)
        seen: set[str] = set()
        pages = 0
        while True:
            page = self.get(path, query)
            pages += 1
            items = page.get(items_key)
            if not isinstance(items, list):
                if items is None and items_key not in page:
                    raise KalshiResponseError(
                        f"page has no {items_key!r} list (keys: {sorted(page)})",
                        code="unexpected_shape", method="GET", path=path,
                    )  # fmt: skip
                items = []  # Kalshi sends null for an empty page
            yield from items
            cursor = page.get("cursor") or ""
            if not cursor or (max_pages is not None and pages >= max_pages):
                return
            if cursor in seen:
                raise KalshiResponseError(
                    f"the server repeated cursor {cursor[:40]!r}; stopping",
                    code="cursor_loop",
                    method="GET",
                    path=path,
                )
            seen.add(cursor)
            query["cursor"] = cursor

    # --- market data ------------------------------------------------------------------------------

    @overload
    def get_series(self, series_ticker: str, **params: Any) -> dict[str, Any]: ...
    @overload
    def get_series(self, series_ticker: None = None, **params: Any) -> list[dict[str, Any]]: ...

    def get_series(
        self, series_ticker: str | None = None, **params: Any
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """One Series object for a ticker; without a ticker the list (filters: category, tags, ...)."""
        if series_ticker is not None:
            return self.get(f"/series/{_segment(series_ticker)}", params)["series"]
        return self.get("/series", params).get("series") or []

    def get_events(
        self,
        series_ticker: str | None = None,
        status: str | None = None,
        *,
        with_nested_markets: bool = False,
        min_close_ts: int | datetime | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Every event matching the filters (all pages)."""
        params = {
            "series_ticker": series_ticker,
            "status": status,
            "with_nested_markets": with_nested_markets or None,
            "min_close_ts": unix_seconds(min_close_ts) if min_close_ts is not None else None,
            "limit": limit,
        }
        return list(self.paginate("/events", "events", params))

    def get_event(self, event_ticker: str, *, with_nested_markets: bool = False) -> dict[str, Any]:
        """The answer of GET /events/{ticker}: `event` and its `markets`."""
        return self.get(
            f"/events/{_segment(event_ticker)}", {"with_nested_markets": with_nested_markets or None}
        )

    def get_markets(
        self,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        tickers: Sequence[str] | None = None,
        *,
        mve_filter: str | None = None,
        min_close_ts: int | datetime | None = None,
        max_close_ts: int | datetime | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Every market matching the filters (all pages). `status` uses the query words
        (unopened, open, paused, closed, settled), not the Market.status values."""
        params = {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "status": status,
            "tickers": ",".join(tickers) if tickers else None,
            "mve_filter": mve_filter,
            "min_close_ts": unix_seconds(min_close_ts) if min_close_ts is not None else None,
            "max_close_ts": unix_seconds(max_close_ts) if max_close_ts is not None else None,
            "limit": limit,
        }
        return list(self.paginate("/markets", "markets", params))

    def get_market(self, ticker: str) -> dict[str, Any]:
        """One Market object."""
        return self.get(f"/markets/{_segment(ticker)}")["market"]

    def get_candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]:
        """Candles of one market between two Unix times (interval 1, 60 or 1440 minutes)."""
        if period_interval not in CANDLE_INTERVALS_MINUTES:
            raise ValueError(
                f"period_interval must be one of {CANDLE_INTERVALS_MINUTES}, got {period_interval}"
            )
        params = {
            "start_ts": unix_seconds(start_ts),
            "end_ts": unix_seconds(end_ts),
            "period_interval": period_interval,
        }
        answer = self.get(
            f"/series/{_segment(series_ticker)}/markets/{_segment(ticker)}/candlesticks", params
        )
        return answer.get("candlesticks") or []

    def get_candlesticks_batch(
        self,
        tickers: Sequence[str],
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 60,
    ) -> dict[str, list[dict[str, Any]]]:
        """Candles of many markets through GET /markets/candlesticks, {ticker: candles}.

        Requests are cut so none asks for more than 100 tickers or 10,000 candles; a window too long
        for one market is split in time.
        """
        if period_interval not in CANDLE_INTERVALS_MINUTES:
            raise ValueError(
                f"period_interval must be one of {CANDLE_INTERVALS_MINUTES}, got {period_interval}"
            )
        start, end = unix_seconds(start_ts), unix_seconds(end_ts)
        if end < start:
            raise ValueError(f"end_ts {end} is before start_ts {start}")
        period_s = period_interval * 60
        windows: list[tuple[int, int]] = []
        window_s = (MAX_CANDLES_PER_ANSWER - 1) * period_s
        cursor = start
        while True:
            windows.append((cursor, min(end, cursor + window_s)))
            if cursor + window_s >= end:
                break
            cursor += window_s + 1
        result: dict[str, list[dict[str, Any]]] = {ticker: [] for ticker in tickers}
        for window_start, window_end in windows:
            candles_per_market = (window_end - window_start) // period_s + 2
            per_request = max(1, min(MAX_BATCH_CANDLE_TICKERS, MAX_CANDLES_PER_ANSWER // candles_per_market))
            unique = list(result)
            for offset in range(0, len(unique), per_request):
                chunk = unique[offset : offset + per_request]
                answer = self.get(
                    "/markets/candlesticks",
                    {
                        "market_tickers": ",".join(chunk),
                        "start_ts": window_start,
                        "end_ts": window_end,
                        "period_interval": period_interval,
                    },
                )
                for entry in answer.get("markets") or []:
                    result.setdefault(entry["market_ticker"], []).extend(entry.get("candlesticks") or [])
        return result

    def get_trades(
        self,
        ticker: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        *,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Every public trade matching the filters (all pages)."""
        params = {
            "ticker": ticker,
            "min_ts": unix_seconds(min_ts) if min_ts is not None else None,
            "max_ts": unix_seconds(max_ts) if max_ts is not None else None,
            "limit": limit,
        }
        return list(self.paginate("/markets/trades", "trades", params))

    def get_orderbook(self, ticker: str, depth: int | None = None) -> dict[str, Any]:
        """The `orderbook_fp` object: yes/no bids as [dollars, count] pairs, ascending."""
        if depth is not None and not 0 <= depth <= 100:
            raise ValueError(f"depth must be within 0..100, got {depth}")
        answer = self.get(f"/markets/{_segment(ticker)}/orderbook", {"depth": depth})
        return answer["orderbook_fp"]

    def get_forecast_percentile_history(
        self,
        series_ticker: str,
        event_ticker: str,
        percentiles: Sequence[int],
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 1440,
    ) -> list[dict[str, Any]]:
        """Kalshi's own forecast percentiles (0..10000, at most 10) of an event over time."""
        if not percentiles or len(percentiles) > MAX_FORECAST_PERCENTILES:
            raise ValueError(f"give 1 to {MAX_FORECAST_PERCENTILES} percentiles, got {len(percentiles)}")
        if any(not 0 <= p <= 10_000 for p in percentiles):
            raise ValueError(f"percentiles must lie within 0..10000, got {list(percentiles)}")
        params = {
            "percentiles": [int(p) for p in percentiles],
            "start_ts": unix_seconds(start_ts),
            "end_ts": unix_seconds(end_ts),
            "period_interval": period_interval,
        }
        path = (
            f"/series/{_segment(series_ticker)}/events/{_segment(event_ticker)}/forecast_percentile_history"
        )
        return self.get(path, params).get("forecast_history") or []

    def get_exchange_status(self) -> dict[str, Any]:
        """`exchange_active`, `trading_active` and, during maintenance, the estimated resume time."""
        return self.get("/exchange/status")

    # --- portfolio --------------------------------------------------------------------------------

    def get_balance(self) -> dict[str, Any]:
        """`balance` and `portfolio_value` in cents, `updated_ts`."""
        return self.get("/portfolio/balance")

    def get_orders(
        self,
        ticker: str | None = None,
        status: str | None = None,
        *,
        event_ticker: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The account's orders matching the filters (all pages)."""
        params = {"ticker": ticker, "status": status, "event_ticker": event_ticker, "limit": limit}
        return list(self.paginate("/portfolio/orders", "orders", params))

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self.get(f"/portfolio/orders/{_segment(order_id)}")["order"]

    def place_order(
        self,
        ticker: str,
        side: str,
        action: str,
        count: int,
        yes_price_dollars: str | Decimal | float | None = None,
        no_price_dollars: str | Decimal | float | None = None,
        *,
        client_order_id: str | None = None,
        time_in_force: str | None = None,
        post_only: bool | None = None,
        reduce_only: bool | None = None,
        buy_max_cost: int | None = None,
        expiration_ts: int | datetime | None = None,
    ) -> dict[str, Any]:
        """POST /portfolio/orders a limit order; return the Order object.

        The `client_order_id` (a new UUID unless given) is fixed before the first attempt and every
        retry re-sends it, so the exchange's de-duplication makes retries safe. If a retry after a
        lost answer meets 409 (the first attempt had in fact landed), the existing order is looked up
        and returned. A 409 on the first attempt is a real duplicate: `KalshiDuplicateOrder`.
        """
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        if action not in ("buy", "sell"):
            raise ValueError(f"action must be 'buy' or 'sell', got {action!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive whole number of contracts, got {count!r}")
        if (yes_price_dollars is None) == (no_price_dollars is None):
            raise ValueError("give exactly one of yes_price_dollars and no_price_dollars")
        if time_in_force is not None and time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force must be one of {TIME_IN_FORCE}, got {time_in_force!r}")
        if client_order_id is not None and not client_order_id.strip():
            raise ValueError("client_order_id must not be blank")
        order_id = client_order_id or str(uuid.uuid4())
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side,
            "action": action,
            "count": count,
            "client_order_id": order_id,
        }
        if yes_price_dollars is not None:
            body["yes_price_dollars"] = dollars_string(yes_price_dollars, field="yes_price_dollars")
        if no_price_dollars is not None:
            body["no_price_dollars"] = dollars_string(no_price_dollars, field="no_price_dollars")
        optional = {
            "time_in_force": time_in_force,
            "post_only": post_only,
            "reduce_only": reduce_only,
            "buy_max_cost": buy_max_cost,
            "expiration_ts": unix_seconds(expiration_ts) if expiration_ts is not None else None,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        try:
            answer = self._request("POST", "/portfolio/orders", json_body=body)
        except KalshiDuplicateOrder as exc:
            if not exc.after_lost_answer:
                raise
            existing = self._find_order(ticker, order_id)
            if existing is None:
                raise KalshiDuplicateOrder(
                    f"a retry met 409 but no order with client_order_id {order_id!r} is listed for {ticker}",
                    client_order_id=order_id, status=409, code=exc.code, method="POST", path="/portfolio/orders",
                ) from exc  # fmt: skip
            logger.info("order %s: an earlier attempt had landed; returning the existing order", order_id)
            return existing
        if not isinstance(answer, dict) or not isinstance(answer.get("order"), dict):
            raise KalshiResponseError(
                "order answer has no 'order' object",
                code="unexpected_shape",
                method="POST",
                path="/portfolio/orders",
            )
        return answer["order"]

    def _find_order(self, ticker: str, client_order_id: str) -> dict[str, Any] | None:
        for order in self.paginate("/portfolio/orders", "orders", {"ticker": ticker, "limit": 200}):
            if order.get("client_order_id") == client_order_id:
                return order
        return None
