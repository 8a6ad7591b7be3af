"""The warehouse order store: reserve before routing, refuse a duplicate id, complete with fills; on both
backends (the DuckDB file and the lake, which has no primary key to refuse a duplicate)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kalshi_assets.trading import (
    REASON_DUPLICATE,
    MemoryOrderStore,
    OrderRouter,
    PaperBroker,
    RiskManager,
    StaticBooks,
)
from kalshi_assets.trading.orders import RouteResult
from kalshi_assets.warehouse import db
from kalshi_assets.warehouse import trading as store
from tests.trading.conftest import NOW, TICKER, cpi_book, make_order
from tests.warehouse.test_writes import clear


@pytest.fixture(params=["file", "lake"])
def con(request: pytest.FixtureRequest, tmp_path: Path):
    target = tmp_path / "w.duckdb" if request.param == "file" else request.getfixturevalue("lake").target
    with db.connection(target) as connection:
        if request.param == "lake":
            clear(connection)
        yield connection


def _router(con, audit_log, order_store=None) -> OrderRouter:
    risk = RiskManager(max_position_per_market=1000, clock=lambda: NOW)
    broker = PaperBroker(StaticBooks({TICKER: cpi_book()}), now=lambda: NOW)
    return OrderRouter(broker, risk, audit_log, store=order_store or store.WarehouseOrderStore(con, clock=lambda: NOW))


def test_reserve_is_refused_for_a_known_id_and_leaves_the_row_alone(con) -> None:
    orders = store.WarehouseOrderStore(con, clock=lambda: NOW)
    assert orders.reserve(make_order(), "paper")
    assert not orders.reserve(make_order(), "paper")
    (row,) = store.read_orders(con)
    assert (row["status"], row["contracts"], row["limit_price"], row["notional"]) == (
        "pending", 10, Decimal("0.5200"), Decimal("5.2000"))  # fmt: skip
    assert store.known_order_ids(con, [make_order().client_order_id, "other"]) == {make_order().client_order_id}


def test_a_routed_fill_lands_in_orders_and_fills(con, audit_log) -> None:
    result = _router(con, audit_log).route(make_order(count=30, price="0.51"))
    assert result.status == "filled"
    (row,) = store.read_orders(con)
    assert (row["status"], row["filled_contracts"], row["average_price"]) == ("filled", 30, Decimal("0.5017"))
    assert row["fees"] == result.fees == Decimal("0.44") + Decimal("0.09")  # ceil(0.4375) + ceil(0.087465)
    fills = store.read_fills(con)
    assert [(mode, strategy, f.count, f.price) for mode, strategy, f in fills] == [
        ("paper", "normal_h1d_edge0.02", 25, Decimal("0.5000")), ("paper", "normal_h1d_edge0.02", 5, Decimal("0.5100"))
    ]  # fmt: skip
    assert store.order_consistency(con) == dict.fromkeys(
        ("filled_count_mismatch", "filled_without_contracts", "fills_on_unfilled_order", "rejected_without_reason",
         "fee_mismatch", "fills_without_order"), 0)  # fmt: skip


def test_a_second_route_of_the_same_decision_is_refused_by_the_store(con, audit_log) -> None:
    router = _router(con, audit_log)
    router.route(make_order())
    again = router.route(make_order())
    assert (again.status, again.reason) == ("rejected", REASON_DUPLICATE)
    (row,) = store.read_orders(con)
    assert row["status"] == "filled"  # the first outcome stands
    assert len(store.read_fills(con)) == 1


def test_completing_an_unreserved_order_is_an_error(con) -> None:
    orders = store.WarehouseOrderStore(con, clock=lambda: NOW)
    with pytest.raises(KeyError, match="not pending"):
        orders.complete(RouteResult(make_order(), "rejected", "x"))
    memory = MemoryOrderStore()
    with pytest.raises(KeyError):
        memory.complete(RouteResult(make_order(), "rejected", "x"))
