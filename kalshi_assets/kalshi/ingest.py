"""Fetch from a `MarketDataSource` and parse into frames shaped like the warehouse's ingest tables.

Everything is parsed and checked before anything is returned, so a malformed payload, a row outside
the requested window or a series missing from the catalog raises (naming the object) and the caller
writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from kalshi_assets.catalog import load_catalog
from kalshi_assets.kalshi import columns, parse
from kalshi_assets.kalshi.limits import BATCH_CANDLE_TICKERS, BATCH_CANDLES
from kalshi_assets.kalshi.source import MarketDataSource
from kalshi_assets.times import unix_seconds, utc_now

SERIES_COLUMNS = ["series_ticker", "event_type", "title", "category", "frequency", "fee_type", "fee_multiplier",
                  "settlement_sources", "ingested_at"]
EVENT_COLUMNS = ["event_ticker", "series_ticker", "event_type", "title", "sub_title", "mutually_exclusive",
                 "strike_date", "strike_period", "ingested_at"]
MARKET_COLUMNS = ["market_ticker", "event_ticker", "market_type", "status", "strike_type", "floor_strike",
                  "cap_strike", "yes_sub_title", "open_time", "close_time", "expected_expiration_time",
                  "latest_expiration_time", "yes_bid", "yes_ask", "last_price", "volume", "open_interest", "result",
                  "expiration_value", "expiration_value_num", "settlement_value", "settlement_ts", "updated_time",
                  "ingested_at"]
QUOTE_COLUMNS = columns.QUOTE_ROW_COLUMNS  # a quote is a parsed candle, column for column
TRADE_COLUMNS = ["trade_id", "market_ticker", "event_ticker", "ts", "yes_price", "count", "taker_side"]
_TIME_COLUMNS = {"ingested_at", "strike_date", "open_time", "close_time", "expected_expiration_time",
                 "latest_expiration_time", "settlement_ts", "updated_time", "ts"}
# Candles parsed per group of markets (about 60 MB of wire objects at a time).
QUOTE_GROUP_CANDLES = 50_000
# Trades parsed per group of markets (about 20 MB of wire objects at a time).
TRADE_GROUP = 20_000
_FLOAT_COLUMNS = {"fee_multiplier", "floor_strike", "cap_strike", "yes_bid", "yes_ask", "last_price", "volume",
                  "open_interest", "expiration_value_num", "settlement_value", "yes_price", "count"}


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows -> a frame with the table's columns and stable dtypes (naive UTC datetimes, floats)."""
    return _typed(pd.DataFrame.from_records(rows, columns=columns))


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    for column in out.columns:
        if column in _TIME_COLUMNS:
            out[column] = pd.to_datetime(out[column], cache=False)  # cache: see warehouse/writes.py
        elif column in _FLOAT_COLUMNS:
            out[column] = pd.to_numeric(out[column]).astype("float64")
    return out


def fetch_series(source: MarketDataSource, tickers: Sequence[str] | None) -> pd.DataFrame:
    """The series, each of which must be in the series catalog (never a NULL event type)."""
    now = utc_now()
    rows = [parse.parse_series(obj, now) for obj in source.series(tickers)]
    load_catalog().require_all([row["series_ticker"] for row in rows])
    return frame(rows, SERIES_COLUMNS)


def fetch_events(source: MarketDataSource, series_tickers: Sequence[str]) -> pd.DataFrame:
    load_catalog().require_all(series_tickers)
    now = utc_now()
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


@dataclass(frozen=True)
class FetchedMarkets:
    """The markets of the asked events, and the events neither tier had a market for."""

    frame: pd.DataFrame
    events_without_markets: list[str] = field(default_factory=list)


def fetch_markets(source: MarketDataSource, event_tickers: Sequence[str]) -> FetchedMarkets:
    """Markets of each event from both tiers, tied by their exact `event_ticker` (never by prefix or title)."""
    now = utc_now()
    rows, empty = [], []
    for event_ticker in event_tickers:
        objects = source.markets(event_ticker)
        if not objects:
            empty.append(event_ticker)
        for obj in objects:
            row = parse.parse_market(obj, now)
            if row["event_ticker"] != event_ticker:
                raise parse.WireFormatError(
                    f"market {row['market_ticker']}: returned for event {event_ticker} but belongs to "
                    f"{row['event_ticker']}"
                )
            rows.append(row)
    return FetchedMarkets(frame(rows, MARKET_COLUMNS), empty)


def _refuse_outside(rows: pd.DataFrame, start: datetime, end: datetime, what: str) -> None:
    """A row stamped outside [start, end) is the source's error: raise naming it before anything is
    written (dropping it would let the partition replace delete the stored row)."""
    outside = rows[(rows["ts"] < start) | (rows["ts"] >= end)]
    if not outside.empty:
        row = outside.iloc[0]
        raise parse.WireFormatError(
            f"market {row['market_ticker']}: {what} at {row['ts']:%Y-%m-%d %H:%M:%S} is outside the "
            f"requested window [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}); nothing was written"
        )


