"""Wire -> row parsing: every golden response, both unit generations, and clear errors on bad payloads."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from kalshi_assets.kalshi import parse
from kalshi_assets.kalshi.parse import WireFormatError
from tests.reference import kalshi_reference_dir

GOLDEN = kalshi_reference_dir() / "golden"
NOW = datetime(2026, 11, 21)


def golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())["response"]


def golden_files() -> list[Path]:
    files = sorted(GOLDEN.glob("*.json"))
    assert len(files) >= 18, f"expected the 18 golden files in {GOLDEN}"
    return files


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_every_golden_response_parses(path: Path) -> None:
    body = json.loads(path.read_text())["response"]
    parsed = 0
    for market in body.get("markets", []) if "markets" in body and isinstance(body["markets"], list) else []:
        if "candlesticks" in market:  # batch candlesticks: [{market_ticker, candlesticks}]
            parsed += len(parse.parse_candlesticks(market["candlesticks"], market["market_ticker"], "E"))
        else:
            parsed += bool(parse.parse_market(market, NOW))
    if "market" in body:
        parsed += bool(parse.parse_market(body["market"], NOW))
    if "event" in body:
        parsed += bool(parse.parse_event(body["event"], NOW))
    for event in body.get("events", []):
        parsed += bool(parse.parse_event(event, NOW))
    if isinstance(body.get("series"), dict):
        parsed += bool(parse.parse_series(body["series"], NOW))
    for series in body.get("series", []) if isinstance(body.get("series"), list) else []:
        parsed += bool(parse.parse_series(series, NOW))
    if "candlesticks" in body:
        parsed += len(parse.parse_candlesticks(body["candlesticks"], body["ticker"], "E"))
    for ticker, candles in zip(body.get("market_tickers", []), body.get("market_candlesticks", []), strict=False):
        parsed += len(parse.parse_candlesticks(candles, ticker, "E"))
    for trade in body.get("trades", []):
        parsed += bool(parse.parse_trade(trade))
    if "orderbook" in body or "orderbook_fp" in body:
        parse.parse_orderbook(body, "T")
        parsed += 1
    for fill in body.get("fills", []):
        parsed += parse.price_dollars(fill, "yes_price", "fill") is not None
    for order in body.get("orders", []) + ([body["order"]] if "order" in body else []):
        parsed += parse.price_dollars(order, "yes_price", "order") is not None
    for position in body.get("market_positions", []):
        parsed += parse.count(position, "total_traded", "position") is not None
    if {"balance", "portfolio_value"} <= body.keys():
        parsed += isinstance(body["balance"], int)
    if "exchange_active" in body:
        parsed += isinstance(body["exchange_active"], bool)
    if "schedule" in body:
        parsed += all(parse.timestamp(h["end_time"], "schedule") for h in body["schedule"]["standard_hours"])
    assert parsed > 0, f"{path.name}: nothing in it was recognised"


def test_legacy_cents_and_dollar_strings_agree() -> None:
    market = golden("event_single_response.json")["markets"][0]
    row = parse.parse_market(market, NOW)
    assert row["yes_bid"] == pytest.approx(0.06) and row["yes_ask"] == pytest.approx(0.07)
    legacy_only = {k: v for k, v in market.items() if not k.endswith("_dollars")}
    legacy_row = parse.parse_market(legacy_only, NOW)
    assert legacy_row["yes_bid"] == pytest.approx(0.06) and legacy_row["last_price"] == pytest.approx(0.06)
    assert legacy_row["volume"] == 35001


def test_golden_candles_with_untraded_hours_have_null_last_price() -> None:
    body = golden("series_candlesticks_response.json")
    rows = parse.parse_candlesticks(body["candlesticks"], body["ticker"], "KXELONMARS-99")
    assert rows[0]["last_price"] is None  # price.close is null: nothing traded that day
    assert rows[0]["yes_bid"] == pytest.approx(0.08) and rows[0]["yes_ask"] == pytest.approx(0.11)
    assert any(r["last_price"] is not None for r in rows)
    assert all(isinstance(r["ts"], datetime) and r["ts"].tzinfo is None for r in rows)


def test_historical_candle_shape_with_bare_string_fields() -> None:
    candle = {
        "end_period_ts": 1760500800,
        "yes_bid": {"open": "0.0800", "low": "0.0800", "high": "0.0800", "close": "0.0800"},
        "yes_ask": {"open": "0.1100", "low": "0.1100", "high": "0.1100", "close": "0.1100"},
        "price": {"close": "0.1000", "previous": "0.1100"},
        "volume": "12.00",
        "open_interest": "430.00",
    }
    row = parse.parse_candlestick(candle, "M", "E")
    assert (row["yes_bid"], row["yes_ask"], row["last_price"]) == pytest.approx((0.08, 0.11, 0.10))
    assert (row["volume"], row["open_interest"]) == (12.0, 430.0)


def test_unknown_extra_fields_are_ignored() -> None:
    market = dict(golden("market_single_response.json")["market"], brand_new_field={"x": 1})
    assert parse.parse_market(market, NOW)["market_ticker"] == market["ticker"]


def test_empty_book_sides_become_null() -> None:
    market = golden("market_single_response.json")["market"]  # bid 0.0000, ask 0.0000 on an MVE market
    row = parse.parse_market(market, NOW)
    assert row["yes_bid"] is None
    assert row["strike_type"] == "custom"


def _demo_market() -> dict:
    from kalshi_assets.demo.exchange import DemoExchange

    return DemoExchange().market("KXCPI-26SEP-T0.3")


def test_missing_required_field_names_the_market() -> None:
    market = _demo_market()
    del market["event_ticker"]
    with pytest.raises(WireFormatError, match=r"KXCPI-26SEP-T0\.3.*event_ticker"):
        parse.parse_market(market, NOW)


def test_non_numeric_price_names_the_market_and_field() -> None:
    market = dict(_demo_market(), yes_bid_dollars="fifty cents")
    with pytest.raises(WireFormatError, match=r"KXCPI-26SEP-T0\.3.*yes_bid"):
        parse.parse_market(market, NOW)


def test_cap_below_floor_is_rejected() -> None:
    market = dict(_demo_market(), strike_type="between", floor_strike=0.5, cap_strike=0.2)
    with pytest.raises(WireFormatError, match=r"KXCPI-26SEP-T0\.3: cap_strike 0\.2 is below floor_strike 0\.5"):
        parse.parse_market(market, NOW)


def test_price_outside_unit_interval_is_rejected() -> None:
    with pytest.raises(WireFormatError, match="outside"):
        parse.parse_market(dict(_demo_market(), yes_ask_dollars="1.7000"), NOW)


def test_candle_with_bid_above_ask_is_rejected() -> None:
    candle = {"end_period_ts": 1, "yes_bid": {"close_dollars": "0.60"}, "yes_ask": {"close_dollars": "0.50"},
              "price": {}, "volume_fp": "0.00", "open_interest_fp": "0.00"}
    with pytest.raises(WireFormatError, match="above yes_ask"):
        parse.parse_candlestick(candle, "M", "E")


def test_orderbook_current_and_legacy_shapes() -> None:
    current = {"orderbook_fp": {"yes_dollars": [["0.4000", "10.00"], ["0.4200", "5.00"]], "no_dollars": [["0.5500", "7.00"]]}}
    book = parse.parse_orderbook(current, "T")
    assert book["yes"][-1] == (0.42, 5.0) and book["no"] == [(0.55, 7.0)]
    legacy = {"orderbook": {"yes": [[40, 10], [42, 5]], "no": None}}
    book = parse.parse_orderbook(legacy, "T")
    assert book["yes"][-1] == (0.42, 5.0) and book["no"] == []


def test_go_zero_time_means_unset() -> None:
    assert parse.timestamp("0001-01-01T00:00:00Z", "x") is None
    assert parse.timestamp("2026-01-12T14:59:36.37315Z", "x") == datetime(2026, 1, 12, 14, 59, 36, 373150)
