"""The fast paths of parse_candlesticks and parse_trade (current shapes) give exactly what the full parse
gives, row for row, or raise the same error, for well-formed, legacy and malformed payloads alike."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_assets.kalshi import columns, parse

DOLLAR_TEXT = st.one_of(
    st.integers(0, 100).map(lambda cents: f"{cents / 100:.4f}"),
    st.sampled_from(["1.5", "-0.01", "nan", "inf", "abc", "", " 0.5", "0.5000"]),
)
COUNT_TEXT = st.one_of(st.integers(0, 10_000).map(lambda n: f"{n:.2f}"), st.sampled_from(["-1.00", "inf", "x"]))
ANY_VALUE = st.one_of(st.none(), st.integers(-5, 105), DOLLAR_TEXT, st.booleans(), st.floats(allow_nan=True))


@st.composite
def candles(draw) -> dict:
    def side(strategy) -> dict:
        close = draw(st.one_of(strategy, ANY_VALUE))
        key = draw(st.sampled_from(["close_dollars", "close_dollars", "close"]))
        return {key: close}

    candle = {
        "end_period_ts": draw(st.one_of(st.integers(1_700_000_000, 1_800_000_000).map(lambda t: t - t % 3600),
                                        ANY_VALUE)),
        "yes_bid": side(DOLLAR_TEXT),
        "yes_ask": side(DOLLAR_TEXT),
        "price": draw(st.one_of(st.just({}), st.builds(lambda s: s, st.just(None)).map(lambda _: {"close_dollars": None}),
                                st.fixed_dictionaries({"close_dollars": DOLLAR_TEXT}),
                                st.fixed_dictionaries({"close": st.integers(0, 100)}),
                                st.fixed_dictionaries({"close": DOLLAR_TEXT}))),
        draw(st.sampled_from(["volume_fp", "volume_fp", "volume"])): draw(st.one_of(COUNT_TEXT, ANY_VALUE)),
        draw(st.sampled_from(["open_interest_fp", "open_interest_fp", "open_interest"])): draw(
            st.one_of(COUNT_TEXT, ANY_VALUE)),
    }
    for key in draw(st.lists(st.sampled_from(list(candle)), max_size=2)):
        candle.pop(key, None)
    return candle


def _one_by_one(candle: dict) -> tuple[str, object]:
    try:
        return "row", parse.parse_candlestick(candle, "M", "E")
    except parse.WireFormatError as error:
        return "error", str(error)


def _batch(candle: dict) -> tuple[str, object]:
    try:
        return "row", parse.parse_candlesticks([candle], "M", "E")[0]
    except parse.WireFormatError as error:
        return "error", str(error)


@settings(max_examples=400, deadline=None)
@given(candles())
def test_parse_candlesticks_equals_parse_candlestick_on_any_candle(candle: dict) -> None:
    assert _batch(candle) == _one_by_one(candle)


def test_fast_path_takes_a_current_candle_and_keeps_types() -> None:
    candle = {"end_period_ts": 1_767_225_600, "yes_bid": {"close_dollars": "0.4200"},
              "yes_ask": {"close_dollars": "1.0000"}, "price": {"close_dollars": None},
              "volume_fp": "12.00", "open_interest_fp": "340.00"}
    fast = parse._current_candle(candle, "M", "E")
    assert fast is not None
    assert fast == parse.parse_candlestick(candle, "M", "E")
    assert fast["yes_ask"] is None and fast["last_price"] is None and fast["yes_bid"] == pytest.approx(0.42)


def test_fast_path_takes_a_historical_candle() -> None:
    from kalshi_assets.demo.tape import historical_candle

    current = {"end_period_ts": 1_767_225_600, "yes_bid": {f"{k}_dollars": "0.4200" for k in ("open", "low", "high", "close")},
               "yes_ask": {f"{k}_dollars": "0.4500" for k in ("open", "low", "high", "close")},
               "price": {f"{k}_dollars": "0.4300" for k in ("open", "low", "high", "close", "mean", "previous")},
               "volume_fp": "12.00", "open_interest_fp": "340.00"}
    archived = historical_candle(current)
    assert parse._current_candle(archived, "M", "E") is None
    assert columns._plain_candle_columns([archived], historical=False) is None
    assert columns._plain_candle_columns([archived], historical=True) is not None
    fast = columns.parse_candle_frame([archived], "M", "E").to_dict("records")
    assert fast == [{**parse.parse_candlestick(archived, "M", "E"), "ts": pd.Timestamp(1_767_225_600, unit="s")}]
    assert fast == columns.parse_candle_frame([current], "M", "E").to_dict("records")
    # A current-shape field beside the bare one is what parse_candlestick reads: the fast path steps aside.
    assert columns._plain_candle_columns([{**archived, "volume_fp": "13.00"}], historical=True) is None


def test_bid_above_ask_still_raises_naming_the_candle() -> None:
    candle = {"end_period_ts": 1_767_225_600, "yes_bid": {"close_dollars": "0.6000"},
              "yes_ask": {"close_dollars": "0.5000"}, "price": {}, "volume_fp": "0.00", "open_interest_fp": "0.00"}
    with pytest.raises(parse.WireFormatError, match="market M candle at 1767225600: yes_bid 0.6 is above yes_ask 0.5"):
        parse.parse_candlesticks([candle], "M", "E")


TIME_TEXT = st.one_of(
    st.integers(1_700_000_000, 1_800_000_000).map(
        lambda t: __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(t))),
    st.sampled_from(["0001-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00.5Z",
                     "2026-13-01T00:00:00Z", "", "yesterday", "2026-01-01 00:00:00Z"]),
)


@st.composite
def trades(draw) -> dict:
    trade = {
        "trade_id": draw(st.one_of(st.uuids().map(str), ANY_VALUE)),
        "ticker": draw(st.one_of(st.just("M"), ANY_VALUE)),
        draw(st.sampled_from(["count_fp", "count_fp", "count"])): draw(st.one_of(COUNT_TEXT, ANY_VALUE)),
        draw(st.sampled_from(["yes_price_dollars", "yes_price_dollars", "yes_price"])): draw(
            st.one_of(DOLLAR_TEXT, ANY_VALUE)),
        "taker_side": draw(st.sampled_from(["yes", "no", "YES", None])),
        "created_time": draw(st.one_of(TIME_TEXT, ANY_VALUE)),
    }
    for key in draw(st.lists(st.sampled_from(list(trade)), max_size=2)):
        trade.pop(key, None)
    return trade


def _outcome(parse_one, obj: dict) -> tuple[str, object]:
    try:
        return "row", parse_one(obj)
    except parse.WireFormatError as error:
        return "error", str(error)


@settings(max_examples=400, deadline=None)
@given(trades())
def test_parse_trade_fast_path_equals_the_full_parse_on_any_trade(trade: dict) -> None:
    assert _outcome(parse.parse_trade, trade) == _outcome(parse._parse_trade, trade)


def _frame_outcome(build, objects: list[dict]) -> tuple[str, object]:
    """("frame", what `build(objects)` returns) or ("error", its message) for a payload it refuses."""
    try:
        return "frame", build(objects)
    except (parse.WireFormatError, pd.errors.OutOfBoundsDatetime) as error:
        return "error", str(error)


def _row_frame(parse_one, objects: list[dict], names: list[str], floats: list[str]) -> pd.DataFrame:
    """The frame of the row parser's rows, typed as the column parsers type them."""
    frame = pd.DataFrame.from_records([parse_one(obj) for obj in objects], columns=names)
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.astype({name: "float64" for name in floats})


