"""The demo exchange as an in-process `MarketDataSource` (no HTTP): the default for a fresh clone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kalshi_assets.demo.exchange import DemoExchange


class DemoMarketData:
    def __init__(self, exchange: DemoExchange | None = None) -> None:
        self.exchange = exchange or DemoExchange()

    def now(self) -> datetime:
        return self.exchange.now

    def series(self, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if tickers is None:
            return self.exchange.series_list()
        return [self.exchange.series(ticker) for ticker in tickers]

    def events(self, series_ticker: str) -> list[dict[str, Any]]:
        return self.exchange.events(series_ticker=series_ticker)

    def markets(self, event_ticker: str) -> list[dict[str, Any]]:
        return self.exchange.markets(event_ticker=event_ticker)

    def candlesticks(
        self, market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]:
        return {
            ticker: self.exchange.candlesticks(ticker, start_ts, end_ts, period_interval) for ticker in market_tickers
        }

    def forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int, end_ts: int,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]:
        return self.exchange.forecast_percentile_history(event_ticker, list(percentiles), start_ts, end_ts,
                                                         period_interval)

    def orderbook(self, market_ticker: str) -> dict[str, Any]:
        return self.exchange.orderbook(market_ticker)
