"""Paper accounts: positions per (mode, strategy, market) and P&L per (mode, strategy), as table rows.

Positions replay every fill, then settle markets whose result is known by `as_of` (YES pays 1, NO 0,
scalar its settlement value); an open position is marked at the latest YES mid (the order book's now
when it shows both sides, else the warehouse's latest quote, else the last trade), and without any its
unrealized P&L is zero and the row says `mark_source = none`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from kalshi_assets.kalshi.errors import KalshiNotFound
from kalshi_assets.times import aware_utc, naive_utc
from kalshi_assets.trading.orders import PRICE_QUANTUM, ZERO, Fill, RouteResult
from kalshi_assets.trading.portfolio import PositionBook

Account = tuple[str, str]  # (mode, strategy)


def _q(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM)


def books_by_account(fills: Iterable[tuple[str, str, Fill]]) -> dict[Account, PositionBook]:
    grouped: dict[Account, list[Fill]] = {}
    for mode, strategy, fill in fills:
        grouped.setdefault((mode, strategy), []).append(fill)
    return {account: PositionBook.from_fills(account_fills) for account, account_fills in grouped.items()}


def settle_book(book: PositionBook, settlements: Mapping[str, tuple[Decimal, datetime]]) -> int:
    """Settle every held market with a known result; returns how many settled now."""
    settled = 0
    for ticker, position in book.positions.items():
        if ticker in settlements and position.settled_value is None:
            value, when = settlements[ticker]
            book.settle(ticker, value, when)
            settled += 1
    return settled


def book_marks(books: Any, market_tickers: Iterable[str], now: datetime) -> dict[str, dict[str, Any]]:
    """YES mids of the order books now, for the markets whose book shows both sides."""
    out: dict[str, dict[str, Any]] = {}
    for ticker in market_tickers:
        try:
            mid = books.book(ticker).mid()
        except (LookupError, KalshiNotFound):  # the source no longer lists it: the warehouse's mark stands
            continue
        if mid is not None:
            out[ticker] = {"price": mid, "ts": aware_utc(now), "source": "mid"}
    return out


def position_rows(
    account: Account, book: PositionBook, marks: Mapping[str, Mapping[str, Any]], as_of: datetime
) -> list[dict[str, Any]]:
    mode, strategy = account
    rows = []
    for ticker in sorted(book.positions):
        held = book.positions[ticker]
        mark = marks.get(ticker)
        if held.settled_value is not None:
            price, mark_ts, source, status = held.settled_value, held.settled_at, "settlement", "settled"
        elif mark is not None:
            price, mark_ts, source = mark["price"], mark["ts"], mark["source"]
            status = "open" if held.contracts else "flat"
        else:
            price, mark_ts, source = None, None, "none"
            status = "open" if held.contracts else "flat"
        unrealized = held.unrealized(price) if held.settled_value is None else ZERO
        rows.append(
            {
                "mode": mode,
                "strategy": strategy,
                "market_ticker": ticker,
                "event_ticker": held.event_ticker,
                "position": held.contracts,
                "average_price": _q(held.average_price),
                "cost_basis": held.cost_basis,
                "bought": held.bought,
                "sold": held.sold,
                "fees": _q(held.fees),
                "realized_pnl": _q(held.realized_pnl),
                "mark_price": None if price is None else _q(Decimal(price)),
                "mark_ts": naive_utc(mark_ts),
                "mark_source": source,
                "unrealized_pnl": _q(unrealized),
                "total_pnl": _q(held.realized_pnl + unrealized),
                "status": status,
                "settlement_value": None if held.settled_value is None else _q(held.settled_value),
                "settled_at": naive_utc(held.settled_at),
                "as_of": naive_utc(as_of),
            }
        )
    return rows


def pnl_rows(
    positions: Iterable[Mapping[str, Any]],
    order_counts: Iterable[Mapping[str, Any]],
    as_of: datetime,
    computed_at: datetime,
) -> list[dict[str, Any]]:
    """One row per (mode, strategy) that has orders: order counts plus summed position P&L."""
    totals: dict[Account, dict[str, Any]] = {}
    for row in positions:
        key = (row["mode"], row["strategy"])
        acc = totals.setdefault(key, {"fees": ZERO, "realized": ZERO, "unrealized": ZERO, "open": 0, "settled": 0})
        acc["fees"] += row["fees"]
        acc["realized"] += row["realized_pnl"]
        acc["unrealized"] += row["unrealized_pnl"]
        acc["open"] += row["status"] == "open"
        acc["settled"] += row["status"] == "settled"
    out = []
    for counts in order_counts:
        key = (counts["mode"], counts["strategy"])
        acc = totals.get(key, {"fees": ZERO, "realized": ZERO, "unrealized": ZERO, "open": 0, "settled": 0})
        out.append(
            {
                "mode": key[0],
                "strategy": key[1],
                "as_of": naive_utc(as_of),
                **{
                    name: int(counts[name])
                    for name in ("orders", "filled_orders", "submitted_orders", "rejected_orders", "error_orders",
                                 "pending_orders", "fills", "contracts_traded")
                },  # fmt: skip
                "open_positions": acc["open"],
                "settled_positions": acc["settled"],
                "cash_spent": _q(Decimal(counts["cash_spent"])),
                "fees": _q(acc["fees"]),
                "realized_pnl": _q(acc["realized"]),
                "unrealized_pnl": _q(acc["unrealized"]),
                "total_pnl": _q(acc["realized"] + acc["unrealized"]),
                "computed_at": naive_utc(computed_at),
            }
        )
    return out


def pnl_totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Total, realized and unrealized P&L summed over P&L rows (every account)."""
    rows = list(rows)
    return {
        name: float(sum((row[name] for row in rows), start=0))
        for name in ("total_pnl", "realized_pnl", "unrealized_pnl")
    }


def routing_summary(routed: Iterable[RouteResult]) -> tuple[dict[str, int], dict[str, int]]:
    """The routed orders by status, and the rejected ones by reason (most frequent first)."""
    routed = list(routed)
    statuses = Counter(r.status for r in routed)
    reasons = Counter(r.reason for r in routed if r.status == "rejected")
    return dict(statuses.most_common()), dict(reasons.most_common())


def audit_gaps(orders: Iterable[Mapping[str, Any]], audited: set[str]) -> tuple[list[str], list[str]]:
    """Client order ids of completed orders without an audit record, and of orders still pending (a run
    that died mid-order)."""
    orders = list(orders)
    missing = [o["client_order_id"] for o in orders if o["status"] != "pending" and o["client_order_id"] not in audited]
    pending = [o["client_order_id"] for o in orders if o["status"] == "pending"]
    return missing, pending
