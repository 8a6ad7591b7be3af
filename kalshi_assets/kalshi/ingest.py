"""Fetch from a `MarketDataSource` and parse into frames shaped like the warehouse's ingest tables.

Everything is parsed before anything is returned, so a malformed payload raises `WireFormatError`
(naming the object) and the caller writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from kalshi_assets.kalshi import parse
from kalshi_assets.kalshi.source import MarketDataSource

SERIES_COLUMNS = ["series_ticker", "event_type", "title", "category", "frequency", "fee_type", "fee_multiplier",
                  "settlement_sources", "ingested_at"]
EVENT_COLUMNS = ["event_ticker", "series_ticker", "event_type", "title", "sub_title", "mutually_exclusive",
                 "strike_date", "strike_period", "ingested_at"]
MARKET_COLUMNS = ["market_ticker", "event_ticker", "market_type", "status", "strike_type", "floor_strike",
                  "cap_strike", "yes_sub_title", "open_time", "close_time", "expected_expiration_time",
                  "latest_expiration_time", "yes_bid", "yes_ask", "last_price", "volume", "open_interest", "result",
                  "expiration_value", "expiration_value_num", "settlement_value", "settlement_ts", "updated_time",
                  "ingested_at"]
QUOTE_COLUMNS = ["market_ticker", "event_ticker", "ts", "yes_bid", "yes_ask", "last_price", "volume",
                 "open_interest"]
_TIME_COLUMNS = {"ingested_at", "strike_date", "open_time", "close_time", "expected_expiration_time",
                 "latest_expiration_time", "settlement_ts", "updated_time", "ts"}
_FLOAT_COLUMNS = {"fee_multiplier", "floor_strike", "cap_strike", "yes_bid", "yes_ask", "last_price", "volume",
                  "open_interest", "expiration_value_num", "settlement_value"}


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows -> a frame with the table's columns and stable dtypes (naive UTC datetimes, floats)."""
    out = pd.DataFrame.from_records(rows, columns=columns)
    for column in columns:
        if column in _TIME_COLUMNS:
            out[column] = pd.to_datetime(out[column])
        elif column in _FLOAT_COLUMNS:
            out[column] = pd.to_numeric(out[column]).astype("float64")
    return out


def _utc_now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fetch_series(source: MarketDataSource, tickers: Sequence[str] | None) -> pd.DataFrame:
    now = _utc_now_naive()
    return frame([parse.parse_series(obj, now) for obj in source.series(tickers)], SERIES_COLUMNS)


def fetch_events(source: MarketDataSource, series_tickers: Sequence[str]) -> pd.DataFrame:
    now = _utc_now_naive()
    rows = []
    for series_ticker in series_tickers:
        for obj in source.events(series_ticker):
            row = parse.parse_event(obj, now)
            if row["series_ticker"] != series_ticker:
                raise parse.WireFormatError(
                    f"event {row['event_ticker']}: listed under series {series_ticker} but says {row['series_ticker']}"
                )
            rows.append(row)
    return frame(rows, EVENT_COLUMNS)


def fetch_markets(source: MarketDataSource, event_tickers: Sequence[str]) -> pd.DataFrame:
    """Markets of each event, tied by their exact `event_ticker` (never by prefix or title)."""
    now = _utc_now_naive()
    rows = []
    for event_ticker in event_tickers:
        for obj in source.markets(event_ticker):
            row = parse.parse_market(obj, now)
            if row["event_ticker"] != event_ticker:
                raise parse.WireFormatError(
                    f"market {row['market_ticker']}: returned for event {event_ticker} but belongs to "
                    f"{row['event_ticker']}"
                )
            rows.append(row)
    return frame(rows, MARKET_COLUMNS)


def fetch_quotes(source: MarketDataSource, markets: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly quotes with start < ts <= ... inside [start, end) for the given markets (ticker, event, close)."""
    if markets.empty:
        return frame([], QUOTE_COLUMNS)
    start_ts = int(start.replace(tzinfo=UTC).timestamp())
    end_ts = int(end.replace(tzinfo=UTC).timestamp())
    events = dict(zip(markets["market_ticker"], markets["event_ticker"], strict=True))
    # The API's end is inclusive and its start exclusive of the first period: ask (start-1h, end-1s] so
    # each candle lands in exactly one daily partition: the day of its end_period_ts.
    candles = source.candlesticks(list(events), start_ts - 1, end_ts - 1, 60)
    rows = []
    for ticker, ticker_candles in candles.items():
        if ticker not in events:
            raise parse.WireFormatError(f"market {ticker}: candles returned that were not asked for")
        rows.extend(parse.parse_candlesticks(ticker_candles, ticker, events[ticker]))
    out = frame(rows, QUOTE_COLUMNS)
    inside = (out["ts"] >= pd.Timestamp(start)) & (out["ts"] < pd.Timestamp(end))
    return out[inside].sort_values(["market_ticker", "ts"]).reset_index(drop=True)