def _assert_same_outcome(got: tuple[str, object], expected: tuple[str, object]) -> None:
    assert got[0] == expected[0], (got, expected)
    if got[0] == "frame":
        pd.testing.assert_frame_equal(got[1], expected[1], check_dtype=False)
    else:
        assert got[1] == expected[1]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(trades(), max_size=6), st.lists(st.builds(dict, trade_id=st.uuids().map(str),
       ticker=st.just("M"), count_fp=COUNT_TEXT, yes_price_dollars=DOLLAR_TEXT,
       taker_side=st.sampled_from(["yes", "no"]), created_time=TIME_TEXT), min_size=1, max_size=6)))
def test_parse_trades_columns_equal_the_full_parse_of_each_trade(trade_list: list[dict]) -> None:
    """parse_trades (whole columns when every trade is current-shape) gives the frame of the per-trade parse."""
    _assert_same_outcome(
        _frame_outcome(columns.parse_trades, trade_list),
        _frame_outcome(lambda objs: _row_frame(parse._parse_trade, objs, columns.TRADE_ROW_COLUMNS,
                                               ["yes_price", "count"]), trade_list))


def test_parse_trades_takes_the_column_path_for_current_trades() -> None:
    trade = {"trade_id": "t1", "ticker": "M", "count_fp": "3.00", "yes_price_dollars": "0.4200", "taker_side": "no",
             "created_time": "2026-10-01T12:20:00Z"}
    assert columns._current_trade_columns([trade, {**trade, "trade_id": "t2"}]) is not None
    got = columns.parse_trades([trade])
    assert got.to_dict("records") == [{**parse.parse_trade(trade), "ts": pd.Timestamp("2026-10-01 12:20:00")}]


