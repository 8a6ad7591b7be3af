"""PaperBroker: fills at the ask for buys, never beyond the displayed size, with Kalshi's taker fee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_assets.analytics.walkforward import taker_fee
from kalshi_assets.demo.source import DemoMarketData
from kalshi_assets.trading import (
    REASON_DUPLICATE,
    REASON_MARKET_CLOSED,
    MarketDataBooks,
    OrderBook,
    OrderRejected,
    PaperBroker,
    StaticBooks,
)
from tests.trading.conftest import NOW, TICKER, active_market, cpi_book, make_order


def _broker(books=None, **kwargs) -> PaperBroker:
    return PaperBroker(books or StaticBooks({TICKER: cpi_book()}), now=lambda: NOW, **kwargs)


def test_taker_fee_matches_kalshis_example() -> None:
    assert taker_fee(10, Decimal("0.50")) == Decimal("0.18")
    assert taker_fee(1, Decimal("0.01")) == Decimal("0.01")  # rounded up to the cent


def test_buy_yes_fills_at_the_ask_within_the_displayed_size() -> None:
    answer = _broker().place(make_order(count=10, price="0.50"))
    (fill,) = answer.fills
    assert (fill.price, fill.count, fill.side, fill.action) == (Decimal("0.5000"), 10, "yes", "buy")
    assert fill.fee == Decimal("0.18")  # 10 contracts at $0.50
    assert answer.exchange_status == "executed" and answer.remaining_count == 0
    assert fill.filled_at == NOW


def test_buy_walks_the_asks_up_to_the_limit_and_never_beyond_displayed_size() -> None:
    # Asks: 0.50 x 25, 0.51 x 20, 0.52 x 50. A limit of 0.51 can take 45 at most.
    answer = _broker().place(make_order(count=100, price="0.51"))
    assert [(f.price, f.count) for f in answer.fills] == [(Decimal("0.5000"), 25), (Decimal("0.5100"), 20)]
    assert [f.fee for f in answer.fills] == [taker_fee(25, "0.50"), taker_fee(20, "0.51")]
    assert answer.exchange_status == "canceled"  # IOC: the other 55 are not resting anywhere
    assert sum(f.count for f in answer.fills) == 45


def test_limit_below_the_ask_fills_nothing() -> None:
    answer = _broker().place(make_order(count=5, price="0.49"))
    assert answer.fills == () and answer.exchange_status == "canceled"


def test_good_till_canceled_rests_the_remainder_and_fill_or_kill_is_all_or_nothing() -> None:
    rested = _broker().place(make_order(count=30, price="0.50", time_in_force="good_till_canceled"))
    assert (sum(f.count for f in rested.fills), rested.exchange_status, rested.remaining_count) == (25, "resting", 5)
    killed = _broker().place(make_order(count=30, price="0.50", time_in_force="fill_or_kill"))
    assert killed.fills == () and killed.exchange_status == "canceled"


def test_buy_no_takes_the_yes_bids_and_sell_hits_own_side_bids() -> None:
    # NO asks are 1 - YES bids: 0.52 x 30, 0.53 x 60, 0.54 x 40.
    answer = _broker().place(make_order(count=40, price="0.53", side="no"))
    assert [(f.price, f.count) for f in answer.fills] == [(Decimal("0.5200"), 30), (Decimal("0.5300"), 10)]
    sold = _broker().place(make_order(count=35, price="0.47", action="sell"))
    assert [(f.price, f.count) for f in sold.fills] == [(Decimal("0.4800"), 30), (Decimal("0.4700"), 5)]


def test_the_paper_venue_refuses_a_duplicate_client_order_id() -> None:
    broker = _broker()
    broker.place(make_order())
    with pytest.raises(OrderRejected) as refused:
        broker.place(make_order())
    assert refused.value.reason == REASON_DUPLICATE


def test_closed_market_is_refused() -> None:
    broker = _broker(is_market_open=lambda ticker: False)
    with pytest.raises(OrderRejected) as refused:
        broker.place(make_order())
    assert refused.value.reason == REASON_MARKET_CLOSED


def test_fee_multiplier_applies() -> None:
    answer = _broker(fee_multipliers={TICKER: 0.5}).place(make_order(count=10, price="0.50"))
    assert answer.fills[0].fee == Decimal("0.09")


def test_books_from_the_demo_exchange_match_its_orderbook(demo_exchange) -> None:
    market = active_market(demo_exchange)
    raw = demo_exchange.orderbook(market["ticker"])["orderbook_fp"]
    book = MarketDataBooks(DemoMarketData(demo_exchange)).book(market["ticker"])
    best_no_bid, size = raw["no_dollars"][-1]
    ask, ask_size = book.asks("yes")[0]
    assert ask == 1 - Decimal(best_no_bid) and ask_size == int(Decimal(size))
    assert book.mid() == ((Decimal(raw["yes_dollars"][-1][0]) + ask) / 2).quantize(Decimal("0.0001"))


def test_empty_book_levels_and_zero_sizes_are_dropped() -> None:
    book = OrderBook.from_levels([("0.40", "0.00"), ("0.41", "3.00")], [])
    assert book.yes_bids == ((Decimal("0.4100"), 3),)
    assert book.asks("yes") == [] and book.mid() is None


def test_orders_together_never_take_more_than_the_book_showed() -> None:
    broker = _broker()
    first = broker.place(make_order(count=20, price="0.50", decided_at=NOW.replace(hour=1)))
    second = broker.place(make_order(count=20, price="0.50", decided_at=NOW.replace(hour=2)))
    assert [f.count for f in first.fills] == [20]
    assert [f.count for f in second.fills] == [5]  # 25 were shown at 0.50
    # Selling NO at 0.50 hits the same NO bid level, which is now empty; 0.49 still shows 20.
    sold = broker.place(make_order(count=30, price="0.49", side="no", action="sell", decided_at=NOW.replace(hour=3)))
    assert [(f.price, f.count) for f in sold.fills] == [(Decimal("0.4900"), 20)]
