"""OrderRouter with the paper broker: statuses, reasons, the store's duplicate refusal, audit records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_assets.audit import ORDER, RISK_VIOLATION, TRADE
from kalshi_assets.trading import (
    PENDING,
    REASON_DUPLICATE,
    REASON_UNFILLED,
    RULE_DAILY_LOSS,
    RULE_NOTIONAL,
    RULE_POSITION,
    Fill,
    MemoryOrderStore,
    OrderRouter,
    PaperBroker,
    RiskManager,
    StaticBooks,
)
from tests.trading.conftest import DECIDED_AT, EVENT, NOW, TICKER, cpi_book, make_order

USER = "paper-test"


class CountingBroker(PaperBroker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def place(self, order):
        self.calls += 1
        return super().place(order)


def _router(audit_log, *, store=None, **limits) -> OrderRouter:
    settings = {"max_position_per_market": 1000, "max_order_notional": 500, "max_daily_loss": 1000}
    settings.update(limits)
    broker = CountingBroker(StaticBooks({TICKER: cpi_book()}), now=lambda: NOW)
    return OrderRouter(broker, RiskManager(**settings, clock=lambda: NOW), audit_log, user_id=USER, store=store)


def _types(audit_log) -> list[str]:
    return [record["event_type"] for record in audit_log.query()]


def test_a_fill_leaves_order_then_trade_records_and_the_log_verifies(audit_log) -> None:
    store = MemoryOrderStore()
    router = _router(audit_log, store=store)
    result = router.route(make_order(count=30, price="0.51"))
    assert result.status == "filled" and result.reason is None
    assert [(f.price, f.count) for f in result.fills] == [(Decimal("0.5000"), 25), (Decimal("0.5100"), 5)]
    assert _types(audit_log) == [ORDER, TRADE, TRADE]
    order_record, *trades = audit_log.query()
    payload = order_record["payload"]
    assert payload["status"] == "filled" and payload["client_order_id"] == result.order.client_order_id
    assert payload["details"]["filled_count"] == 30
    assert [t["payload"]["count"] for t in trades] == [25, 5]
    assert trades[0]["payload"]["fee_cents"] == 44  # ceil(0.07 x 25 x 0.5 x 0.5 = 0.4375)
    assert all(r["user_id"] == USER for r in audit_log.query())
    assert store.statuses[result.order.client_order_id] == "filled"
    assert router.risk.book.position(TICKER) == 30  # the fill reached the risk manager's book
    assert audit_log.verify().ok


def test_order_over_500_dollars_is_rejected_and_logged(audit_log) -> None:
    store = MemoryOrderStore()
    router = _router(audit_log, store=store, max_position_per_market=5000)
    result = router.route(make_order(count=1000, price="0.52"))  # $520
    assert (result.status, result.reason) == ("rejected", RULE_NOTIONAL)
    assert router.broker.calls == 0
    (record,) = audit_log.query()
    assert record["event_type"] == RISK_VIOLATION
    payload = record["payload"]
    assert (payload["rule"], payload["observed"], payload["limit"]) == (RULE_NOTIONAL, "520.0000", "500")
    assert payload["action"] == "rejected" and payload["ticker"] == TICKER
    assert payload["details"]["order"]["count"] == 1000
    assert payload["details"]["order"]["client_order_id"] == result.order.client_order_id
    assert store.statuses[result.order.client_order_id] == "rejected"
    assert audit_log.verify().ok


def test_position_limit_breach_is_rejected_and_logged(audit_log) -> None:
    router = _router(audit_log, max_position_per_market=40)
    assert router.route(make_order(count=30, price="0.51")).status == "filled"
    breach = router.route(make_order(count=11, price="0.52", decided_at=DECIDED_AT.replace(minute=1)))
    assert (breach.status, breach.reason) == ("rejected", RULE_POSITION)
    assert _types(audit_log) == [ORDER, TRADE, TRADE, RISK_VIOLATION]
    payload = audit_log.query()[-1]["payload"]
    assert (payload["observed"], payload["limit"]) == ("41", "40")
    assert payload["details"]["current_position"] == 30
    assert audit_log.verify().ok


def test_daily_loss_breach_is_rejected_and_logged(audit_log) -> None:
    router = _router(audit_log, max_daily_loss=50)
    other = "KXCPI-26OCT-T0.6"
    router.risk.record_fill(Fill("x1", "c0", "o0", other, EVENT, "yes", "buy", 200, Decimal("0.60"), Decimal("0"), NOW))
    router.risk.set_marks({other: Decimal("0.35")})  # 200 x -0.25 = -50 marked to market
    result = router.route(make_order())
    assert (result.status, result.reason) == ("rejected", RULE_DAILY_LOSS)
    (record,) = audit_log.query()
    assert record["event_type"] == RISK_VIOLATION
    assert (record["payload"]["observed"], record["payload"]["limit"]) == ("50.0000", "50")
    assert record["payload"]["details"]["unrealized_pnl"] == "-50.0000"
    assert audit_log.verify().ok


def test_the_store_refuses_a_duplicate_and_the_broker_never_sees_it(audit_log) -> None:
    store = MemoryOrderStore()
    router = _router(audit_log, store=store)
    first = router.route(make_order())
    again = router.route(make_order())  # a re-run of the same decision
    assert first.status == "filled"
    assert (again.status, again.reason) == ("rejected", REASON_DUPLICATE)
    assert router.broker.calls == 1
    assert store.statuses[first.order.client_order_id] == "filled"  # the stored order is untouched
    assert store.results[first.order.client_order_id] is first
    assert _types(audit_log) == [ORDER, TRADE, ORDER]
    assert audit_log.query()[-1]["payload"]["details"]["reason"] == REASON_DUPLICATE
    assert router.risk.book.position(TICKER) == 10


def test_the_paper_venue_refuses_a_duplicate_the_store_did_not_know(audit_log) -> None:
    router = _router(audit_log)  # no store: only the venue remembers
    router.route(make_order())
    again = router.route(make_order())
    assert (again.status, again.reason) == ("rejected", REASON_DUPLICATE)
    assert router.broker.calls == 2


def test_resting_order_is_submitted_with_one_order_record(audit_log) -> None:
    router = _router(audit_log)
    result = router.route(make_order(count=5, price="0.45", time_in_force="good_till_canceled"))
    assert result.status == "submitted" and result.exchange_status == "resting"
    assert _types(audit_log) == [ORDER]


def test_nothing_matched_is_a_rejection_with_a_reason(audit_log) -> None:
    router = _router(audit_log)
    result = router.route(make_order(count=5, price="0.45"))
    assert (result.status, result.reason) == ("rejected", REASON_UNFILLED)
    assert _types(audit_log) == [ORDER]


def test_every_routed_order_has_exactly_the_records_its_path_implies(audit_log) -> None:
    router = _router(audit_log, store=MemoryOrderStore(), max_position_per_market=60)
    orders = [
        make_order(count=10, price="0.50", decided_at=DECIDED_AT.replace(minute=m)) if m % 3 == 0
        else make_order(count=1200, price="0.50", decided_at=DECIDED_AT.replace(minute=m)) if m % 3 == 1
        else make_order(count=5, price="0.40", decided_at=DECIDED_AT.replace(minute=m))
        for m in range(12)
    ]  # fmt: skip
    results = router.route_all(orders)
    by_order: dict[str, list[str]] = {}
    for record in audit_log.query():
        by_order.setdefault(record["payload"]["client_order_id"], []).append(record["event_type"])
    for result in results:
        expected = {
            "filled": [ORDER] + [TRADE] * len(result.fills),
            "rejected": [RISK_VIOLATION] * len(result.violations) if result.violations else [ORDER],
            "submitted": [ORDER],
            "error": [ORDER],
        }[result.status]
        assert by_order[result.order.client_order_id] == expected, result
    assert {r.status for r in results} == {"filled", "rejected"}
    assert audit_log.verify().ok


def test_an_unexpected_broker_failure_is_recorded_then_raised(audit_log) -> None:
    store = MemoryOrderStore()
    router = _router(audit_log, store=store)

    def explode(order):
        raise RuntimeError("book source broke")

    router.broker.place = explode
    with pytest.raises(RuntimeError, match="book source broke"):
        router.route(make_order())
    (record,) = audit_log.query()
    assert record["payload"]["status"] == "error"
    assert record["payload"]["details"]["reason"] == "internal_RuntimeError"
    assert store.statuses[make_order().client_order_id] == "error"


def test_a_reserved_order_that_never_completed_stays_pending() -> None:
    store = MemoryOrderStore()
    assert store.reserve(make_order(), "paper")
    assert store.statuses[make_order().client_order_id] == PENDING
    assert not store.reserve(make_order(), "paper")
