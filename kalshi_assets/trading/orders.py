"""Orders, fills and routing results: the values the risk manager, brokers, router and store exchange.

Money is Decimal dollars (Kalshi quotes up to 4 decimals). A price is always the price of the side
traded: a NO order at $0.30 pays $0.30 a contract. Every order carries a `client_order_id` derived
from (strategy, event, contract, decision time), so re-running a decision produces the same id and the
store and the exchange both refuse it the second time.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from kalshi_assets.times import aware_utc

Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]
RouteStatus = Literal["submitted", "filled", "rejected", "error"]

SIDES: tuple[str, ...] = ("yes", "no")
ACTIONS: tuple[str, ...] = ("buy", "sell")
ROUTE_STATUSES: tuple[str, ...] = ("submitted", "filled", "rejected", "error")
TIME_IN_FORCE: tuple[str, ...] = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")

PRICE_QUANTUM = Decimal("0.0001")
CENT = Decimal("0.01")
ONE = Decimal(1)
ZERO = Decimal(0)

# Rejection reasons the router itself gives (the exchange's own error codes pass through verbatim).
REASON_DUPLICATE = "duplicate_client_order_id"
REASON_CIRCUIT_OPEN = "circuit_breaker_open"
REASON_EXCHANGE_CLOSED = "exchange_closed"
REASON_MARKET_CLOSED = "market_closed"
REASON_UNFILLED = "canceled_unfilled"  # accepted, nothing matched, remainder canceled (IOC / FOK)

# Fixed namespace of this project's client order ids (uuid5 of the decision's identity).
CLIENT_ORDER_ID_NAMESPACE = uuid.UUID("5f0c1e7a-3b8d-4c1f-9a57-0b6e2d4c8a11")


def to_decimal(value: Any, what: str) -> Decimal:
    """A finite Decimal from a Decimal, int, str or float (floats through their shortest repr)."""
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a number, got a bool")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what}: {value!r} is not finite")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{what}: {value!r} is not finite")
    return number


def to_price(value: Any, what: str = "price") -> Decimal:
    """A contract price in dollars, strictly inside (0, 1), with at most 4 decimals (Kalshi's precision)."""
    price = to_decimal(value, what)
    if price.quantize(PRICE_QUANTUM) != price:
        raise ValueError(f"{what}: {value!r} has more than 4 decimal places")
    if not ZERO < price < ONE:
        raise ValueError(f"{what}: {value!r} is not strictly between 0 and 1 dollar")
    return price.quantize(PRICE_QUANTUM)


def client_order_id(strategy: str, event_ticker: str, market_ticker: str, decision_time: datetime) -> str:
    """The deterministic id of the order a strategy decides on a contract at a decision time.

    A UUID (the form Kalshi's examples use) computed as uuid5 over the four parts, the time to the
    microsecond in UTC: the same decision always yields the same id, any other part yields another.
    """
    for name, part in (("strategy", strategy), ("event_ticker", event_ticker), ("market_ticker", market_ticker)):
        if not isinstance(part, str) or not part.strip() or "|" in part:
            raise ValueError(f"{name} must be a non-blank string without '|', got {part!r}")
    stamp = aware_utc(decision_time).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f"{strategy}|{event_ticker}|{market_ticker}|{stamp}"))


def yes_terms(side: str, action: str, count: int, price: Decimal) -> tuple[int, Decimal]:
    """(signed YES contracts, YES price) of a trade. Kalshi nets YES and NO on one market: buying NO
    at q is selling YES at 1 - q, so every position is one signed YES count (+ long YES, - long NO)."""
    sign = 1 if (side == "yes") == (action == "buy") else -1
    return sign * count, price if side == "yes" else ONE - price


