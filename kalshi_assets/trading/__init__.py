"""Paper and live trading: orders, risk checks, brokers and the router (no dagster import).

    from kalshi_assets.trading import Order, OrderRouter, PaperBroker, RiskManager, StaticBooks
    risk = RiskManager(max_position_per_market=1000, max_order_notional=500, max_daily_loss=1000)
    router = OrderRouter(PaperBroker(books), risk, audit_log, user_id="paper-1")
    result = router.route(Order.create("strat", "KXCPI-26OCT", "KXCPI-26OCT-T0.5", "yes", "buy", 10, "0.52", now))
"""

from kalshi_assets.trading.audit_hooks import (
    api_call_recorder,
    audited_breaker_registry,
    breaker_state_recorder,
)
from kalshi_assets.trading.brokers import (
    LIVE_TRADING_CONFIRMATION,
    LIVE_TRADING_ENV,
    Broker,
    BrokerAnswer,
    LiveBroker,
    LiveTradingNotConfirmed,
    MarketDataBooks,
    OrderBook,
    OrderRejected,
    PaperBroker,
    StaticBooks,
    require_live_confirmation,
)
from kalshi_assets.trading.orders import (
    REASON_CIRCUIT_OPEN,
    REASON_DUPLICATE,
    REASON_EXCHANGE_CLOSED,
    REASON_MARKET_CLOSED,
    REASON_UNFILLED,
    ROUTE_STATUSES,
    Fill,
    Order,
    RiskViolation,
    RouteResult,
    client_order_id,
)
from kalshi_assets.trading.portfolio import Position, PositionBook
from kalshi_assets.trading.risk import (
    RULE_DAILY_LOSS,
    RULE_NOTIONAL,
    RULE_POSITION,
    RiskDecision,
    RiskManager,
)
from kalshi_assets.trading.router import OrderRouter
from kalshi_assets.trading.store import PENDING, MemoryOrderStore, OrderStore

__all__ = [
    "LIVE_TRADING_CONFIRMATION",
    "LIVE_TRADING_ENV",
    "PENDING",
    "REASON_CIRCUIT_OPEN",
    "REASON_DUPLICATE",
    "REASON_EXCHANGE_CLOSED",
    "REASON_MARKET_CLOSED",
    "REASON_UNFILLED",
    "ROUTE_STATUSES",
    "RULE_DAILY_LOSS",
    "RULE_NOTIONAL",
    "RULE_POSITION",
    "Broker",
    "BrokerAnswer",
    "Fill",
    "LiveBroker",
    "LiveTradingNotConfirmed",
    "MarketDataBooks",
    "MemoryOrderStore",
    "Order",
    "OrderBook",
    "OrderRejected",
    "OrderRouter",
    "OrderStore",
    "PaperBroker",
    "Position",
    "PositionBook",
    "RiskDecision",
    "RiskManager",
    "RiskViolation",
    "RouteResult",
    "StaticBooks",
    "api_call_recorder",
    "audited_breaker_registry",
    "breaker_state_recorder",
    "client_order_id",
    "require_live_confirmation",
]
