"""The demo exchange: deterministic, in Kalshi's wire format, with the warts real data has."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalshi_assets.demo.exchange import DEMO_END, DemoExchange
from kalshi_assets.demo.simulation import _power
from kalshi_assets.kalshi import parse
from tests.reference import OpenApiDocument, openapi_document


@pytest.fixture(scope="module")
def exchange() -> DemoExchange:
    return DemoExchange()


@pytest.fixture(scope="module")
def openapi() -> OpenApiDocument:
    return openapi_document()


@pytest.mark.parametrize(
    ("schema_name", "produce"),
    [
        ("Series", lambda ex: ex.series_list()),
        ("EventData", lambda ex: ex.events("KXFED")),
        ("Market", lambda ex: ex.markets(event_ticker="KXCPI-26SEP") + ex.markets(event_ticker="KXFEDDECISION-26DEC")),
        ("MarketCandlestick", lambda ex: ex.candlesticks("KXCPI-26SEP-T0.4", 0, 2**40)[:300]),
        ("Trade", lambda ex: ex.trades("KXCPI-26SEP-T0.4")[:50]),
        ("ForecastPercentilesPoint",
         lambda ex: ex.forecast_percentile_history("KXCPI-26SEP", [500, 5000, 9500], 0, 2**40)[:20]),
    ],
)
def test_objects_validate_against_kalshis_openapi(exchange, openapi, schema_name, produce) -> None:
    objects = produce(exchange)
    assert objects
    for obj in objects:
        openapi.validate(obj, {"$ref": f"#/components/schemas/{schema_name}"})


def test_same_seed_same_history_other_seed_other_history() -> None:
    a, b, c = DemoExchange(seed=7), DemoExchange(seed=7), DemoExchange(seed=8)
    assert a.candlesticks("KXCPI-26SEP-T0.4", 0, 2**40) == b.candlesticks("KXCPI-26SEP-T0.4", 0, 2**40)
    assert a.vintages() == b.vintages()
    assert [m["ticker"] for m in a.markets()] == [m["ticker"] for m in b.markets()]
    assert a.vintages() != c.vintages()


def test_the_simulation_raises_to_powers_as_the_c_library_does_on_every_cpu() -> None:
    # numpy's float64 power takes a vectorized path on AVX-512 CPUs whose last bit differs from libm's for
    # these bases (about 5% of uniform values on this project's AVX-512 machine): the demo's forecasts then
    # changed with the machine. numpy on other CPUs calls libm, which the recorded fingerprints came from.
    base = np.array([[0.3361170605456604, 0.23064220899374743], [0.8881183206591798, 1.0]])
    powered = _power(base, 0.7)
    assert powered.shape == base.shape and powered.dtype == np.float64
    assert powered.ravel().tolist() == [math.pow(value, 0.7) for value in base.ravel().tolist()]


def test_about_two_years_of_every_series(exchange) -> None:
    events = exchange.events()
    by_series = {}
    for event in events:
        by_series.setdefault(event["series_ticker"], []).append(event)
    assert set(by_series) == {"KXCPI", "KXU3", "KXPAYROLLS", "KXGDP", "KXFED", "KXFEDDECISION"}
    assert len(by_series["KXCPI"]) >= 24 and len(by_series["KXGDP"]) >= 8 and len(by_series["KXFED"]) >= 16


def test_old_tickers_live_inside_renamed_series(exchange) -> None:
    tickers = {e["event_ticker"]: e["series_ticker"] for e in exchange.events()}
    assert tickers["CPI-24NOV"] == "KXCPI" and tickers["FED-24DEC"] == "KXFED"
    assert all(m["event_ticker"] == "FED-24DEC" for m in exchange.markets(event_ticker="FED-24DEC"))


def test_ladders_use_greater_strikes_and_the_fomc_decision_uses_exclusive_bins(exchange) -> None:
    cpi = exchange.markets(event_ticker="KXCPI-26SEP")
    assert {m["strike_type"] for m in cpi} == {"greater"}
    floors = [m["floor_strike"] for m in cpi]
    assert np.allclose(np.diff(floors), 0.1)
    decision = exchange.markets(event_ticker="KXFEDDECISION-26DEC")
    assert {m["strike_type"] for m in decision} == {"between"} and len(decision) == 4
    assert exchange.event("KXFEDDECISION-26DEC")["mutually_exclusive"] is True


def test_settlement_follows_the_first_print(exchange) -> None:
    first_prints = {v["event_ticker"]: v["value"] for v in exchange.vintages() if v["vintage"] == 1}
    checked = 0
    for market in exchange.markets(series_ticker="KXGDP"):
        if market["status"] != "finalized":
            continue
        value = first_prints[market["event_ticker"]]
        assert float(market["expiration_value"]) == pytest.approx(value)
        assert market["result"] == ("yes" if value > market["floor_strike"] else "no")
        checked += 1
    assert checked > 20


def test_revisions_exist_only_for_gdp_and_payrolls_and_change_the_value(exchange) -> None:
    vintages = exchange.vintages()
    revised = [v for v in vintages if v["vintage"] > 1]
    assert revised and {v["series_ticker"] for v in revised} <= {"KXGDP", "KXPAYROLLS"}
    first = {v["event_ticker"]: v["value"] for v in vintages if v["vintage"] == 1}
    assert all(v["value"] != first[v["event_ticker"]] for v in revised)
    assert all(v["vintage_time"] <= DEMO_END.strftime("%Y-%m-%dT%H:%M:%SZ") for v in vintages)


def test_the_warts_of_real_data_are_there(exchange) -> None:
    violations = one_sided = never_traded = 0
    for event_ticker in exchange.event_tickers("KXCPI")[:12]:
        event = exchange.demo_event(event_ticker)
        mid = (event.bid_cents + np.where(event.ask_cents == 100, event.bid_cents, event.ask_cents)) / 2
        violations += int((np.diff(mid, axis=0) > 0).sum())  # a higher strike priced above a lower one
        one_sided += int(((event.bid_cents == 0) | (event.ask_cents == 100)).sum())
        never_traded += int((event.volume.sum(axis=1) == 0).sum())
    assert violations > 0 and one_sided > 0 and never_traded >= 12
    event = exchange.demo_event("KXCPI-26SEP")
    traded = event.volume.sum(axis=1) > 0
    quiet = (event.volume[traded] == 0).sum()
    assert quiet > 0, "expected hours without trades in markets that do trade"
    ticker = event.market_tickers[int(np.argmax(traded & ((event.volume == 0).sum(axis=1) > 0)))]
    candles = exchange.candlesticks(ticker, 0, 2**40)
    assert any(c["price"]["close_dollars"] is None for c in candles)


def test_implied_distribution_drifts_toward_the_truth(exchange) -> None:
    errors_open, errors_close = [], []
    for event_ticker in exchange.event_tickers("KXCPI"):
        event = exchange.demo_event(event_ticker)
        if event.close_time > exchange.now:
            continue
        errors_open.append(abs(event.mean[0] - event.first_print))
        errors_close.append(abs(event.mean[-1] - event.first_print))
    assert np.median(errors_close) < np.median(errors_open)


def test_candles_are_hourly_and_never_after_close(exchange) -> None:
    market = exchange.market("KXU3-26SEP-T4.2") if "KXU3-26SEP-T4.2" in {
        m["ticker"] for m in exchange.markets(event_ticker="KXU3-26SEP")} else exchange.markets(event_ticker="KXU3-26SEP")[0]
    candles = exchange.candlesticks(market["ticker"], 0, 2**40)
    ends = [c["end_period_ts"] for c in candles]
    assert all(b - a == 3600 for a, b in zip(ends, ends[1:], strict=False))
    close = parse.timestamp(market["close_time"], "close")
    assert parse.timestamp(ends[-1], "end") <= close


def test_scale_multiplies_series_and_events() -> None:
    small, big = DemoExchange(scale=1), DemoExchange(scale=3)
    assert len(big.series_tickers) == 3 * len(small.series_tickers)
    assert len(big.event_tickers()) == 3 * len(small.event_tickers())
    assert big.demo_event("KXCPIR2-26SEP").first_print is not None


def test_historical_candles_are_the_current_ones_in_the_historical_shape(exchange) -> None:
    """The historical route's candles are built in that shape directly: exactly historical_candle() of each
    current candle, to the key order of the JSON it serves."""
    import json

    from kalshi_assets.demo.tape import historical_candle

    event = exchange.demo_event(exchange.event_tickers()[3])
    start, end = int(event.hours[0]), int(event.hours[-1])
    compared = 0
    for ticker in event.market_tickers[:4]:
        current = exchange.candlesticks(ticker, start, end)
        archived = exchange.candlesticks(ticker, start, end, historical=True)
        assert current and json.dumps(archived) == json.dumps([historical_candle(c) for c in current])
        compared += len(current)
    assert compared > 100


def test_trade_ids_are_unique_uuids_the_same_from_any_window(exchange) -> None:
    import calendar
    import time
    import uuid

    tickers = [m["ticker"] for m in exchange.markets()][::4]
    trades = [t for ticker in tickers for t in exchange.trades(ticker)]
    assert len(trades) > 100_000
    ids = [t["trade_id"] for t in trades]
    assert len(set(ids)) == len(ids)
    for trade_id in ids[::997]:
        parsed = uuid.UUID(trade_id)
        assert (str(parsed), parsed.version, parsed.variant) == (trade_id, 4, uuid.RFC_4122)
    ticker = next(t for t in tickers if len(exchange.trades(t)) > 50)
    whole = exchange.trades(ticker)
    cut = whole[len(whole) // 2]["created_time"]
    later = exchange.trades(ticker, min_ts=calendar.timegm(time.strptime(cut, "%Y-%m-%dT%H:%M:%SZ")))
    assert later and later == [t for t in whole if t["created_time"] >= cut]  # ids included


def test_trade_ids_refuse_keys_they_cannot_pack() -> None:
    import numpy as np
    import pytest

    from kalshi_assets.demo.tape import trade_ids

    assert len(trade_ids("M", np.array([3600, 7200]), np.array([0, 2**16 - 1]))) == 2
    with pytest.raises(ValueError, match="trade ids need"):
        trade_ids("M", np.array([3600]), np.array([2**16]))