def _candle_rows(candle_list: list[dict]) -> pd.DataFrame:
    return _row_frame(lambda candle: parse.parse_candlestick(candle, "M", "E"), candle_list,
                      columns.QUOTE_ROW_COLUMNS, columns.QUOTE_ROW_COLUMNS[3:])


def _shape(historical: bool) -> dict:
    close, volume, interest = ("close", "volume", "open_interest") if historical else (
        "close_dollars", "volume_fp", "open_interest_fp")
    return dict(end_period_ts=st.integers(1_700_000_000, 1_800_000_000).map(lambda t: t - t % 3600),
                yes_bid=st.builds(lambda v: {close: v}, DOLLAR_TEXT), yes_ask=st.builds(lambda v: {close: v}, DOLLAR_TEXT),
                price=st.one_of(st.just({}), st.builds(lambda v: {close: v}, DOLLAR_TEXT)),
                **{volume: COUNT_TEXT, interest: COUNT_TEXT})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(candles(), max_size=5),
                 st.lists(st.fixed_dictionaries(_shape(False)), min_size=1, max_size=6),
                 st.lists(st.fixed_dictionaries(_shape(True)), min_size=1, max_size=6)))
def test_candle_frames_equal_the_full_parse_of_each_candle(candle_list: list[dict]) -> None:
    """parse_candle_frame (whole columns when every candle has one plain shape) gives the frame of the
    per-candle parse, or the same error."""
    _assert_same_outcome(_frame_outcome(lambda objs: columns.parse_candle_frame(objs, "M", "E"), candle_list),
                         _frame_outcome(_candle_rows, candle_list))


