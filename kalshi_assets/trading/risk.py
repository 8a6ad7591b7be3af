"""Pre-trade risk checks: position per market, order notional, daily loss.

`RiskManager.check(order)` evaluates every rule and returns all violations (not just the first), so
the audit log says everything that was wrong with a rejected order. Rules:

- max_position_per_market: |current signed YES position + the order's full delta| must not exceed the
  limit (Kalshi nets YES and NO on a market, so an order that reduces the position is never blocked).
- max_order_notional: contracts x limit price must not exceed the limit ($500 by default).
- max_daily_loss: the trading day's realized P&L (fills and settlements of the UTC day of the check,
  by the risk manager's clock, fees included) plus the marked-to-market P&L of the open positions must
  stay above -limit; once the loss reaches the limit, only orders that reduce a position pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from kalshi_assets.times import aware_utc
from kalshi_assets.trading.orders import PRICE_QUANTUM, Fill, Order, RiskViolation, to_decimal
from kalshi_assets.trading.portfolio import PositionBook

RULE_POSITION = "max_position_per_market"
RULE_NOTIONAL = "max_order_notional"
RULE_DAILY_LOSS = "max_daily_loss"
RULES: tuple[str, ...] = (RULE_POSITION, RULE_NOTIONAL, RULE_DAILY_LOSS)

DEFAULT_MAX_ORDER_NOTIONAL = Decimal("500")


@dataclass(frozen=True)
class RiskDecision:
    order: Order
    violations: tuple[RiskViolation, ...]

    @property
    def approved(self) -> bool:
        return not self.violations

    @property
    def reason(self) -> str | None:
        """The violated rules, comma-separated in rule order (None when approved)."""
        return ",".join(v.rule for v in self.violations) or None


class RiskManager:
    """Checks orders against limits, tracking positions and P&L through `record_fill` and `set_marks`."""

    def __init__(
        self,
        max_position_per_market: int,
        max_order_notional: Decimal | float | str = DEFAULT_MAX_ORDER_NOTIONAL,
        max_daily_loss: Decimal | float | str = Decimal("1000"),
        *,
        book: PositionBook | None = None,
        marks: Mapping[str, Decimal] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if isinstance(max_position_per_market, bool) or not isinstance(max_position_per_market, int):
            raise TypeError("max_position_per_market is a whole number of contracts")
        if max_position_per_market < 1:
            raise ValueError(f"max_position_per_market must be at least 1, got {max_position_per_market}")
        self.max_position_per_market = max_position_per_market
        self.max_order_notional = to_decimal(max_order_notional, "max_order_notional")
        self.max_daily_loss = to_decimal(max_daily_loss, "max_daily_loss")
        if self.max_order_notional <= 0 or self.max_daily_loss <= 0:
            raise ValueError("max_order_notional and max_daily_loss must be positive dollar amounts")
        self.book = book if book is not None else PositionBook()
        self.clock = clock  # its UTC date is the trading day of the daily loss limit
        self._marks: dict[str, Decimal] = {}
        self.set_marks(marks or {})

    # --- state ------------------------------------------------------------------------------------

    def set_marks(self, marks: Mapping[str, Decimal | float | str]) -> None:
        """Latest YES marks (mids) per market, used for the marked-to-market part of the daily loss."""
        self._marks.update({ticker: to_decimal(mark, f"mark of {ticker}") for ticker, mark in marks.items()})

    def record_fill(self, fill: Fill) -> None:
        self.book.apply_fill(fill)

    def trading_day(self) -> date:
        return aware_utc(self.clock()).date()

    def daily_pnl(self) -> tuple[Decimal, Decimal]:
        """(realized today, marked-to-market of every open position)."""
        return self.book.realized_on(self.trading_day()), self.book.unrealized(self._marks)

    # --- the check --------------------------------------------------------------------------------

    def check(self, order: Order) -> RiskDecision:
        violations: list[RiskViolation] = []
        current = self.book.position(order.market_ticker)
        after = current + order.yes_delta
        reduces = abs(after) < abs(current)

        if abs(after) > self.max_position_per_market and not reduces:
            violations.append(
                RiskViolation(
                    RULE_POSITION, abs(after), self.max_position_per_market, order,
                    {"current_position": current, "order_delta": order.yes_delta, "position_after": after},
                )  # fmt: skip
            )
        if order.notional > self.max_order_notional:
            violations.append(
                RiskViolation(
                    RULE_NOTIONAL, order.notional, self.max_order_notional, order,
                    {"count": order.count, "limit_price": f"{order.limit_price:.4f}"},
                )  # fmt: skip
            )
        realized, unrealized = self.daily_pnl()
        loss = (-(realized + unrealized)).quantize(PRICE_QUANTUM)
        if loss >= self.max_daily_loss and not reduces:
            violations.append(
                RiskViolation(
                    RULE_DAILY_LOSS, loss, self.max_daily_loss, order,
                    {
                        "day": self.trading_day().isoformat(),
                        "realized_pnl": f"{realized.quantize(PRICE_QUANTUM):.4f}",
                        "unrealized_pnl": f"{unrealized.quantize(PRICE_QUANTUM):.4f}",
                    },
                )  # fmt: skip
            )
        return RiskDecision(order, tuple(violations))

    def limits(self) -> dict[str, str | int]:
        return {
            RULE_POSITION: self.max_position_per_market,
            RULE_NOTIONAL: f"{self.max_order_notional:.4f}",
            RULE_DAILY_LOSS: f"{self.max_daily_loss:.4f}",
        }
