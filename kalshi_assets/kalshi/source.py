"""Where market data comes from: one small interface, answered by Kalshi's API and by the demo alike.

`MarketDataSource` answers in Kalshi's wire objects, so one set of parsers (`parse.py`) serves both.
`ApiMarketData` walks Kalshi's REST API through a client with `MarketDataEndpoints` (the signed HTTP
`KalshiClient`, or the demo's in-process client in `kalshi_assets.demo.source`) and merges Kalshi's two
tiers behind the interface: since March 2026 markets that settled before a cutoff, their candles, and
trades created before it are served only under `/historical/*`. Series and events never move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from kalshi_assets.kalshi.limits import BATCH_CANDLE_TICKERS
from kalshi_assets.kalshi.parse import HistoricalCutoff, WireFormatError, parse_historical_cutoff


class MarketDataSource(Protocol):
    def now(self) -> datetime: ...

    def series(self, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]: ...

    def events(self, series_ticker: str) -> list[dict[str, Any]]: ...

    def markets(self, event_ticker: str) -> list[dict[str, Any]]: ...

    def candlesticks(
        self, market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]: ...

    def trades(self, market_ticker: str, min_ts: int, max_ts: int) -> list[dict[str, Any]]: ...

    def forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int, end_ts: int,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]: ...

    def orderbook(self, market_ticker: str) -> dict[str, Any]: ...


def merge_tiers(
    live: Sequence[Mapping[str, Any]], historical: Sequence[Mapping[str, Any]], key: str, what: str
) -> list[dict[str, Any]]:
    """Objects of both tiers merged by `key`; one served by both must be identical there, else an
    error naming it (which tier to believe would be a guess)."""
    if not live or not historical:  # one tier answered (the usual case): no copies unless ids repeat
        objects = live or historical
        names = [obj.get(key) for obj in objects]
        if all(names) and len(set(names)) == len(names):
            return list(objects)
    merged: dict[str, dict[str, Any]] = {}
    for tier, objects in (("live", live), ("historical", historical)):
        for obj in objects:
            name = obj.get(key)
            if not name:
                raise WireFormatError(f"{what} from the {tier} tier: missing required field {key!r}")
            known = merged.get(name)
            if known is None:
                merged[name] = dict(obj)
            elif known != dict(obj):
                fields = sorted(f for f in set(known) | set(obj) if known.get(f) != obj.get(f))
                raise WireFormatError(
                    f"{what} {name}: served by both the live and the historical tier with different "
                    f"contents (fields {', '.join(fields)})"
                )
    return list(merged.values())


class ApiMarketData:
    """Market data from Kalshi's Trade API v2, both tiers merged. `client` is a `KalshiClient` (signed
    or not: market data is public) or anything with the same market-data methods."""

    def __init__(self, client: Any, *, clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cutoff: HistoricalCutoff | None = None

    def now(self) -> datetime:
        return self._clock()

    def historical_cutoff(self) -> HistoricalCutoff:
        """Kalshi's tier boundary, read once per source (a source lives for one run's steps)."""
        if self._cutoff is None:
            self._cutoff = parse_historical_cutoff(self.client.get_historical_cutoff())
        return self._cutoff

    def series(self, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if tickers is None:
            return list(self.client.get_series())
        return [self.client.get_series(ticker) for ticker in tickers]

    def events(self, series_ticker: str) -> list[dict[str, Any]]:
        return self.client.get_events(series_ticker=series_ticker)

    def markets(self, event_ticker: str) -> list[dict[str, Any]]:
        """An event's markets from both tiers, merged by ticker."""
        return merge_tiers(
            self.client.get_markets(event_ticker=event_ticker),
            self.client.get_historical_markets(event_ticker=event_ticker),
            "ticker", "market",
        )  # fmt: skip

    def archived(self, market_tickers: Sequence[str]) -> set[str]:
        """Which of these markets the historical tier serves (asked in batches of tickers)."""
        tickers = list(dict.fromkeys(market_tickers))
        found: set[str] = set()
        for offset in range(0, len(tickers), BATCH_CANDLE_TICKERS):
            chunk = tickers[offset : offset + BATCH_CANDLE_TICKERS]
            found.update(m["ticker"] for m in self.client.get_historical_markets(tickers=chunk))
        return found

    def candlesticks(
        self, market_tickers: Sequence[str], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[dict[str, Any]]]:
        """Candles of archived markets from the historical route (one market per request, within the
        candle cap), of live markets from the batch route."""
        archived = self.archived(market_tickers)
        live = [ticker for ticker in market_tickers if ticker not in archived]
        out: dict[str, list[dict[str, Any]]] = {}
        if live:
            out.update(self.client.get_candlesticks_batch(live, start_ts, end_ts, period_interval))
        for ticker in market_tickers:
            if ticker in archived:
                out[ticker] = self.client.get_historical_candlesticks(ticker, start_ts, end_ts, period_interval)
        return out

    def trades(self, market_ticker: str, min_ts: int, max_ts: int) -> list[dict[str, Any]]:
        """A market's trades with min_ts <= created <= max_ts: those created before the trades cutoff
        from the historical tier, the rest from the live one, merged by trade_id."""
        cutoff = int(self.historical_cutoff().trades_created.replace(tzinfo=UTC).timestamp())
        historical = (
            self.client.get_historical_trades(market_ticker, min_ts, min(max_ts, cutoff - 1)) if min_ts < cutoff else []
        )
        live = self.client.get_trades(market_ticker, max(min_ts, cutoff), max_ts) if max_ts >= cutoff else []
        return merge_tiers(live, historical, "trade_id", "trade")

    def forecast_percentile_history(
        self, series_ticker: str, event_ticker: str, percentiles: Sequence[int], start_ts: int, end_ts: int,
        period_interval: int = 60,
    ) -> list[dict[str, Any]]:
        return self.client.get_forecast_percentile_history(
            series_ticker, event_ticker, percentiles, start_ts, end_ts, period_interval
        )

    def orderbook(self, market_ticker: str) -> dict[str, Any]:
        return {"orderbook_fp": self.client.get_orderbook(market_ticker)}
