"""Kalshi's market-data endpoints, live and historical, over any object that can `get` a path.

`MarketDataEndpoints` is mixed into the signed HTTP client (`client.KalshiClient`) and into the demo's
in-process client (`demo.source`), so both walk the same pages and cut requests at the same caps
(`limits.py`). Every method returns Kalshi's wire objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, overload
from urllib.parse import quote

from kalshi_assets.kalshi.errors import KalshiResponseError
from kalshi_assets.kalshi.limits import (
    BATCH_CANDLE_TICKERS,
    BATCH_CANDLES,
    CANDLE_INTERVALS_MINUTES,
    EVENTS_PAGE_LIMIT,
    MARKET_CANDLES,
    MARKETS_PAGE_LIMIT,
    MAX_FORECAST_PERCENTILES,
    MAX_ORDERBOOK_DEPTH,
    TRADES_PAGE_LIMIT,
    candles_in_window,
    time_windows,
)


def unix_seconds(value: int | float | datetime) -> int:
    """Unix seconds from an int or a timezone-aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} has no timezone; pass an aware UTC datetime")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected Unix seconds or a datetime, got {type(value).__name__}")
    return int(value)


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
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


def segment(value: str) -> str:
    """A ticker or id as one URL path segment."""
    if not value:
        raise ValueError("a path segment (ticker or id) must not be empty")
    return quote(value, safe="")


def _interval(period_interval: int) -> int:
    if period_interval not in CANDLE_INTERVALS_MINUTES:
        raise ValueError(f"period_interval must be one of {CANDLE_INTERVALS_MINUTES}, got {period_interval}")
    return period_interval


def _window(start_ts: int | datetime, end_ts: int | datetime) -> tuple[int, int]:
    start, end = unix_seconds(start_ts), unix_seconds(end_ts)
    if end < start:
        raise ValueError(f"end_ts {end} is before start_ts {start}")
    return start, end


def _optional_ts(value: int | datetime | None) -> int | None:
    return unix_seconds(value) if value is not None else None


