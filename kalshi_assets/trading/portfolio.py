"""Positions and P&L from fills and settlements, in Decimal dollars.

A position is one signed YES count per market (Kalshi nets YES and NO: long NO is short YES) with the
average YES price of the open contracts. Realized P&L books when contracts close (an opposite fill or
the settlement) and every fee is a realized cost the moment it is paid. Unrealized P&L marks the open
contracts at a YES price (the latest mid).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from kalshi_assets.times import aware_utc
from kalshi_assets.trading.orders import PRICE_QUANTUM, ZERO, Fill, to_decimal


@dataclass
class Position:
    market_ticker: str
    event_ticker: str | None = None
    contracts: int = 0  # signed YES contracts: + long YES, - long NO
    average_price: Decimal = ZERO  # YES price of the open contracts (0 when flat)
    realized_pnl: Decimal = ZERO  # closed contracts and settlements, net of fees
    fees: Decimal = ZERO
    bought: int = 0  # contracts bought or sold in total (activity, not exposure)
    sold: int = 0
    settled_value: Decimal | None = None  # YES settlement price once the market settled
    settled_at: datetime | None = None

    @property
    def cost_basis(self) -> Decimal:
        """Signed dollars at stake in YES terms: contracts x average price."""
        return (self.contracts * self.average_price).quantize(PRICE_QUANTUM)

    def unrealized(self, mark: Decimal | None) -> Decimal:
        """Open contracts marked at `mark` (a YES price); zero without a mark or when flat."""
        if self.contracts == 0 or mark is None:
            return ZERO
        return (self.contracts * (mark - self.average_price)).quantize(PRICE_QUANTUM)


@dataclass
class PositionBook:
    """Every market's position, plus realized P&L per UTC day (for the daily loss limit)."""

    positions: dict[str, Position] = field(default_factory=dict)
    realized_by_day: dict[date, Decimal] = field(default_factory=dict)

    def position(self, market_ticker: str) -> int:
        held = self.positions.get(market_ticker)
        return held.contracts if held is not None else 0

    def _book_realized(self, when: datetime, amount: Decimal) -> None:
        day = aware_utc(when).date()
        self.realized_by_day[day] = self.realized_by_day.get(day, ZERO) + amount

    def apply_fill(self, fill: Fill) -> Decimal:
        """Book one fill; returns the realized P&L it produced (closing part minus the fee)."""
        held = self.positions.setdefault(fill.market_ticker, Position(fill.market_ticker, fill.event_ticker))
        if held.settled_value is not None:
            raise ValueError(f"{fill.market_ticker} settled already; a fill after settlement is wrong data")
        delta, price = fill.yes_terms()
        realized = ZERO
        current = held.contracts
        if current == 0 or (current > 0) == (delta > 0):
            total = abs(current) + abs(delta)
            held.average_price = (abs(current) * held.average_price + abs(delta) * price) / total
            held.contracts = current + delta
        else:
            closing = min(abs(current), abs(delta))
            direction = 1 if current > 0 else -1
            realized = closing * (price - held.average_price) * direction
            held.contracts = current + delta
            if held.contracts == 0:
                held.average_price = ZERO
            elif (held.contracts > 0) != (current > 0):  # flipped: the rest opens at the fill price
                held.average_price = price
        if fill.action == "buy":
            held.bought += fill.count
        else:
            held.sold += fill.count
        realized -= fill.fee
        held.fees += fill.fee
        held.realized_pnl += realized
        self._book_realized(fill.filled_at, realized)
        return realized

    def settle(self, market_ticker: str, yes_value: Decimal | float | str, when: datetime) -> Decimal:
        """Close the market's position at its YES settlement value (1 yes, 0 no, or a scalar value)."""
        value = to_decimal(yes_value, "settlement value")
        if not ZERO <= value <= 1:
            raise ValueError(f"{market_ticker}: settlement value {value} outside [0, 1]")
        held = self.positions.get(market_ticker)
        if held is None or held.settled_value is not None:
            return ZERO
        realized = held.contracts * (value - held.average_price)
        held.realized_pnl += realized
        held.contracts, held.average_price = 0, ZERO
        held.settled_value, held.settled_at = value, aware_utc(when)
        self._book_realized(when, realized)
        return realized

    def realized_on(self, day: date) -> Decimal:
        return self.realized_by_day.get(day, ZERO)

    def realized_total(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), ZERO)

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum((p.unrealized(marks.get(t)) for t, p in self.positions.items()), ZERO)

    @classmethod
    def from_fills(cls, fills: Iterable[Fill]) -> PositionBook:
        """A book replayed from fills in time order (ties by trade id, so a replay is deterministic)."""
        book = cls()
        for fill in sorted(fills, key=lambda f: (f.filled_at, f.trade_id)):
            book.apply_fill(fill)
        return book
