"""Orders: deterministic client order ids, validation, YES-terms arithmetic; positions and P&L."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kalshi_assets.trading import Fill, PositionBook, client_order_id
from tests.trading.conftest import DECIDED_AT, EVENT, TICKER, make_order


def test_client_order_id_is_deterministic_and_a_uuid() -> None:
    first = client_order_id("s1", EVENT, TICKER, DECIDED_AT)
    assert first == client_order_id("s1", EVENT, TICKER, DECIDED_AT)
    assert str(uuid.UUID(first)) == first
    # A naive time is UTC (the warehouse's convention), so it names the same decision.
    assert first == client_order_id("s1", EVENT, TICKER, DECIDED_AT.replace(tzinfo=None))
    assert make_order().client_order_id == make_order().client_order_id


@pytest.mark.parametrize(
    "changed",
    [
        ("s2", EVENT, TICKER, DECIDED_AT),
        ("s1", "KXCPI-26NOV", TICKER, DECIDED_AT),
        ("s1", EVENT, "KXCPI-26OCT-T0.6", DECIDED_AT),
        ("s1", EVENT, TICKER, DECIDED_AT + timedelta(microseconds=1)),
    ],
)
def test_any_other_part_gives_another_id(changed: tuple) -> None:
    assert client_order_id(*changed) != client_order_id("s1", EVENT, TICKER, DECIDED_AT)


def test_ids_cannot_collide_through_the_separator() -> None:
    with pytest.raises(ValueError, match="without '\\|'"):
        client_order_id("a|b", EVENT, TICKER, DECIDED_AT)
    with pytest.raises(ValueError, match="non-blank"):
        client_order_id(" ", EVENT, TICKER, DECIDED_AT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count"),
        ({"price": "1.00"}, "strictly between"),
        ({"price": "0.12345"}, "4 decimal"),
        ({"side": "maybe"}, "side"),
        ({"action": "hold"}, "action"),
        ({"time_in_force": "forever"}, "time_in_force"),
    ],
)
def test_bad_orders_are_refused_with_a_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_order(**kwargs)


def test_notional_and_yes_delta() -> None:
    assert make_order(count=100, price="0.52").notional == Decimal("52.0000")
    assert make_order(side="yes", action="buy").yes_delta == 10
    assert make_order(side="no", action="buy").yes_delta == -10
    assert make_order(side="yes", action="sell").yes_delta == -10
    assert make_order(side="no", action="sell").yes_delta == 10


def _fill(side: str, action: str, count: int, price: str, fee: str = "0", at: datetime = DECIDED_AT, n: int = 1):
    return Fill(f"t{n}", "c", "o", TICKER, EVENT, side, action, count, Decimal(price), Decimal(fee), at)


def test_position_book_average_cost_close_and_fees() -> None:
    book = PositionBook()
    assert book.apply_fill(_fill("yes", "buy", 10, "0.40", "0.17", n=1)) == Decimal("-0.17")
    book.apply_fill(_fill("yes", "buy", 10, "0.60", "0.17", n=2))
    held = book.positions[TICKER]
    assert (held.contracts, held.average_price) == (10 + 10, Decimal("0.5"))
    # Selling 5 YES at 0.70 closes 5 bought at 0.50 on average: +1.00, minus the fee.
    realized = book.apply_fill(_fill("yes", "sell", 5, "0.70", "0.08", n=3))
    assert realized == Decimal("0.92")
    assert held.contracts == 15
    assert held.unrealized(Decimal("0.55")) == Decimal("0.7500")
    assert book.realized_on(DECIDED_AT.date()) == Decimal("-0.17") * 2 + Decimal("0.92")


def test_no_contracts_net_against_yes_and_settle_correctly() -> None:
    book = PositionBook()
    # Buying 10 NO at 0.30 is short 10 YES at 0.70.
    book.apply_fill(_fill("no", "buy", 10, "0.30"))
    held = book.positions[TICKER]
    assert (held.contracts, held.average_price) == (-10, Decimal("0.70"))
    # YES settles at 0: the NO contracts pay $1 each, having cost $0.30: +7.00.
    assert book.settle(TICKER, 0, DECIDED_AT + timedelta(days=5)) == Decimal("7.00")
    assert held.contracts == 0 and held.settled_value == 0
    assert book.settle(TICKER, 1, DECIDED_AT + timedelta(days=6)) == 0  # settles once
    with pytest.raises(ValueError, match="settled already"):
        book.apply_fill(_fill("yes", "buy", 1, "0.50", n=9))


def test_flip_opens_the_rest_at_the_fill_price() -> None:
    book = PositionBook()
    book.apply_fill(_fill("yes", "buy", 5, "0.40", n=1))
    realized = book.apply_fill(_fill("no", "buy", 8, "0.50", n=2))  # sell 8 YES at 0.50
    held = book.positions[TICKER]
    assert realized == Decimal("0.50")  # 5 x (0.50 - 0.40)
    assert (held.contracts, held.average_price) == (-3, Decimal("0.50"))


def test_order_times_are_utc() -> None:
    naive = make_order(decided_at=datetime(2026, 10, 31, 23, 0))
    assert naive.decision_time == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # a naive time is taken as UTC
    # An aware time elsewhere is converted, so the same instant gives the same order id.
    paris = make_order(decided_at=datetime(2026, 11, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))))
    assert paris.decision_time == naive.decision_time and paris.decision_time.tzinfo == UTC
    assert paris.client_order_id == naive.client_order_id