class MarketDataEndpoints:
    """Market data, live and historical (public: no credentials needed). Needs `get(path, params)`."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def paginate(
        self, path: str, items_key: str, params: Mapping[str, Any] | None = None, *, max_pages: int | None = None
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
                    f"the server repeated cursor {cursor[:40]!r}; stopping", code="cursor_loop", method="GET", path=path
                )
            seen.add(cursor)
            query["cursor"] = cursor

    # --- series, events, markets ------------------------------------------------------------------

    @overload
    def get_series(self, series_ticker: str, **params: Any) -> dict[str, Any]: ...
    @overload
    def get_series(self, series_ticker: None = None, **params: Any) -> list[dict[str, Any]]: ...

    def get_series(self, series_ticker: str | None = None, **params: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """One Series object for a ticker; without a ticker the list (filters: category, tags, ...)."""
        if series_ticker is not None:
            return self.get(f"/series/{segment(series_ticker)}", params)["series"]
        return self.get("/series", params).get("series") or []

    def get_events(
        self,
        series_ticker: str | None = None,
        status: str | None = None,
        *,
        with_nested_markets: bool = False,
        min_close_ts: int | datetime | None = None,
        limit: int = EVENTS_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """Every event matching the filters (all pages). Events never move to the historical tier."""
        params = {
            "series_ticker": series_ticker,
            "status": status,
            "with_nested_markets": with_nested_markets or None,
            "min_close_ts": _optional_ts(min_close_ts),
            "limit": limit,
        }
        return list(self.paginate("/events", "events", params))

    def get_event(self, event_ticker: str, *, with_nested_markets: bool = False) -> dict[str, Any]:
        """The answer of GET /events/{ticker}: `event` and its (live) `markets`."""
        return self.get(f"/events/{segment(event_ticker)}", {"with_nested_markets": with_nested_markets or None})

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
        limit: int = MARKETS_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """Every live market matching the filters (all pages). `status` uses the query words
        (unopened, open, paused, closed, settled), not the Market.status values."""
        params = {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "status": status,
            "tickers": ",".join(tickers) if tickers else None,
            "mve_filter": mve_filter,
            "min_close_ts": _optional_ts(min_close_ts),
            "max_close_ts": _optional_ts(max_close_ts),
            "limit": limit,
        }
        return list(self.paginate("/markets", "markets", params))

    def get_market(self, ticker: str) -> dict[str, Any]:
        """One live Market object."""
        return self.get(f"/markets/{segment(ticker)}")["market"]

    # --- candles, trades, books ---------------------------------------------------------------------

    def _candle_windows(
        self, path: str, start_ts: int | datetime, end_ts: int | datetime, period_interval: int
    ) -> list[dict[str, Any]]:
        """One market's candles from a single-market route, cut into requests of at most MARKET_CANDLES."""
        interval = _interval(period_interval)
        candles: list[dict[str, Any]] = []
        for start, end in time_windows(*_window(start_ts, end_ts), interval, MARKET_CANDLES):
            answer = self.get(path, {"start_ts": start, "end_ts": end, "period_interval": interval})
            candles.extend(answer.get("candlesticks") or [])
        return candles

    def get_candlesticks(
        self, series_ticker: str, ticker: str, start_ts: int | datetime, end_ts: int | datetime,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]:
        """Candles of one live market between two Unix times (interval 1, 60 or 1440 minutes)."""
        path = f"/series/{segment(series_ticker)}/markets/{segment(ticker)}/candlesticks"
        return self._candle_windows(path, start_ts, end_ts, period_interval)

    def get_candlesticks_batch(
        self, tickers: Sequence[str], start_ts: int | datetime, end_ts: int | datetime, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]:
        """Candles of many live markets through GET /markets/candlesticks, {ticker: candles}.

        Requests are cut so none asks for more than 100 tickers or 10,000 candles; a window too long
        for one market is split in time.
        """
        interval = _interval(period_interval)
        start, end = _window(start_ts, end_ts)
        result: dict[str, list[dict[str, Any]]] = {ticker: [] for ticker in tickers}
        unique = list(result)
        for window_start, window_end in time_windows(start, end, interval, BATCH_CANDLES):
            # +1: a window may hold one candle more than its span when it starts on a period's end.
            per_market = candles_in_window(window_start, window_end, interval) + 1
            per_request = max(1, min(BATCH_CANDLE_TICKERS, BATCH_CANDLES // per_market))
            for offset in range(0, len(unique), per_request):
                answer = self.get("/markets/candlesticks", {
                    "market_tickers": ",".join(unique[offset : offset + per_request]),
                    "start_ts": window_start, "end_ts": window_end, "period_interval": interval,
                })  # fmt: skip
                for entry in answer.get("markets") or []:
                    result.setdefault(entry["market_ticker"], []).extend(entry.get("candlesticks") or [])
        return result

    def get_trades(
        self, ticker: str | None = None, min_ts: int | datetime | None = None, max_ts: int | datetime | None = None,
        *, limit: int = TRADES_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """Every public trade of the live tier matching the filters (all pages)."""
        params = {"ticker": ticker, "min_ts": _optional_ts(min_ts), "max_ts": _optional_ts(max_ts), "limit": limit}
        return list(self.paginate("/markets/trades", "trades", params))

    def get_orderbook(self, ticker: str, depth: int | None = None) -> dict[str, Any]:
        """The `orderbook_fp` object: yes/no bids as [dollars, count] pairs, ascending (needs a key)."""
        if depth is not None and not 0 <= depth <= MAX_ORDERBOOK_DEPTH:
            raise ValueError(f"depth must be within 0..{MAX_ORDERBOOK_DEPTH}, got {depth}")
        return self.get(f"/markets/{segment(ticker)}/orderbook", {"depth": depth})["orderbook_fp"]

    def get_forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int | datetime,
        end_ts: int | datetime, period_interval: int = 1440,
    ) -> list[dict[str, Any]]:
        """Kalshi's own forecast percentiles (0..10000, at most 10) of an event over time (needs a key)."""
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
        path = f"/series/{segment(series_ticker)}/events/{segment(event_ticker)}/forecast_percentile_history"
        return self.get(path, params).get("forecast_history") or []

    def get_exchange_status(self) -> dict[str, Any]:
        """`exchange_active`, `trading_active` and, during maintenance, the estimated resume time."""
        return self.get("/exchange/status")

    # --- the historical tier -----------------------------------------------------------------------

    def get_historical_cutoff(self) -> dict[str, Any]:
        """The three cutoffs (ISO times): `market_settled_ts`, `trades_created_ts`, `orders_updated_ts`."""
        return self.get("/historical/cutoff")

    def get_historical_markets(
        self,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        *,
        limit: int = MARKETS_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """Every archived market matching one filter (Kalshi takes one of them at a time; all pages)."""
        filters = {"event_ticker": event_ticker, "series_ticker": series_ticker,
                   "tickers": ",".join(tickers) if tickers else None}
        if sum(value is not None for value in filters.values()) > 1:
            raise ValueError("give at most one of event_ticker, series_ticker and tickers")
        return list(self.paginate("/historical/markets", "markets", {**filters, "limit": limit}))

    def get_historical_market(self, ticker: str) -> dict[str, Any]:
        """One archived Market object."""
        return self.get(f"/historical/markets/{segment(ticker)}")["market"]

    def get_historical_candlesticks(
        self, ticker: str, start_ts: int | datetime, end_ts: int | datetime, period_interval: int = 60
    ) -> list[dict[str, Any]]:
        """Candles of one archived market (historical shape: bare field names), cut at the candle cap."""
        return self._candle_windows(f"/historical/markets/{segment(ticker)}/candlesticks", start_ts, end_ts,
                                    period_interval)

    def get_historical_trades(
        self, ticker: str | None = None, min_ts: int | datetime | None = None, max_ts: int | datetime | None = None,
        *, limit: int = TRADES_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """Every trade created before the trades cutoff matching the filters (all pages)."""
        params = {"ticker": ticker, "min_ts": _optional_ts(min_ts), "max_ts": _optional_ts(max_ts), "limit": limit}
        return list(self.paginate("/historical/trades", "trades", params))
