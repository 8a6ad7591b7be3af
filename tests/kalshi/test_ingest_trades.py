"""kalshi/ingest.py fetch_trades: every trade of the markets in the window, parsed a group of markets at a
time, checked against the market it was asked for, in (time, id) order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.source import DemoMarketData
from kalshi_assets.kalshi import columns, ingest, parse
from kalshi_assets.times import unix_seconds


@pytest.fixture(scope="module")
def source(exchange: DemoExchange) -> DemoMarketData:
    return DemoMarketData(exchange)


def _window_markets(source: DemoMarketData) -> tuple[pd.DataFrame, datetime, datetime]:
    """Every market of the exchange and four days, 200 days before its now (some markets trade, most not)."""
    end = source.now().replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(days=200)
    start = end - timedelta(days=4)
    markets = [(m["ticker"], m["event_ticker"]) for m in source.exchange.markets()]
    return pd.DataFrame(markets, columns=["market_ticker", "event_ticker"]), start, end


def _market_by_market(source: DemoMarketData, markets: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """What fetch_trades returned before it grouped markets: a frame per market, sorted by pandas."""
    frames = []
    for ticker, event in zip(markets["market_ticker"], markets["event_ticker"], strict=True):
        trades = columns.parse_trades(source.trades(ticker, unix_seconds(start), unix_seconds(end) - 1))
        trades["event_ticker"] = event
        frames.append(trades[ingest.TRADE_COLUMNS])
    trades = pd.concat(frames, ignore_index=True)
    trades["ts"] = pd.to_datetime(trades["ts"])
    trades = trades[(trades["ts"] >= start) & (trades["ts"] < end)]
    return trades.sort_values(["ts", "trade_id"], ignore_index=True)


@pytest.fixture(scope="module")
def market_by_market(source) -> tuple[pd.DataFrame, datetime, datetime, pd.DataFrame]:
    markets, start, end = _window_markets(source)
    return markets, start, end, _market_by_market(source, markets, start, end)


@pytest.mark.parametrize("group", [1, 97, ingest.TRADE_GROUP])
def test_grouped_trades_equal_the_market_by_market_trades(source, market_by_market, monkeypatch, group: int) -> None:
    markets, start, end, expected = market_by_market
    assert len(expected) > 1000 and expected["market_ticker"].nunique() > 10
    monkeypatch.setattr(ingest, "TRADE_GROUP", group)
    got = ingest.fetch_trades(source, markets, start, end)
    pd.testing.assert_frame_equal(got, expected)


class _WrongMarket:
    """A source answering the second market's trades with one trade of another market."""

    def __init__(self, source: DemoMarketData, asked: str, owner: str) -> None:
        self.source, self.asked, self.owner = source, asked, owner

    def trades(self, ticker: str, min_ts: int, max_ts: int) -> list[dict]:
        trades = self.source.trades(ticker, min_ts, max_ts)
        if ticker == self.asked:
            trades = [*trades[:-1], {**trades[-1], "ticker": self.owner}]
        return trades


def test_a_trade_of_another_market_is_refused_naming_it(source) -> None:
    markets, start, end = _window_markets(source)
    counts = [len(source.trades(t, unix_seconds(start), unix_seconds(end) - 1)) for t in markets["market_ticker"]]
    asked = markets["market_ticker"][next(i for i, n in enumerate(counts) if n and i > 2)]
    with pytest.raises(parse.WireFormatError, match=f"returned for market {asked} but belongs to ELSEWHERE-1"):
        ingest.fetch_trades(_WrongMarket(source, asked, "ELSEWHERE-1"), markets, start, end)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.text(min_size=1, max_size=6)), min_size=1, max_size=60))
@example([(0, "a\0"), (0, "a")])  # ASCII, but a bytes array would cut the NUL and tie the two
def test_the_time_then_id_order_is_pythons_order_of_the_pairs(pairs: list[tuple[int, str]]) -> None:
    """Any ids (non-ASCII, NULs anywhere, different lengths) sort as Python compares them."""
    ts = pd.to_datetime([t for t, _ in pairs], unit="s").to_numpy()
    ids = [i for _, i in pairs]
    order = ingest._time_then_id_order(ts, ids)
    assert [pairs[k] for k in order] == sorted(pairs)
