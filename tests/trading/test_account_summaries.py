"""The figures paper_orders, paper_pnl and their audit check report, computed from plain rows."""

from decimal import Decimal

from kalshi_assets.trading import accounts
from kalshi_assets.trading.orders import RouteResult
from tests.trading.conftest import make_order


def test_routing_summary_counts_statuses_and_rejection_reasons() -> None:
    routed = [
        RouteResult(make_order(), "filled"),
        RouteResult(make_order(price="0.40"), "rejected", "max_order_notional"),
        RouteResult(make_order(price="0.41"), "rejected", "max_order_notional"),
        RouteResult(make_order(price="0.42"), "rejected", "circuit_breaker_open"),
        RouteResult(make_order(price="0.43"), "error", "timeout"),
    ]
    statuses, reasons = accounts.routing_summary(routed)
    assert statuses == {"rejected": 3, "filled": 1, "error": 1}
    assert list(statuses) == ["rejected", "filled", "error"]  # most frequent first
    assert reasons == {"max_order_notional": 2, "circuit_breaker_open": 1}  # errors' reasons are not rejections


def test_routing_summary_of_nothing_routed() -> None:
    assert accounts.routing_summary([]) == ({}, {})


def test_pnl_totals_sum_every_account() -> None:
    rows = [
        {"total_pnl": Decimal("1.50"), "realized_pnl": Decimal("1.00"), "unrealized_pnl": Decimal("0.50")},
        {"total_pnl": Decimal("-2.25"), "realized_pnl": Decimal("-2.00"), "unrealized_pnl": Decimal("-0.25")},
    ]
    assert accounts.pnl_totals(rows) == {"total_pnl": -0.75, "realized_pnl": -1.0, "unrealized_pnl": 0.25}
    assert accounts.pnl_totals([]) == {"total_pnl": 0.0, "realized_pnl": 0.0, "unrealized_pnl": 0.0}


def test_audit_gaps_name_unaudited_completed_orders_and_pending_ones() -> None:
    orders = [
        {"client_order_id": "a", "status": "filled"},
        {"client_order_id": "b", "status": "rejected"},
        {"client_order_id": "c", "status": "pending"},
        {"client_order_id": "d", "status": "submitted"},
    ]
    missing, pending = accounts.audit_gaps(orders, audited={"a", "c"})
    assert missing == ["b", "d"]
    assert pending == ["c"]  # a pending order is reported as pending even when audited