MARKET_CANDLES = st.one_of(st.lists(candles(), max_size=3),
                           st.lists(st.fixed_dictionaries(_shape(False)), max_size=4),
                           st.lists(st.fixed_dictionaries(_shape(True)), max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(MARKET_CANDLES, max_size=5))
def test_several_markets_candles_equal_each_markets_frame_one_after_another(lists: list[list[dict]]) -> None:
    """parse_candle_frames (plain lists joined column by column, others parsed row by row, in order) gives
    the concatenation of each market's parse_candle_frame, or the first market's error."""
    markets = [(candle_list, f"M{i}", f"E{i % 2}") for i, candle_list in enumerate(lists)]

    def one_by_one(_) -> pd.DataFrame:
        frames = [columns.parse_candle_frame(*market) for market in markets]
        if not frames:
            return pd.DataFrame({name: [] for name in columns.QUOTE_ROW_COLUMNS})
        return pd.concat(frames, ignore_index=True)

    _assert_same_outcome(_frame_outcome(lambda _: columns.parse_candle_frames(markets), None),
                         _frame_outcome(one_by_one, None))


def test_candle_frames_take_the_column_path_for_either_plain_shape() -> None:
    from kalshi_assets.demo.exchange import DemoExchange

    exchange = DemoExchange()
    event = exchange.demo_event(exchange.event_tickers()[5])
    ticker, start, end = event.market_tickers[1], int(event.hours[0]), int(event.hours[-1])
    for historical in (False, True):
        candles = exchange.candlesticks(ticker, start, end, historical=historical)
        assert len(candles) > 100
        assert columns._plain_candle_columns(candles, historical) is not None
        got = columns.parse_candle_frame(candles, ticker, "E")
        pd.testing.assert_frame_equal(got, _candle_rows(candles).assign(market_ticker=ticker), check_dtype=False)


FORECAST_ODD_NUMBER = st.one_of(st.sampled_from([2**64 + 1, 2**1030, float("nan"), float("-inf"), "1.5", True]),
                                ANY_VALUE)


@st.composite
def forecast_points(draw) -> list:
    """One event's forecast history: well formed, but any field of any point may be odd (one in ten)."""
    def either(good, odd):
        return draw(odd) if draw(st.integers(0, 9)) == 0 else draw(good)

    def percentile_point() -> dict:
        number = st.one_of(st.floats(-1e6, 1e6), st.integers(-10**6, 10**6))
        odd_percentile = st.one_of(st.sampled_from([2**53 + 1, -(2**53) - 1, 2**62 + 3, 2**64, 500.0, "500"]),
                                   ANY_VALUE)
        point = {"percentile": either(st.sampled_from([500, 5000, 9500]), odd_percentile),
                 "numerical_forecast": either(number, FORECAST_ODD_NUMBER),
                 "raw_numerical_forecast": either(number, FORECAST_ODD_NUMBER)}
        if draw(st.integers(0, 9)) == 0:
            point.pop(draw(st.sampled_from(list(point))))
        return point

    points = []
    for _ in range(draw(st.integers(0, 4))):
        point = {"event_ticker": either(st.just("E-1"), st.sampled_from(["E-2", None])),
                 "end_period_ts": either(st.integers(1_700_000_000, 1_800_000_000),
                                         st.one_of(st.integers(10**12, 10**19), ANY_VALUE)),
                 "percentile_points": either(st.lists(st.builds(percentile_point), max_size=3),
                                             st.sampled_from([None, [], "x"]))}
        points.append(either(st.just(point), st.just([point])))
    return points


def _forecast_frame(parsed) -> pd.DataFrame:
    frame = pd.DataFrame(parsed, columns=columns.FORECAST_ROW_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None)
    return frame.astype({"percentile": "int64", "value": "float64", "raw_value": "float64"})


def _forecast_point(percentile=500, value=1.5, end=1_750_000_000) -> list:
    return [{"event_ticker": "E-1", "end_period_ts": end,
             "percentile_points": [{"percentile": percentile, "numerical_forecast": value, "raw_numerical_forecast": 2}]}]


@settings(max_examples=400, deadline=None)
@given(forecast_points())
@example(_forecast_point(percentile=2**53 + 1))  # the row parser reads it through float()
@example(_forecast_point(percentile=2**62 + 3))
@example(_forecast_point(value=2**1030))  # past a float: OverflowError either way
@example(_forecast_point(value=2**64 + 1))
@example(_forecast_point(end=2**40))  # past what a frame's time holds
def test_the_forecast_columns_are_the_points_parsed_one_by_one(points: list) -> None:
    """Whenever the column path accepts an event's points, its columns are what parse_forecast_percentiles
    gives point by point (which the caller falls back to otherwise, raising there as it did)."""
    got = columns.forecast_percentile_columns(points, "E-1", "S")
    try:
        rows = [row for point in points for row in parse.parse_forecast_percentiles(point, "S")]
        expected = _forecast_frame(rows)
    except (parse.WireFormatError, OverflowError, AttributeError, TypeError, ValueError):
        assert got is None
        return
    if got is None:  # the caller parses point by point: the rows above
        return
    if expected.empty:  # the caller keeps no frame for an event without rows
        assert len(got["value"]) == 0
        return
    pd.testing.assert_frame_equal(_forecast_frame(got), expected)


def test_well_formed_forecast_points_take_the_column_path(exchange) -> None:
    event = next(e for e in exchange.events() if e["event_ticker"])
    points = exchange.forecast_percentile_history(event["event_ticker"], [500, 5000, 9500], 0, 2**31, 60)
    assert len(points) > 10
    got = columns.forecast_percentile_columns(points, event["event_ticker"], "S")
    assert got is not None
    rows = [row for point in points for row in parse.parse_forecast_percentiles(point, "S")]
    pd.testing.assert_frame_equal(_forecast_frame(got), _forecast_frame(rows))
