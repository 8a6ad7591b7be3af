"""The order router: store reservation, risk check, broker, audit, in that order, for every order.

`route(order) -> RouteResult` with status submitted, filled, rejected or error. The audit records a
routed order leaves behind follow from its path:

| path                                           | status    | audit records                 |
|------------------------------------------------|-----------|-------------------------------|
| filled (in part or whole)                      | filled    | ORDER, then one TRADE a fill  |
| accepted and resting                           | submitted | ORDER                         |
| risk rule(s) broken                            | rejected  | one RISK_VIOLATION a rule     |
| store or exchange holds the id already         | rejected  | ORDER (duplicate_client_order_id) |
| breaker open / venue refused / nothing matched | rejected  | ORDER (reason)                |
| no answer, 5xx, 429 after retries              | error     | ORDER (reason)                |

Breaker state changes are audit records through the client's breaker registry (see audit_hooks).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from kalshi_assets.kalshi.errors import CircuitOpenError, KalshiDuplicateOrder, KalshiError
from kalshi_assets.trading.brokers import Broker, BrokerAnswer, LiveBroker, OrderRejected
from kalshi_assets.trading.orders import (
    REASON_CIRCUIT_OPEN,
    REASON_DUPLICATE,
    REASON_UNFILLED,
    Order,
    RouteResult,
)
from kalshi_assets.trading.risk import RiskManager
from kalshi_assets.trading.store import OrderStore


def _cents(dollars: Decimal) -> int:
    """Whole cents for the audit record's integer fields (the exact dollars go in its details)."""
    return int((dollars * 100).to_integral_value(rounding=ROUND_HALF_EVEN))


def _client_error(exc: KalshiError) -> bool:
    """A 4xx other than 429: Kalshi refused this order (not a failure to reach Kalshi)."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status != 429


class OrderRouter:
    """Routes orders through risk checks to a broker, recording every step in the audit log.

    `broker` is a Broker, or a signed KalshiClient (anything with `place_order`), which is wrapped in a
    LiveBroker: that is live trading, so it needs KALSHI_LIVE_TRADING=I_UNDERSTAND like any LiveBroker.
    """

    def __init__(
        self,
        broker: Broker | Any,
        risk_manager: RiskManager,
        audit_log: Any,
        *,
        user_id: str = "kalshi-assets",
        store: OrderStore | None = None,
    ) -> None:
        if not hasattr(broker, "place") and hasattr(broker, "place_order"):
            broker = LiveBroker(broker)
        self.broker = broker
        self.risk = risk_manager
        self.audit_log = audit_log
        self.user_id = user_id
        self.store = store
        self.mode = getattr(broker, "mode", "paper")

    # --- routing ----------------------------------------------------------------------------------

    def route(self, order: Order) -> RouteResult:
        if self.store is not None and not self.store.reserve(order, self.mode):
            # The stored order keeps its row untouched; this attempt is recorded as refused.
            result = RouteResult(
                order, "rejected", REASON_DUPLICATE, message="the order store holds this client_order_id already",
                mode=self.mode,
            )  # fmt: skip
            self._audit_order(result)
            return result

        decision = self.risk.check(order)
        if not decision.approved:
            for violation in decision.violations:
                self.audit_log.log_risk_violation(
                    self.user_id,
                    rule=violation.rule,
                    limit=str(violation.limit),
                    observed=str(violation.observed),
                    action="rejected",
                    ticker=order.market_ticker,
                    client_order_id=order.client_order_id,
                    details={"order": order.describe(), **violation.details},
                )
            result = RouteResult(
                order, "rejected", decision.reason, violations=decision.violations, mode=self.mode,
                message="; ".join(f"{v.rule}: {v.observed} over the limit {v.limit}" for v in decision.violations),
            )  # fmt: skip
            self._complete(result)
            return result

        try:
            answer = self.broker.place(order)
        except CircuitOpenError as exc:
            result = RouteResult(order, "rejected", REASON_CIRCUIT_OPEN, message=str(exc), mode=self.mode)
        except OrderRejected as exc:
            result = RouteResult(order, "rejected", exc.reason, message=exc.message, mode=self.mode)
        except KalshiDuplicateOrder as exc:
            result = RouteResult(order, "rejected", REASON_DUPLICATE, message=str(exc), mode=self.mode)
        except KalshiError as exc:
            if _client_error(exc):
                result = RouteResult(order, "rejected", exc.code or f"http_{exc.status}", message=str(exc), mode=self.mode)
            else:
                # The order may or may not exist at the exchange; its id is reserved, so no re-run resends it blindly.
                reason = exc.code or (f"http_{exc.status}" if exc.status else type(exc).__name__)
                result = RouteResult(order, "error", reason, message=str(exc), mode=self.mode)
        except Exception as exc:
            failed = RouteResult(order, "error", f"internal_{type(exc).__name__}", message=str(exc), mode=self.mode)
            self._audit_order(failed)
            self._complete(failed)
            raise
        else:
            result = self._from_answer(order, answer)

        self._audit_order(result)
        for fill in result.fills:
            self.audit_log.log_trade(
                self.user_id,
                trade_id=fill.trade_id,
                ticker=fill.market_ticker,
                side=fill.side,
                action=fill.action,
                count=fill.count,
                price_cents=_cents(fill.price),
                order_id=fill.exchange_order_id,
                client_order_id=fill.client_order_id,
                fee_cents=_cents(fill.fee),
                details={
                    "price": f"{fill.price:.4f}",
                    "fee": f"{fill.fee:.4f}",
                    "filled_at": fill.filled_at.isoformat(),
                    "event_ticker": fill.event_ticker,
                    "strategy": order.strategy,
                    "mode": self.mode,
                },
            )
            self.risk.record_fill(fill)
        self._complete(result)
        return result

    def route_all(self, orders: list[Order]) -> list[RouteResult]:
        return [self.route(order) for order in orders]

    # --- helpers -----------------------------------------------------------------------------------

    def _from_answer(self, order: Order, answer: BrokerAnswer) -> RouteResult:
        common: dict[str, Any] = {
            "exchange_order_id": answer.exchange_order_id,
            "exchange_status": answer.exchange_status,
            "fills": answer.fills,
            "mode": self.mode,
        }
        if answer.fills:
            return RouteResult(order, "filled", **common)
        if answer.exchange_status == "canceled":
            return RouteResult(
                order, "rejected", REASON_UNFILLED, message="nothing matched within the limit price", **common
            )
        return RouteResult(order, "submitted", **common)

    def _audit_order(self, result: RouteResult) -> None:
        order = result.order
        self.audit_log.log_order(
            self.user_id,
            client_order_id=order.client_order_id,
            ticker=order.market_ticker,
            side=order.side,
            action=order.action,
            count=order.count,
            status=result.status,
            price_cents=_cents(order.limit_price),
            order_id=result.exchange_order_id,
            details={
                **order.describe(),
                "reason": result.reason,
                "message": result.message,
                "exchange_status": result.exchange_status,
                "filled_count": result.filled_count,
                "average_price": None if result.average_price is None else f"{result.average_price:.4f}",
                "fees": f"{result.fees:.4f}",
                "mode": self.mode,
                "decision": dict(order.details),
            },
        )

    def _complete(self, result: RouteResult) -> None:
        if self.store is not None:
            self.store.complete(result)
