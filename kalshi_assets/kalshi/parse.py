"""Kalshi wire objects -> warehouse rows.

Handles both unit generations: fixed-point dollar strings and `_fp` counts (current), and the legacy
integer cents and integer counts (responses before 2026-03-12, as in the golden files), plus the
historical candle shape with bare field names. Unknown extra fields are ignored; missing required
fields and non-numeric values raise `WireFormatError` naming the object, so a bad payload is
rejected before anything is written.

Conventions of the rows: times are naive UTC `datetime`s; prices are float dollars (the warehouse
stores DECIMAL); an empty side of the book is None (Kalshi sends a bid of 0 or an ask of 1 for it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kalshi_assets.settings import event_type_for_series


class WireFormatError(ValueError):
    """A Kalshi payload that cannot be turned into a row; the message names the object and field."""


# ------------------------------------------------------------------------------ scalars


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise WireFormatError(f"{what}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WireFormatError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise WireFormatError(f"{what}: expected a finite number, got {value!r}")
    return number


def price_dollars(obj: Mapping[str, Any], name: str, what: str) -> float | None:
    """A price field in dollars: `<name>_dollars` (string), else legacy `<name>` (integer cents).

    In the historical candle shape the bare `<name>` holds a dollar string, which is told apart from
    legacy cents by its type.
    """
    value = obj.get(f"{name}_dollars")
    if value is not None:
        dollars = _number(value, f"{what}.{name}_dollars")
    else:
        legacy = obj.get(name)
        if legacy is None:
            return None
        if isinstance(legacy, str):
            dollars = _number(legacy, f"{what}.{name}")
        else:
            dollars = _number(legacy, f"{what}.{name}") / 100.0
    if not 0.0 <= dollars <= 1.0:
        raise WireFormatError(f"{what}.{name}: price {dollars} is outside [0, 1] dollars")
    return dollars


def count(obj: Mapping[str, Any], name: str, what: str) -> float | None:
    """A contract count: `<name>_fp` (fixed-point string), else legacy/historical `<name>`."""
    value = obj.get(f"{name}_fp")
    if value is None:
        value = obj.get(name)
    if value is None:
        return None
    number = _number(value, f"{what}.{name}")
    if number < 0:
        raise WireFormatError(f"{what}.{name}: negative count {number}")
    return number


def timestamp(value: Any, what: str) -> datetime | None:
    """ISO-8601 (with Z) or Unix seconds -> naive UTC datetime; None for empty or Go's zero time."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise WireFormatError(f"{what}: Unix time {value!r} is out of range") from None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise WireFormatError(f"{what}: not an ISO-8601 time: {value!r}") from None
    if parsed.year <= 1:  # Go's zero time: "0001-01-01T00:00:00Z" means unset
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def _required(obj: Mapping[str, Any], key: str, what: str) -> Any:
    value = obj.get(key)
    if value in (None, ""):
        raise WireFormatError(f"{what}: missing required field {key!r}")
    return value


def _bid(value: float | None) -> float | None:
    return None if value is None or value <= 0.0 else value


def _ask(value: float | None) -> float | None:
    return None if value is None or value >= 1.0 else value


# ------------------------------------------------------------------------------ objects


def parse_series(obj: Mapping[str, Any], ingested_at: datetime) -> dict[str, Any]:
    ticker = _required(obj, "ticker", "series")
    what = f"series {ticker}"
    fee_multiplier = obj.get("fee_multiplier")
    return {
        "series_ticker": ticker,
        "event_type": event_type_for_series(ticker),
        "title": obj.get("title"),
        "category": obj.get("category"),
        "frequency": obj.get("frequency"),
        "fee_type": obj.get("fee_type"),
        "fee_multiplier": None if fee_multiplier is None else _number(fee_multiplier, f"{what}.fee_multiplier"),
        "settlement_sources": json.dumps(obj.get("settlement_sources") or []),
        "ingested_at": ingested_at,
    }


