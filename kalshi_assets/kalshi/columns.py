"""Kalshi wire objects -> frames, a whole column at a time.

The row parsers of `parse` build one dict per candle or trade; these build the same rows as columns
(list comprehensions, `float` mapped over a column, numpy for times and ranges) when every object of a list
is well formed in a shape they know, and otherwise hand the whole list to the row parser, which parses it
or raises naming the bad object. So a frame from here equals the row parser's rows, value for value
(tests/kalshi/test_parse_fast_paths.py checks it on arbitrary payloads with hypothesis).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kalshi_assets.kalshi import parse

QUOTE_ROW_COLUMNS = ["market_ticker", "event_ticker", "ts", "yes_bid", "yes_ask", "last_price", "volume",
                     "open_interest"]
# The two candle shapes: current (dollar strings in `*_dollars`, counts in `*_fp`) and historical (bare names).
_CANDLE_KEYS = {False: ("close_dollars", "volume_fp", "open_interest_fp"), True: ("close", "volume", "open_interest")}


def parse_candle_frame(candles: Sequence[Mapping[str, Any]], market_ticker: str, event_ticker: str) -> pd.DataFrame:
    """`parse.parse_candlesticks` of one market's candles as a frame (QUOTE_ROW_COLUMNS; floats with NaN
    for an empty side, naive UTC times)."""
    return parse_candle_frames([(candles, market_ticker, event_ticker)])


def parse_candle_frames(markets: Sequence[tuple[Sequence[Mapping[str, Any]], str, str]]) -> pd.DataFrame:
    """`parse_candle_frame` of each (candles, market_ticker, event_ticker), one after another, as one frame:
    the lists in one plain shape joined column by column (a frame per market cost more than its parsing),
    any other list through the row parser, which parses it or raises naming the candle."""
    parts: list[pd.DataFrame] = []
    plain: list[tuple[str, str, dict[str, np.ndarray]]] = []  # lists read a column at a time, not yet joined
    for candles, market_ticker, event_ticker in markets:
        columns = next((found for historical in (False, True)
                        if (found := _plain_candle_columns(candles, historical)) is not None), None)
        if columns is None:
            parts.extend(_joined(plain))
            plain = []
            rows = parse.parse_candlesticks(candles, market_ticker, event_ticker)
            parts.append(pd.DataFrame.from_records(rows, columns=QUOTE_ROW_COLUMNS).astype(_QUOTE_TYPES))
        else:
            plain.append((market_ticker, event_ticker, columns))
    parts.extend(_joined(plain))
    if not parts:
        return pd.DataFrame({name: [] for name in QUOTE_ROW_COLUMNS}).astype(_QUOTE_TYPES)
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _joined(plain: list[tuple[str, str, dict[str, np.ndarray]]]) -> list[pd.DataFrame]:
    """The plain lists' columns, each list's tickers repeated over its rows, as one frame ([] for none)."""
    if not plain:
        return []
    counts = [len(columns["ts"]) for _, _, columns in plain]
    tickers = {name: np.repeat(np.array([part[i] for part in plain], dtype=object), counts)
               for i, name in enumerate(("market_ticker", "event_ticker"))}
    values = {name: np.concatenate([columns[name] for _, _, columns in plain]) for name in QUOTE_ROW_COLUMNS[2:]}
    return [pd.DataFrame({**tickers, **values}, columns=QUOTE_ROW_COLUMNS)]


_QUOTE_TYPES = {"ts": "datetime64[ns]", **{name: "float64" for name in QUOTE_ROW_COLUMNS[3:]}}


def _plain_candle_columns(candles: Sequence[Mapping[str, Any]], historical: bool) -> dict[str, Any] | None:
    """The columns of every candle of the list in one plain shape, or None if any is not plain: the conditions
    of `parse._current_candle` checked a column at a time, in the historical shape with its bare names (and
    no current-shape field beside them, which parse_candlestick would read first)."""
    close, volume_key, open_interest_key = _CANDLE_KEYS[historical]
    try:
        ends = [c["end_period_ts"] for c in candles]
        bids = [c["yes_bid"][close] for c in candles]
        asks = [c["yes_ask"][close] for c in candles]
        prices = [c["price"] for c in candles]
        lasts = [p.get(close) for p in prices]
        volumes, interests = [c[volume_key] for c in candles], [c[open_interest_key] for c in candles]
        if historical:
            shadowed = any(c["yes_bid"].get("close_dollars") is not None or c["yes_ask"].get("close_dollars") is not None
                           or c.get("volume_fp") is not None or c.get("open_interest_fp") is not None
                           for c in candles) or any(p.get("close_dollars") is not None for p in prices)
        else:
            shadowed = any(p.get("close") is not None for p, last in zip(prices, lasts, strict=True) if last is None)
    except (KeyError, TypeError, AttributeError):
        return None
    if (shadowed or not all(type(v) is int for v in ends)
            or not all(type(v) is str for column in (bids, asks, volumes, interests) for v in column)
            or not all(v is None or type(v) is str for v in lasts)):
        return None
    n = len(candles)
    traded = np.fromiter((v is not None for v in lasts), dtype=bool, count=n)
    try:
        bid, ask, volume, interest = (np.fromiter(map(float, column), dtype=np.float64, count=n)
                                      for column in (bids, asks, volumes, interests))
        last = np.fromiter((float(v) if v is not None else 0.0 for v in lasts), dtype=np.float64, count=n)
        seconds = np.array(ends, dtype=np.int64)
    except (ValueError, OverflowError):
        return None
    # Comparisons are False for NaN: a NaN anywhere goes to the row parser, which names it.
    if not (((bid >= 0.0) & (bid <= 1.0) & (ask >= 0.0) & (ask <= 1.0)).all()
            and ((volume >= 0.0) & (volume < math.inf) & (interest >= 0.0) & (interest < math.inf)).all()
            and ((last >= 0.0) & (last <= 1.0)).all()
            and ((seconds >= _FIRST_SECOND) & (seconds < _LAST_SECOND)).all()):
        return None
    yes_bid = np.where(bid > 0.0, bid, np.nan)
    yes_ask = np.where(ask < 1.0, ask, np.nan)
    if (yes_bid > yes_ask).any():  # NaN compares False: only two present sides can cross
        return None
    return {"ts": seconds.astype("datetime64[s]").astype("datetime64[ns]"), "yes_bid": yes_bid, "yes_ask": yes_ask,
            "last_price": np.where(traded, last, np.nan), "volume": volume, "open_interest": interest}


# Candle ends a frame can hold as naive UTC (the row parser's datetime reaches further; outside these the
# list goes to it, and the frame it builds fails as it always did).
_FIRST_SECOND = int((pd.Timestamp.min.ceil("s") - pd.Timestamp(0)).total_seconds())
_LAST_SECOND = int((pd.Timestamp.max.floor("s") - pd.Timestamp(0)).total_seconds())


def parse_trades(objs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """`parse_trade` of every trade, as a frame with its row's columns: well-formed current-shape trades
    (the `_current_trade` conditions) a whole column at a time; if any trade is not, every trade goes
    through `parse_trade`, which parses it or raises naming it."""
    columns = _current_trade_columns(objs)
    if columns is None:
        rows = [parse.parse_trade(obj) for obj in objs]
        columns = {name: [row[name] for row in rows] for name in TRADE_ROW_COLUMNS}
        columns["ts"] = pd.to_datetime(pd.Series(columns["ts"], dtype=object))
    return pd.DataFrame(columns, columns=TRADE_ROW_COLUMNS)


TRADE_ROW_COLUMNS = ["trade_id", "market_ticker", "ts", "yes_price", "count", "taker_side"]


def _current_trade_columns(objs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    try:
        ids, tickers = [o["trade_id"] for o in objs], [o["ticker"] for o in objs]
        created, sides = [o["created_time"] for o in objs], [o["taker_side"] for o in objs]
        size_texts, price_texts = [o["count_fp"] for o in objs], [o["yes_price_dollars"] for o in objs]
    except (KeyError, TypeError):
        return None
    if not (all(type(v) is str and v for v in ids) and all(type(v) is str and v for v in tickers)
            and all(type(v) is str for v in size_texts) and all(type(v) is str for v in price_texts)
            and all(type(v) is str and _WHOLE_SECOND_Z(v) for v in created)
            and all(type(v) is str and v in parse.TAKER_SIDES for v in sides)):
        return None
    try:
        sizes = np.fromiter(map(float, size_texts), dtype=np.float64, count=len(objs))
        prices = np.fromiter(map(float, price_texts), dtype=np.float64, count=len(objs))
        ts = np.array([v[:19] for v in created], dtype="datetime64[s]")  # ValueError on a day that does not exist
    except ValueError:
        return None
    if not (((sizes >= 0.0) & (sizes < math.inf)).all() and ((prices >= 0.0) & (prices <= 1.0)).all()
            and ((ts > _YEAR_ONE_END) & (ts < _NANOSECOND_END)).all()):
        return None
    return {"trade_id": ids, "market_ticker": tickers, "ts": ts.astype("datetime64[ns]"), "yes_price": prices,
            "count": sizes, "taker_side": sides}


# What `_current_trade` accepts as created_time, checked before numpy reads the first 19 characters.
_WHOLE_SECOND_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").fullmatch
_YEAR_ONE_END = np.datetime64("0001-12-31T23:59:59")  # _current_trade refuses year 1
_NANOSECOND_END = np.datetime64("2262-04-11T00:00:00")  # beyond it a frame cannot hold the time


FORECAST_ROW_COLUMNS = ["event_ticker", "series_ticker", "ts", "percentile", "value", "raw_value"]


def forecast_percentile_columns(points: Sequence[Any], event_ticker: str,
                                series_ticker: str) -> dict[str, Any] | None:
    """`parse_forecast_percentiles` of every point of one event's history, as columns, when every point
    is well formed: the event's own ticker, an integer end_period_ts a frame can hold, and percentile
    points holding an integer percentile and finite numbers (JSON's ints and floats). None otherwise:
    the caller parses point by point, which parses the point or raises naming it."""
    try:
        if not all(type(p) is dict and p.get("event_ticker") == event_ticker for p in points):
            return None
        ends = [p["end_period_ts"] for p in points]
        lists = [p.get("percentile_points") or [] for p in points]
    except KeyError:
        return None
    if not (all(type(v) is int for v in ends) and all(type(v) is list for v in lists)):
        return None
    flat = list(itertools.chain.from_iterable(lists))
    if not all(type(q) is dict for q in flat):
        return None
    percentiles = [q.get("percentile") for q in flat]
    values = [q.get("numerical_forecast") for q in flat]
    raws = [q.get("raw_numerical_forecast") for q in flat]
    if not (all(type(v) is int for v in percentiles) and all(type(v) is float or type(v) is int for v in values)
            and all(type(v) is float or type(v) is int for v in raws)):
        return None
    try:  # an integer past int64 or float64 goes to the row parser, which says what it does with it
        seconds, percentile = np.array(ends, dtype=np.int64), np.array(percentiles, dtype=np.int64)
        value, raw = np.array(values, dtype=np.float64), np.array(raws, dtype=np.float64)
    except OverflowError:
        return None
    exact = 2**53  # the row parser reads integers through float()
    if not (np.isfinite(value).all() and np.isfinite(raw).all() and (np.abs(percentile) < exact).all()
            and ((seconds >= _FIRST_SECOND) & (seconds < _LAST_SECOND)).all()):
        return None
    counts = [len(q) for q in lists]
    return {"event_ticker": [event_ticker] * len(flat), "series_ticker": [series_ticker] * len(flat),
            "ts": np.repeat(seconds, counts).astype("datetime64[s]").astype("datetime64[ns]"),
            "percentile": percentile, "value": value, "raw_value": raw}
