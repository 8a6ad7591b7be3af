"""Where market data comes from: one small interface, two implementations.

`MarketDataSource` answers in Kalshi's wire objects, so one set of parsers (`parse.py`) serves the
real API and the embedded demo exchange alike. `ApiMarketData` walks Kalshi's REST API through a
`KalshiClient`; the demo's in-process source lives in `kalshi_assets.demo.source`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

# Kalshi's batch candlestick endpoint takes at most 100 tickers and answers at most 10,000 candles.
BATCH_TICKERS = 100
BATCH_CANDLES = 10_000


class MarketDataSource(Protocol):
    def now(self) -> datetime: ...

    def series(self, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]: ...

    def events(self, series_ticker: str) -> list[dict[str, Any]]: ...

    def markets(self, event_ticker: str) -> list[dict[str, Any]]: ...

    def candlesticks(
        self, market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]: ...

    def forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int, end_ts: int,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]: ...

    def orderbook(self, market_ticker: str) -> dict[str, Any]: ...


def candle_batches(market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int) -> Iterator[list[str]]:
    """Split tickers so that each batch request stays within Kalshi's ticker and candle caps."""
    periods = max(1, (end_ts - start_ts) // (period_interval * 60) + 1)
    per_batch = max(1, min(BATCH_TICKERS, BATCH_CANDLES // periods))
    tickers = list(market_tickers)
    for i in range(0, len(tickers), per_batch):
        yield tickers[i : i + per_batch]


class ApiMarketData:
    """Market data from Kalshi's Trade API v2 through a signed `KalshiClient`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def now(self) -> datetime:
        return datetime.now(UTC)

    def series(self, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if tickers is None:
            return list(self.client.get("/series").get("series") or [])
        return [self.client.get(f"/series/{ticker}")["series"] for ticker in tickers]

    def events(self, series_ticker: str) -> list[dict[str, Any]]:
        return list(self.client.paginate("/events", "events", {"series_ticker": series_ticker, "limit": 200}))

    def markets(self, event_ticker: str) -> list[dict[str, Any]]:
        return list(self.client.paginate("/markets", "markets", {"event_ticker": event_ticker, "limit": 1000}))

    def candlesticks(
        self, market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for batch in candle_batches(market_tickers, start_ts, end_ts, period_interval):
            answer = self.client.get(
                "/markets/candlesticks",
                {"market_tickers": ",".join(batch), "start_ts": start_ts, "end_ts": end_ts,
                 "period_interval": period_interval},
            )
            for entry in answer.get("markets") or []:
                out[entry["market_ticker"]] = list(entry.get("candlesticks") or [])
        return out

    def forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int, end_ts: int,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]:
        answer = self.client.get(
            f"/series/{series_ticker}/events/{event_ticker}/forecast_percentile_history",
            {"percentiles": list(percentiles), "start_ts": start_ts, "end_ts": end_ts,
             "period_interval": period_interval},
        )
        return list(answer.get("forecast_history") or [])

    def orderbook(self, market_ticker: str) -> dict[str, Any]:
        return self.client.get(f"/markets/{market_ticker}/orderbook")
