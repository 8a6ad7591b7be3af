"""LiveBroker and the router in live mode, only ever against the loopback demo exchange server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_assets.audit import API_CALL, BREAKER_STATE, ORDER, TRADE
from kalshi_assets.kalshi import BreakerRegistry, KalshiClient
from kalshi_assets.trading import (
    LIVE_TRADING_ENV,
    REASON_CIRCUIT_OPEN,
    REASON_DUPLICATE,
    REASON_EXCHANGE_CLOSED,
    LiveBroker,
    LiveTradingNotConfirmed,
    MemoryOrderStore,
    Order,
    OrderRouter,
    RiskManager,
    api_call_recorder,
    audited_breaker_registry,
)
from tests.trading.conftest import DECIDED_AT, active_market

USER = "live-test"


def _risk() -> RiskManager:
    return RiskManager(max_position_per_market=1000, max_order_notional=500, max_daily_loss=1000)


def _order_at_ask(exchange, count: int = 3, minute: int = 0, market: dict | None = None) -> Order:
    market = market or active_market(exchange)
    book = exchange.orderbook(market["ticker"])["orderbook_fp"]
    ask = 1 - Decimal(book["no_dollars"][-1][0])
    return Order.create(
        "live_strategy", market["event_ticker"], market["ticker"], "yes", "buy", count, ask,
        DECIDED_AT.replace(minute=minute),
    )  # fmt: skip


def test_live_broker_refuses_to_exist_without_the_environment_switch(signed_client) -> None:
    with pytest.raises(LiveTradingNotConfirmed, match=f"{LIVE_TRADING_ENV}=I_UNDERSTAND"):
        LiveBroker(signed_client(breaker_registry=BreakerRegistry()))
    with pytest.raises(LiveTradingNotConfirmed, match="set to another value"):
        LiveBroker(signed_client(breaker_registry=BreakerRegistry()), environ={LIVE_TRADING_ENV: "yes"})


def test_live_broker_needs_credentials(live_env, demo_server) -> None:
    with KalshiClient(demo_server.base_url, breaker_registry=BreakerRegistry()) as unsigned:
        with pytest.raises(ValueError, match="credentials"):
            LiveBroker(unsigned)


def test_live_order_fills_on_the_demo_exchange(live_env, signed_client, demo_exchange, audit_log) -> None:
    client = signed_client(breaker_registry=BreakerRegistry(), on_request=api_call_recorder(audit_log, USER))
    router = OrderRouter(LiveBroker(client), _risk(), audit_log, user_id=USER, store=MemoryOrderStore())
    order = _order_at_ask(demo_exchange, count=3)
    result = router.route(order)
    assert result.status == "filled" and result.mode == "live"
    (fill,) = result.fills
    assert (fill.count, fill.price) == (3, order.limit_price)
    expected_fee = (Decimal("0.07") * 3 * fill.price * (1 - fill.price)).quantize(Decimal("0.01"), "ROUND_CEILING")
    assert fill.fee == expected_fee
    types = [r["event_type"] for r in audit_log.query()]
    assert types == [API_CALL, API_CALL, ORDER, TRADE]  # exchange status, the POST, then the order's records
    assert [r["payload"]["path"] for r in audit_log.query()[:2]] == ["/exchange/status", "/portfolio/orders"]
    assert audit_log.verify().ok


def test_the_exchange_refuses_a_duplicate_client_order_id(live_env, signed_client, demo_exchange, demo_server,
                                                          audit_log) -> None:  # fmt: skip
    order = _order_at_ask(demo_exchange, count=1, minute=5)
    first = OrderRouter(LiveBroker(signed_client(breaker_registry=BreakerRegistry())), _risk(), audit_log)
    assert first.route(order).status == "filled"
    # A second process without the first one's store: only the exchange can refuse it, and it does (409).
    second = OrderRouter(LiveBroker(signed_client(breaker_registry=BreakerRegistry())), _risk(), audit_log)
    again = second.route(order)
    assert (again.status, again.reason) == ("rejected", REASON_DUPLICATE)
    assert demo_server.stats.by_status[409] == 1
    assert len(demo_server.api.orders) == 1


def test_an_exchange_error_code_becomes_the_reason(live_env, signed_client, demo_exchange, audit_log) -> None:
    settled = next(m for m in demo_exchange.markets(series_ticker="KXCPI") if m["status"] != "active")
    order = Order.create("s", settled["event_ticker"], settled["ticker"], "yes", "buy", 1, "0.50", DECIDED_AT)
    router = OrderRouter(LiveBroker(signed_client(breaker_registry=BreakerRegistry())), _risk(), audit_log)
    result = router.route(order)
    assert (result.status, result.reason) == ("rejected", "market_closed")
    (record,) = audit_log.query()
    assert record["event_type"] == ORDER and record["payload"]["details"]["reason"] == "market_closed"


def test_server_errors_after_retries_are_an_error_result(live_env, signed_client, demo_exchange, demo_server,
                                                         audit_log) -> None:  # fmt: skip
    broker = LiveBroker(signed_client(breaker_registry=BreakerRegistry()))
    demo_server.faults.force_status(500, times=3, path_prefix="/portfolio/orders")
    result = OrderRouter(broker, _risk(), audit_log).route(_order_at_ask(demo_exchange, minute=7))
    assert (result.status, result.reason) == ("error", "injected_fault")
    assert audit_log.query()[-1]["payload"]["status"] == "error"


def test_circuit_open_is_a_rejection_without_any_http_call(live_env, signed_client, demo_exchange, demo_server,
                                                            audit_log) -> None:  # fmt: skip
    registry = audited_breaker_registry(audit_log, USER, failure_threshold=2, recovery_timeout_s=3600)
    client = signed_client(breaker_registry=registry)  # a call's budget: 3 attempts
    store = MemoryOrderStore()
    router = OrderRouter(LiveBroker(client), _risk(), audit_log, user_id=USER, store=store)
    # The breaker counts calls after their retries: two exchange-status reads that fail every attempt open it.
    demo_server.faults.force_status(503, times=6)
    failed = [router.route(_order_at_ask(demo_exchange, minute=10 + i)) for i in range(2)]
    assert [(r.status, r.reason) for r in failed] == [("error", "injected_fault")] * 2
    requests_so_far = demo_server.stats.total
    assert requests_so_far == 6

    later = [router.route(_order_at_ask(demo_exchange, minute=12 + i)) for i in range(3)]
    assert [(r.status, r.reason) for r in later] == [("rejected", REASON_CIRCUIT_OPEN)] * 3
    assert demo_server.stats.total == requests_so_far  # not one HTTP call while open
    assert demo_server.api.orders == {}
    assert "last failure" in later[0].message and "injected fault" in later[0].message

    records = audit_log.query()
    assert [r["event_type"] for r in records] == [ORDER, BREAKER_STATE, ORDER, ORDER, ORDER, ORDER]
    breaker = records[1]["payload"]
    assert (breaker["breaker"], breaker["from_state"], breaker["to_state"]) == ("kalshi", "closed", "open")
    assert [r["payload"]["details"]["reason"] for r in records if r["event_type"] == ORDER] == (
        ["injected_fault"] * 2 + [REASON_CIRCUIT_OPEN] * 3)
    assert set(store.statuses.values()) == {"error", "rejected"}
    assert audit_log.verify().ok


def test_a_fault_the_retries_absorb_trades_and_leaves_the_breaker_closed(
    live_env, signed_client, demo_exchange, demo_server, audit_log
) -> None:
    registry = audited_breaker_registry(audit_log, USER, failure_threshold=1, recovery_timeout_s=3600)
    router = OrderRouter(LiveBroker(signed_client(breaker_registry=registry)), _risk(), audit_log, user_id=USER)
    demo_server.faults.force_status(503, times=2)  # within the 3 attempts of the exchange-status read
    assert router.route(_order_at_ask(demo_exchange, minute=30)).status == "filled"
    assert registry.get("kalshi").state == "closed"
    assert not [r for r in audit_log.query() if r["event_type"] == BREAKER_STATE]


def test_breaker_recovery_is_audited_too(live_env, signed_client, demo_exchange, demo_server, audit_log) -> None:
    clock = [0.0]
    registry = audited_breaker_registry(audit_log, USER, failure_threshold=1, recovery_timeout_s=10,
                                        clock=lambda: clock[0])  # fmt: skip
    router = OrderRouter(LiveBroker(signed_client(breaker_registry=registry)), _risk(), audit_log, user_id=USER)
    demo_server.faults.force_status(503, times=3)  # every attempt of one call: the breaker opens
    assert router.route(_order_at_ask(demo_exchange, minute=20)).status == "error"
    assert router.route(_order_at_ask(demo_exchange, minute=21)).reason == REASON_CIRCUIT_OPEN
    clock[0] = 11.0  # probes are allowed; the status read and the order succeed: two good probes close it
    assert router.route(_order_at_ask(demo_exchange, minute=22)).status == "filled"
    changes = [(r["payload"]["from_state"], r["payload"]["to_state"])
               for r in audit_log.query() if r["event_type"] == BREAKER_STATE]  # fmt: skip
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


class _ClosedExchangeClient:
    authenticated = True

    def __init__(self) -> None:
        self.orders = 0

    def get_exchange_status(self) -> dict:
        return {"exchange_active": True, "trading_active": False, "exchange_estimated_resume_time": "soon"}

    def place_order(self, *args, **kwargs) -> dict:
        self.orders += 1
        raise AssertionError("no order may be sent while the exchange is closed")


def test_exchange_closed_is_a_rejection(live_env, demo_exchange, audit_log) -> None:
    client = _ClosedExchangeClient()
    result = OrderRouter(LiveBroker(client), _risk(), audit_log).route(_order_at_ask(demo_exchange))
    assert (result.status, result.reason) == ("rejected", REASON_EXCHANGE_CLOSED)
    assert client.orders == 0


def test_a_router_given_a_client_trades_live_only_with_the_switch(signed_client, demo_exchange, audit_log,
                                                                  monkeypatch) -> None:  # fmt: skip
    client = signed_client(breaker_registry=BreakerRegistry())
    with pytest.raises(LiveTradingNotConfirmed):
        OrderRouter(client, _risk(), audit_log)
    monkeypatch.setenv(LIVE_TRADING_ENV, "I_UNDERSTAND")
    router = OrderRouter(client, _risk(), audit_log)
    assert isinstance(router.broker, LiveBroker) and router.mode == "live"
    assert router.route(_order_at_ask(demo_exchange, minute=30)).status == "filled"