def parse_event(obj: Mapping[str, Any], ingested_at: datetime) -> dict[str, Any]:
    ticker = _required(obj, "event_ticker", "event")
    what = f"event {ticker}"
    series_ticker = _required(obj, "series_ticker", what)
    return {
        "event_ticker": ticker,
        "series_ticker": series_ticker,
        "event_type": event_type_for_series(series_ticker),
        "title": obj.get("title"),
        "sub_title": obj.get("sub_title"),
        "mutually_exclusive": bool(obj.get("mutually_exclusive", False)),
        "strike_date": timestamp(obj.get("strike_date"), f"{what}.strike_date"),
        "strike_period": obj.get("strike_period") or None,
        "ingested_at": ingested_at,
    }


STRIKE_TYPES = frozenset(
    {"greater", "greater_or_equal", "less", "less_or_equal", "between", "functional", "custom", "structured"}
)


def parse_market(obj: Mapping[str, Any], ingested_at: datetime) -> dict[str, Any]:
    ticker = _required(obj, "ticker", "market")
    what = f"market {ticker}"
    event_ticker = _required(obj, "event_ticker", what)
    strike_type = obj.get("strike_type") or None
    if strike_type is not None and strike_type not in STRIKE_TYPES:
        raise WireFormatError(f"{what}: unknown strike_type {strike_type!r}")
    floor = obj.get("floor_strike")
    cap = obj.get("cap_strike")
    floor = None if floor is None else _number(floor, f"{what}.floor_strike")
    cap = None if cap is None else _number(cap, f"{what}.cap_strike")
    if floor is not None and cap is not None and cap < floor:
        raise WireFormatError(f"{what}: cap_strike {cap} is below floor_strike {floor}")
    expiration_value = obj.get("expiration_value") or None
    try:
        expiration_value_num = None if expiration_value is None else float(expiration_value)
    except ValueError:
        expiration_value_num = None  # some series settle on text (a name); keep the text only
    yes_bid = price_dollars(obj, "yes_bid", what)
    yes_ask = price_dollars(obj, "yes_ask", what)
    return {
        "market_ticker": ticker,
        "event_ticker": event_ticker,
        "market_type": obj.get("market_type"),
        "status": _required(obj, "status", what),
        "strike_type": strike_type,
        "floor_strike": floor,
        "cap_strike": cap,
        "yes_sub_title": obj.get("yes_sub_title"),
        "open_time": timestamp(obj.get("open_time"), f"{what}.open_time"),
        "close_time": timestamp(obj.get("close_time"), f"{what}.close_time"),
        "expected_expiration_time": timestamp(obj.get("expected_expiration_time"), f"{what}.expected_expiration_time"),
        "latest_expiration_time": timestamp(obj.get("latest_expiration_time"), f"{what}.latest_expiration_time"),
        "yes_bid": _bid(yes_bid),
        "yes_ask": _ask(yes_ask),
        "last_price": price_dollars(obj, "last_price", what),
        "volume": count(obj, "volume", what),
        "open_interest": count(obj, "open_interest", what),
        "result": obj.get("result") or None,
        "expiration_value": expiration_value,
        "expiration_value_num": expiration_value_num,
        "settlement_value": price_dollars(obj, "settlement_value", what),
        "settlement_ts": timestamp(obj.get("settlement_ts"), f"{what}.settlement_ts"),
        "updated_time": timestamp(obj.get("updated_time"), f"{what}.updated_time"),
        "ingested_at": ingested_at,
    }


def parse_candlestick(obj: Mapping[str, Any], market_ticker: str, event_ticker: str) -> dict[str, Any]:
    """One candle (current, legacy or historical shape) -> a quote row stamped at its end_period_ts."""
    what = f"market {market_ticker} candle"
    end = _required(obj, "end_period_ts", what)
    what = f"{what} at {end}"
    bid_side = obj.get("yes_bid") or {}
    ask_side = obj.get("yes_ask") or {}
    price = obj.get("price") or {}
    yes_bid = _bid(price_dollars(bid_side, "close", f"{what}.yes_bid"))
    yes_ask = _ask(price_dollars(ask_side, "close", f"{what}.yes_ask"))
    if yes_bid is not None and yes_ask is not None and yes_bid > yes_ask:
        raise WireFormatError(f"{what}: yes_bid {yes_bid} is above yes_ask {yes_ask}")
    volume = count(obj, "volume", what)
    open_interest = count(obj, "open_interest", what)
    return {
        "market_ticker": market_ticker,
        "event_ticker": event_ticker,
        "ts": timestamp(int(_number(end, f"{what}.end_period_ts")), f"{what}.end_period_ts"),
        "yes_bid": yes_bid,
        "yes_ask": yes_ask,
        "last_price": price_dollars(price, "close", f"{what}.price"),
        "volume": 0.0 if volume is None else volume,
        "open_interest": 0.0 if open_interest is None else open_interest,
    }