@dataclass(frozen=True)
class Order:
    """A limit order a strategy decided on. Build it with `Order.create` (which derives the id)."""

    strategy: str
    event_ticker: str
    market_ticker: str
    side: str
    action: str
    count: int
    limit_price: Decimal  # dollars per contract of `side`
    decision_time: datetime  # aware UTC: when the information the decision used was current
    client_order_id: str
    time_in_force: str = "immediate_or_cancel"
    details: dict[str, Any] = field(default_factory=dict, compare=False)  # p_model, edge ... (for the record)

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {self.side!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"count must be a whole number of contracts >= 1, got {self.count!r}")
        if self.time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force must be one of {TIME_IN_FORCE}, got {self.time_in_force!r}")
        object.__setattr__(self, "limit_price", to_price(self.limit_price, "limit_price"))
        object.__setattr__(self, "decision_time", aware_utc(self.decision_time))
        if not isinstance(self.client_order_id, str) or not self.client_order_id.strip():
            raise ValueError("client_order_id must be a non-blank string")

    @classmethod
    def create(
        cls,
        strategy: str,
        event_ticker: str,
        market_ticker: str,
        side: str,
        action: str,
        count: int,
        limit_price: Decimal | str | float,
        decision_time: datetime,
        *,
        time_in_force: str = "immediate_or_cancel",
        details: dict[str, Any] | None = None,
    ) -> Order:
        return cls(
            strategy=strategy,
            event_ticker=event_ticker,
            market_ticker=market_ticker,
            side=side,
            action=action,
            count=count,
            limit_price=to_price(limit_price, "limit_price"),
            decision_time=decision_time,
            client_order_id=client_order_id(strategy, event_ticker, market_ticker, decision_time),
            time_in_force=time_in_force,
            details=dict(details or {}),
        )

    @property
    def notional(self) -> Decimal:
        """Dollars the order commits at its limit: contracts x price."""
        return (self.count * self.limit_price).quantize(PRICE_QUANTUM)

    @property
    def yes_delta(self) -> int:
        """How the order moves the market's signed YES position if it fills completely."""
        return yes_terms(self.side, self.action, self.count, self.limit_price)[0]

    def describe(self) -> dict[str, Any]:
        """The order's details as JSON-native values (for audit records and error messages)."""
        return {
            "client_order_id": self.client_order_id,
            "strategy": self.strategy,
            "event_ticker": self.event_ticker,
            "ticker": self.market_ticker,
            "side": self.side,
            "action": self.action,
            "count": self.count,
            "limit_price": f"{self.limit_price:.4f}",
            "notional": f"{self.notional:.4f}",
            "time_in_force": self.time_in_force,
            "decision_time": self.decision_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


@dataclass(frozen=True)
class Fill:
    """One execution of (part of) an order at one price."""

    trade_id: str
    client_order_id: str
    exchange_order_id: str | None
    market_ticker: str
    event_ticker: str
    side: str
    action: str
    count: int
    price: Decimal  # dollars per contract of `side`
    fee: Decimal  # dollars, already rounded as the exchange charges it
    filled_at: datetime  # aware UTC

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"a fill has a whole number of contracts >= 1, got {self.count!r}")
        object.__setattr__(self, "price", to_price(self.price, "fill price"))
        fee = to_decimal(self.fee, "fee")
        if fee < 0:
            raise ValueError(f"fee must not be negative, got {fee}")
        object.__setattr__(self, "fee", fee)
        object.__setattr__(self, "filled_at", aware_utc(self.filled_at))

    @property
    def cost(self) -> Decimal:
        """Cash paid (buy) or received (sell) before fees."""
        return self.count * self.price

    def yes_terms(self) -> tuple[int, Decimal]:
        return yes_terms(self.side, self.action, self.count, self.price)


@dataclass(frozen=True)
class RiskViolation:
    """One risk rule the order broke: the rule, the value it would reach, the limit, the order."""

    rule: str
    observed: Decimal | int
    limit: Decimal | int
    order: Order
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteResult:
    """What routing one order came to. `status` is one of ROUTE_STATUSES; `reason` says why for
    rejected and error (a risk rule, circuit_breaker_open, exchange_closed, Kalshi's error code)."""

    order: Order
    status: str
    reason: str | None = None
    exchange_order_id: str | None = None
    exchange_status: str | None = None  # executed, resting, canceled (as the exchange said)
    fills: tuple[Fill, ...] = ()
    violations: tuple[RiskViolation, ...] = ()
    message: str | None = None
    mode: str = "paper"

    def __post_init__(self) -> None:
        if self.status not in ROUTE_STATUSES:
            raise ValueError(f"status must be one of {ROUTE_STATUSES}, got {self.status!r}")
        if self.status in ("rejected", "error") and not self.reason:
            raise ValueError(f"a {self.status} result needs a reason")

    @property
    def filled_count(self) -> int:
        return sum(fill.count for fill in self.fills)

    @property
    def fees(self) -> Decimal:
        return sum((fill.fee for fill in self.fills), ZERO)

    @property
    def average_price(self) -> Decimal | None:
        if not self.fills:
            return None
        return (sum((f.cost for f in self.fills), ZERO) / self.filled_count).quantize(PRICE_QUANTUM)