def fetch_quotes(source: MarketDataSource, markets: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly quotes stamped inside [start, end) for the given markets (market_ticker, event_ticker)."""
    if markets.empty:
        return frame([], QUOTE_COLUMNS)
    events = dict(zip(markets["market_ticker"], markets["event_ticker"], strict=True))
    # Candle routes take Unix seconds and answer the candles whose end_period_ts lies in [start_ts, end_ts]
    # (inclusive ends, per Kalshi's OpenAPI document). Asking [start - 1 s, end - 1 s] gives exactly the
    # candles stamped in [start, end) whether a server treats start_ts as inclusive or exclusive (candles
    # end on whole periods, never one second before one), so each candle lands in one daily partition:
    # the day of its end_period_ts.
    # A group of markets at a time, so only one group's candle objects are alive at once and memory follows
    # QUOTE_GROUP_CANDLES, not the window times every market (issue 16). A group is a whole number of the
    # batch requests the window allows, so grouping adds no request.
    hours = int((end - start).total_seconds() // 3600) + 1
    per_request = max(1, min(BATCH_CANDLE_TICKERS, BATCH_CANDLES // hours))
    size = max(per_request, QUOTE_GROUP_CANDLES // hours // per_request * per_request)
    tickers, frames = list(events), []
    for offset in range(0, len(tickers), size):
        group = tickers[offset : offset + size]
        answered = source.candlesticks(group, unix_seconds(start) - 1, unix_seconds(end) - 1, 60)
        for ticker in answered:
            if ticker not in group:
                raise parse.WireFormatError(f"market {ticker}: candles returned that were not asked for")
        frames.append(columns.parse_candle_frames([(candles, ticker, events[ticker])
                                                   for ticker, candles in answered.items()])[QUOTE_COLUMNS])
        del answered
    quotes = _typed(pd.concat(frames, ignore_index=True)) if frames else frame([], QUOTE_COLUMNS)
    del frames  # one copy of the window's rows at a time (issue 16: memory at scale)
    _refuse_outside(quotes, start, end, "a candle")
    return quotes.sort_values(["market_ticker", "ts"], ignore_index=True)


def fetch_trades(source: MarketDataSource, markets: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Every trade created inside [start, end) in the given markets (market_ticker, event_ticker)."""
    if markets.empty:
        return frame([], TRADE_COLUMNS)
    frames, objs, asked, owners = [], [], [], []
    # Markets are parsed a group at a time (a frame per market cost more than its parsing), and only one
    # group's wire objects are alive at once (issue 16: memory at scale).
    for market_ticker, event_ticker in zip(markets["market_ticker"], markets["event_ticker"], strict=True):
        got = source.trades(market_ticker, unix_seconds(start), unix_seconds(end) - 1)
        objs.extend(got)
        asked.extend([market_ticker] * len(got))
        owners.extend([event_ticker] * len(got))
        if len(objs) >= TRADE_GROUP:
            frames.append(_trade_group(objs, asked, owners))
            objs, asked, owners = [], [], []
    if objs or not frames:
        frames.append(_trade_group(objs, asked, owners))
    trades = _typed(pd.concat(frames, ignore_index=True))
    del frames  # one copy of the window's rows at a time (issue 16: memory at scale)
    _refuse_outside(trades, start, end, "a trade")
    trades = trades.take(_time_then_id_order(trades["ts"].to_numpy(), trades["trade_id"].tolist()))
    trades.index = pd.RangeIndex(len(trades))
    return trades


def _trade_group(objs: list, asked: list[str], owners: list[str]) -> pd.DataFrame:
    """The trades of a group of markets: objs[i] was returned for market asked[i] of event owners[i]."""
    trades = columns.parse_trades(objs)
    elsewhere = np.flatnonzero(trades["market_ticker"].to_numpy() != np.array(asked, dtype=object))
    if elsewhere.size:
        trade_id, owner = trades.iloc[elsewhere[0]][["trade_id", "market_ticker"]]
        raise parse.WireFormatError(f"trade {trade_id}: returned for market {asked[elsewhere[0]]} but belongs to {owner}")
    trades["event_ticker"] = owners
    return trades[TRADE_COLUMNS]


def _time_then_id_order(ts: np.ndarray, trade_ids: list[str]) -> np.ndarray:
    """The order sort_values([ts, trade_id]) gives, without comparing Python strings one by one (pandas
    took 2 s for the demo's trades). ASCII ids (Kalshi's are UUIDs) sort as bytes, 36 bytes a row, in
    a quarter of the time of numpy's variable-width strings; other ids (and any ending in NUL, which a
    bytes array drops) sort as those (not fixed-width str: 144 bytes a row, 200 MiB for
    a quarter of trades at demo scale 10, issue 16)."""
    try:
        ids = np.array(trade_ids, dtype="S")
    except UnicodeEncodeError:  # a non-ASCII id
        ids = None
    lengths = np.fromiter(map(len, trade_ids), dtype=np.int64, count=len(trade_ids))
    if ids is None or (np.strings.str_len(ids) != lengths).any():  # or an id that ended in NUL, cut short
        ids = np.array(trade_ids, dtype=np.dtypes.StringDType())
    return np.lexsort((ids, ts))