def parse_candlesticks(
    candles: Iterable[Mapping[str, Any]], market_ticker: str, event_ticker: str
) -> list[dict[str, Any]]:
    """parse_candlestick of every candle: the current shape through a fast path, any other shape or
    any value the fast path does not accept through parse_candlestick (which parses it or raises)."""
    rows = []
    for candle in candles:
        row = _current_candle(candle, market_ticker, event_ticker)
        rows.append(row if row is not None else parse_candlestick(candle, market_ticker, event_ticker))
    return rows


_EPOCH = datetime(1970, 1, 1)
_INF = math.inf


def _current_candle(obj: Any, market_ticker: str, event_ticker: str) -> dict[str, Any] | None:
    """The row parse_candlestick gives a well-formed current-shape candle (dollar strings, `_fp` counts,
    integer end_period_ts), without building its error context; None for anything else."""
    try:
        end = obj["end_period_ts"]
        bid_text, ask_text = obj["yes_bid"]["close_dollars"], obj["yes_ask"]["close_dollars"]
        price = obj["price"]
        last_text = price.get("close_dollars")
        volume_text, open_interest_text = obj["volume_fp"], obj["open_interest_fp"]
    except (KeyError, TypeError, AttributeError):
        return None
    if (type(end) is not int or type(bid_text) is not str or type(ask_text) is not str
            or type(volume_text) is not str or type(open_interest_text) is not str
            or (last_text is None and price.get("close") is not None)
            or (last_text is not None and type(last_text) is not str)):
        return None
    try:
        bid, ask, volume, open_interest = float(bid_text), float(ask_text), float(volume_text), float(open_interest_text)
        last = None if last_text is None else float(last_text)
    except ValueError:
        return None
    # Comparisons are False for NaN: a NaN anywhere goes to parse_candlestick, which names it.
    if not (0.0 <= bid <= 1.0 and 0.0 <= ask <= 1.0 and 0.0 <= volume < _INF and 0.0 <= open_interest < _INF
            and (last is None or 0.0 <= last <= 1.0)):
        return None
    yes_bid = bid if bid > 0.0 else None
    yes_ask = ask if ask < 1.0 else None
    if yes_bid is not None and yes_ask is not None and yes_bid > yes_ask:
        return None
    try:
        ts = _EPOCH + timedelta(seconds=end)
    except OverflowError:
        return None
    return {
        "market_ticker": market_ticker,
        "event_ticker": event_ticker,
        "ts": ts,
        "yes_bid": yes_bid,
        "yes_ask": yes_ask,
        "last_price": last,
        "volume": volume,
        "open_interest": open_interest,
    }


TAKER_SIDES = frozenset({"yes", "no"})


def parse_trade(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One trade -> a row; a well-formed current-shape trade through a fast path (same row)."""
    row = _current_trade(obj)
    return row if row is not None else _parse_trade(obj)


def _current_trade(obj: Any) -> dict[str, Any] | None:
    """The row _parse_trade gives a well-formed current-shape trade (dollar strings, `count_fp`, a
    whole-second UTC created_time ending in Z), without building its error context; None otherwise."""
    try:
        trade_id, ticker, created = obj["trade_id"], obj["ticker"], obj["created_time"]
        size_text, price_text, taker_side = obj["count_fp"], obj["yes_price_dollars"], obj["taker_side"]
    except (KeyError, TypeError):
        return None
    if (type(trade_id) is not str or not trade_id or type(ticker) is not str or not ticker
            or type(size_text) is not str or type(price_text) is not str or taker_side not in TAKER_SIDES
            or type(created) is not str or len(created) != 20 or created[-1] != "Z"):
        return None
    try:
        size, yes_price = float(size_text), float(price_text)
        ts = datetime.fromisoformat(created[:-1])  # naive: the Z says UTC
    except ValueError:
        return None
    if not (0.0 <= size < _INF and 0.0 <= yes_price <= 1.0) or ts.year <= 1 or ts.tzinfo is not None:
        return None
    return {"trade_id": trade_id, "market_ticker": ticker, "ts": ts, "yes_price": yes_price, "count": size,
            "taker_side": taker_side}


def _parse_trade(obj: Mapping[str, Any]) -> dict[str, Any]:
    trade_id = _required(obj, "trade_id", "trade")
    what = f"trade {trade_id}"
    size = count(obj, "count", what)
    if size is None:
        raise WireFormatError(f"{what}: missing required field 'count_fp'")
    yes_price = price_dollars(obj, "yes_price", what)
    if yes_price is None:
        raise WireFormatError(f"{what}: missing required field 'yes_price_dollars'")
    taker_side = obj.get("taker_side")
    if taker_side not in TAKER_SIDES:
        raise WireFormatError(f"{what}: taker_side must be yes or no, got {taker_side!r}")
    return {
        "trade_id": trade_id,
        "market_ticker": _required(obj, "ticker", what),
        "ts": timestamp(_required(obj, "created_time", what), f"{what}.created_time"),
        "yes_price": yes_price,
        "count": size,
        "taker_side": taker_side,
    }


@dataclass(frozen=True)
class HistoricalCutoff:
    """Kalshi's boundary between its live and historical tiers (naive UTC): markets settled before
    `market_settled`, with their candles, and trades created before `trades_created` are historical."""

    market_settled: datetime
    trades_created: datetime
    orders_updated: datetime


def parse_historical_cutoff(obj: Mapping[str, Any]) -> HistoricalCutoff:
    """The GET /historical/cutoff answer; every one of the three cutoffs is required."""
    if not isinstance(obj, Mapping):
        raise WireFormatError(f"historical cutoff: expected an object, got {type(obj).__name__}")
    times = {}
    for name in ("market_settled_ts", "trades_created_ts", "orders_updated_ts"):
        value = timestamp(_required(obj, name, "historical cutoff"), f"historical cutoff.{name}")
        if value is None:
            raise WireFormatError(f"historical cutoff: {name} is the zero time")
        times[name] = value
    return HistoricalCutoff(times["market_settled_ts"], times["trades_created_ts"], times["orders_updated_ts"])


def parse_orderbook(obj: Mapping[str, Any], market_ticker: str) -> dict[str, list[tuple[float, float]]]:
    """`orderbook_fp` (current) or `orderbook` (legacy) -> YES bids and NO bids as (price, size), best last.

    The YES ask is 1 - best NO bid (Kalshi's order book holds bids only, ascending).
    """
    what = f"market {market_ticker} orderbook"
    book = obj.get("orderbook_fp") or obj.get("orderbook") or {}
    out: dict[str, list[tuple[float, float]]] = {}
    for side in ("yes", "no"):
        levels = book.get(f"{side}_dollars")
        legacy = levels is None
        if legacy:
            levels = book.get(side)
        parsed = []
        for level in levels or []:
            if not isinstance(level, list | tuple) or len(level) != 2:
                raise WireFormatError(f"{what}.{side}: a level must be [price, count], got {level!r}")
            price, size = level
            price = _number(price, f"{what}.{side} price") / (100.0 if legacy and not isinstance(price, str) else 1.0)
            parsed.append((price, _number(size, f"{what}.{side} size")))
        out[side] = sorted(parsed)
    return out


def parse_forecast_percentiles(obj: Mapping[str, Any], series_ticker: str) -> list[dict[str, Any]]:
    """One forecast-history point -> one row per percentile."""
    event_ticker = _required(obj, "event_ticker", "forecast point")
    what = f"event {event_ticker} forecast"
    ts = timestamp(int(_number(_required(obj, "end_period_ts", what), f"{what}.end_period_ts")), what)
    rows = []
    for point in obj.get("percentile_points") or []:
        rows.append({
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "ts": ts,
            "percentile": int(_number(_required(point, "percentile", what), f"{what}.percentile")),
            "value": _number(point.get("numerical_forecast"), f"{what}.numerical_forecast"),
            "raw_value": _number(point.get("raw_numerical_forecast"), f"{what}.raw_numerical_forecast"),
        })
    return rows
