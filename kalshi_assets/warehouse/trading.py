"""SQL of the trading stage: the order store, fills, what is open to trade now, marks, settlements, P&L.

Money is read with `fetchall` (DuckDB hands DECIMAL back as Decimal there; a pandas frame would turn
it into binary floats) and written as Decimal. Every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd

from kalshi_assets.times import naive_utc, utc_now
from kalshi_assets.trading.orders import CENT, ONE, PRICE_QUANTUM, ZERO, Fill, Order, RouteResult
from kalshi_assets.trading.store import PENDING
from kalshi_assets.warehouse.db import table_exists
from kalshi_assets.warehouse.writes import atomically, replace_all, upsert

ORDERS = "paper_orders"
FILLS = "paper_fills"
POSITIONS = "paper_positions"
PNL = "paper_pnl"
POSITION_COLUMNS: tuple[str, ...] = (
    "mode", "strategy", "market_ticker", "event_ticker", "position", "average_price", "cost_basis", "bought",
    "sold", "fees", "realized_pnl", "mark_price", "mark_ts", "mark_source", "unrealized_pnl", "total_pnl",
    "status", "settlement_value", "settled_at", "as_of",
)  # fmt: skip
PNL_COLUMNS: tuple[str, ...] = (
    "mode", "strategy", "as_of", "orders", "filled_orders", "submitted_orders", "rejected_orders", "error_orders",
    "pending_orders", "fills", "contracts_traded", "open_positions", "settled_positions", "cash_spent", "fees",
    "realized_pnl", "unrealized_pnl", "total_pnl", "computed_at",
)  # fmt: skip


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN -> None


# --- the order store -------------------------------------------------------------------------------


_ORDER_EXISTS = "SELECT 1 FROM paper_orders WHERE client_order_id = ?"
_RESERVE_ORDER = """
INSERT INTO paper_orders (client_order_id, mode, strategy, event_ticker, market_ticker, side, action, contracts,
    limit_price, notional, time_in_force, decision_time, p_model, edge, promoted, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_ORDER_PENDING = "SELECT 1 FROM paper_orders WHERE client_order_id = ? AND status = ?"
_COMPLETE_ORDER = """
UPDATE paper_orders
SET status = ?, reason = ?, message = ?, exchange_order_id = ?, exchange_status = ?, filled_contracts = ?,
    average_price = ?, fees = ?, updated_at = ?
WHERE client_order_id = ? AND status = ?
"""
_INSERT_FILL = """
INSERT INTO paper_fills (trade_id, client_order_id, exchange_order_id, mode, strategy, event_ticker, market_ticker,
    side, action, contracts, price, fee, filled_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


class WarehouseOrderStore:
    """`OrderStore` over paper_orders / paper_fills: reserve inserts a pending row (refused when the
    client_order_id exists), complete updates that row and inserts its fills in one transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, clock: Callable[[], datetime] = utc_now) -> None:
        self.con = con
        self.clock = clock

    def reserve(self, order: Order, mode: str) -> bool:
        now = naive_utc(self.clock())
        row = [
            order.client_order_id, mode, order.strategy, order.event_ticker, order.market_ticker, order.side,
            order.action, order.count, order.limit_price, order.notional, order.time_in_force,
            naive_utc(order.decision_time), _float_or_none(order.details.get("p_model")),
            _float_or_none(order.details.get("edge")), order.details.get("promoted"), PENDING, now, now,
        ]  # fmt: skip

        # Look, then insert, under the order's lock: the lake has no primary key to refuse a second row (the
        # file's key still does, and a lost race there is the same answer: already reserved).
        def work() -> bool:
            if self.con.execute(_ORDER_EXISTS, [order.client_order_id]).fetchone():
                return False
            self.con.execute(_RESERVE_ORDER, row)
            return True

        try:
            return atomically(self.con, [f"paper_orders/{order.client_order_id}"], work)
        except duckdb.ConstraintException:
            return False

    def complete(self, result: RouteResult) -> None:
        order = result.order

        # Look, then update, under the order's lock (the lake takes no RETURNING on an UPDATE).
        def work() -> None:
            if not self.con.execute(_ORDER_PENDING, [order.client_order_id, PENDING]).fetchone():
                raise KeyError(f"order {order.client_order_id} is not pending in paper_orders: it was never reserved "
                               "or is complete already")  # fmt: skip
            self.con.execute(
                _COMPLETE_ORDER,
                [
                    result.status, result.reason, result.message, result.exchange_order_id, result.exchange_status,
                    result.filled_count, result.average_price, result.fees, naive_utc(self.clock()),
                    order.client_order_id, PENDING,
                ],
            )  # fmt: skip
            for fill in result.fills:
                self.con.execute(
                    _INSERT_FILL,
                    [
                        fill.trade_id, fill.client_order_id, fill.exchange_order_id, result.mode, order.strategy,
                        fill.event_ticker, fill.market_ticker, fill.side, fill.action, fill.count, fill.price,
                        fill.fee, naive_utc(fill.filled_at),
                    ],
                )  # fmt: skip

        atomically(self.con, [f"paper_orders/{order.client_order_id}"], work)


def known_order_ids(con: duckdb.DuckDBPyConnection, client_order_ids: Sequence[str]) -> set[str]:
    if not client_order_ids:
        return set()
    rows = con.execute(
        "SELECT client_order_id FROM paper_orders WHERE client_order_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(client_order_ids)],
    ).fetchall()
    return {row[0] for row in rows}


def read_orders(con: duckdb.DuckDBPyConnection, mode: str | None = None) -> list[dict[str, Any]]:
    return _rows(
        con,
        "SELECT * FROM paper_orders WHERE ? IS NULL OR mode = ? ORDER BY decision_time, client_order_id",
        [mode, mode],
    )


def read_fills(con: duckdb.DuckDBPyConnection, mode: str | None = None) -> list[tuple[str, str, Fill]]:
    """(mode, strategy, Fill) for every stored fill, in time order."""
    rows = _rows(
        con,
        "SELECT * FROM paper_fills WHERE ? IS NULL OR mode = ? ORDER BY filled_at, trade_id",
        [mode, mode],
    )
    return [
        (
            row["mode"],
            row["strategy"],
            Fill(
                trade_id=row["trade_id"],
                client_order_id=row["client_order_id"],
                exchange_order_id=row["exchange_order_id"],
                market_ticker=row["market_ticker"],
                event_ticker=row["event_ticker"],
                side=row["side"],
                action=row["action"],
                count=int(row["contracts"]),
                price=row["price"],
                fee=row["fee"],
                filled_at=row["filled_at"],
            ),
        )
        for row in rows
    ]


# --- what can be traded now ---------------------------------------------------------------------


def open_ladders(
    con: duckdb.DuckDBPyConnection, now: datetime, capacity_window_hours: float, max_quote_age_hours: float
) -> pd.DataFrame:
    """Every market of an event not yet released at `now` and not settled, with its latest quote at or
    before `now` (older than `max_quote_age_hours` counts as no quote), the contracts traded in the
    capacity window (now - window, now], open interest and the series' fee multiplier."""
    now = naive_utc(now)
    window_start = now - pd.Timedelta(hours=capacity_window_hours)
    oldest_quote = now - pd.Timedelta(hours=max_quote_age_hours)
    return con.execute(
        """
        WITH open_markets AS (
            SELECT m.market_ticker, m.event_ticker, r.series_ticker, r.event_type, r.release_time,
                   m.strike_type, m.floor_strike, m.cap_strike, COALESCE(s.fee_multiplier, 1.0) AS fee_multiplier
            FROM kalshi_markets m
            JOIN event_release r ON r.event_ticker = m.event_ticker
            LEFT JOIN kalshi_series s ON s.series_ticker = r.series_ticker
            WHERE r.release_time > ? AND (m.close_time IS NULL OR m.close_time > ?)
              AND m.result IS NULL AND m.settlement_ts IS NULL
        ),
        latest AS (
            SELECT q.market_ticker, q.ts AS quote_ts, q.yes_bid, q.yes_ask, q.open_interest
            FROM kalshi_quotes q JOIN open_markets o ON o.market_ticker = q.market_ticker
            WHERE q.ts <= ? AND q.ts > ?
            QUALIFY row_number() OVER (PARTITION BY q.market_ticker ORDER BY q.ts DESC) = 1
        ),
        traded AS (
            SELECT q.market_ticker, sum(q.volume) AS window_volume
            FROM kalshi_quotes q JOIN open_markets o ON o.market_ticker = q.market_ticker
            WHERE q.ts > ? AND q.ts <= ?
            GROUP BY q.market_ticker
        )
        SELECT o.*, l.quote_ts, CAST(l.yes_bid AS DOUBLE) AS yes_bid, CAST(l.yes_ask AS DOUBLE) AS yes_ask,
               CAST(COALESCE(l.open_interest, 0) AS DOUBLE) AS open_interest,
               CAST(COALESCE(t.window_volume, 0) AS DOUBLE) AS window_volume
        FROM open_markets o
        LEFT JOIN latest l ON l.market_ticker = o.market_ticker
        LEFT JOIN traded t ON t.market_ticker = o.market_ticker
        ORDER BY o.event_ticker, o.market_ticker
        """,
        [now, now, now, oldest_quote, window_start, now],
    ).df()


def latest_distributions(
    con: duckdb.DuckDBPyConnection, event_tickers: Sequence[str], now: datetime, max_age_hours: float
) -> pd.DataFrame:
    """Per event, the latest distribution snapshot at or before `now` with status ok and a positive
    spread, no older than `max_age_hours`. Empty when the distributions stage has not run."""
    columns = ["event_ticker", "snapshot_ts", "event_type", "mean", "std", "value_grid", "quality_score",
               "quality_low"]  # fmt: skip
    if not event_tickers or not table_exists(con, "distribution_snapshots"):
        return pd.DataFrame(columns=columns)
    now = naive_utc(now)
    return con.execute(
        """
        SELECT event_ticker, snapshot_ts, event_type, mean, std, value_grid, quality_score, quality_low
        FROM distribution_snapshots
        WHERE event_ticker IN (SELECT unnest(?::VARCHAR[])) AND snapshot_ts <= ? AND snapshot_ts >= ?
          AND status = 'ok' AND mean IS NOT NULL AND std > 0
        QUALIFY row_number() OVER (PARTITION BY event_ticker ORDER BY snapshot_ts DESC) = 1
        ORDER BY event_ticker
        """,
        [list(event_tickers), now, now - pd.Timedelta(hours=max_age_hours)],
    ).df()


def released_events(con: duckdb.DuckDBPyConnection, now: datetime) -> pd.DataFrame:
    """Events released by `now` whose first print was known by then: the training set of a model fit."""
    columns = ["event_ticker", "series_ticker", "event_type", "release_time", "first_print"]
    if not table_exists(con, "outcomes_first_print"):
        return pd.DataFrame(columns=columns)
    return con.execute(
        """
        SELECT r.event_ticker, r.series_ticker, r.event_type, r.release_time, f.value AS first_print
        FROM event_release r JOIN outcomes_first_print f ON f.event_ticker = r.event_ticker
        WHERE r.release_time <= ? AND f.release_time <= ? AND r.event_type IS NOT NULL
        ORDER BY r.release_time, r.event_ticker
        """,
        [naive_utc(now), naive_utc(now)],
    ).df()


def snapshot_history(con: duckdb.DuckDBPyConnection, event_tickers: Sequence[str], until: datetime) -> pd.DataFrame:
    """Usable snapshots (status ok, positive spread) of the events, up to `until`."""
    columns = ["event_ticker", "snapshot_ts", "mean", "std"]
    if not event_tickers or not table_exists(con, "distribution_snapshots"):
        return pd.DataFrame(columns=columns)
    return con.execute(
        """
        SELECT event_ticker, snapshot_ts, mean, std FROM distribution_snapshots
        WHERE event_ticker IN (SELECT unnest(?::VARCHAR[])) AND snapshot_ts <= ?
          AND status = 'ok' AND mean IS NOT NULL AND std > 0
        ORDER BY event_ticker, snapshot_ts
        """,
        [list(event_tickers), naive_utc(until)],
    ).df()


def working_markets(con: duckdb.DuckDBPyConnection, mode: str, strategy: str) -> set[str]:
    """Markets where the strategy has an order pending or resting (status pending or submitted)."""
    rows = con.execute(
        "SELECT DISTINCT market_ticker FROM paper_orders WHERE mode = ? AND strategy = ? "
        "AND status IN ('pending', 'submitted')",
        [mode, strategy],
    ).fetchall()
    return {row[0] for row in rows}


def promotion_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every candidate of promotion_decisions with its `promoted` flag and, from walkforward_candidates, its
    parameters (horizon, edge threshold, capacity share and window, size limits). None when the research
    stage has not written promotion_decisions yet."""
    if not table_exists(con, "promotion_decisions"):
        return []
    if not table_exists(con, "walkforward_candidates"):
        return _rows(con, "SELECT * FROM promotion_decisions ORDER BY candidate")
    return _rows(
        con,
        """
        SELECT d.candidate, d.promoted, d.decided_at, c.horizon_days, c.edge_threshold, c.capacity_share,
               c.capacity_window_hours, c.max_contracts, CAST(c.max_order_notional AS DOUBLE) AS max_order_notional,
               CAST(c.bankroll AS DOUBLE) AS bankroll
        FROM promotion_decisions d LEFT JOIN walkforward_candidates c ON c.candidate = d.candidate
        ORDER BY d.candidate
        """,
    )


# --- marks and settlements -------------------------------------------------------------------------


def marks(con: duckdb.DuckDBPyConnection, market_tickers: Sequence[str], as_of: datetime) -> dict[str, dict[str, Any]]:
    """Per market: the YES mark at or before `as_of` from the latest quote (the mid when both sides are
    quoted), else the latest trade price; {price, ts, source}."""
    if not market_tickers:
        return {}
    rows = _rows(
        con,
        """
        WITH wanted AS (SELECT unnest(?::VARCHAR[]) AS market_ticker),
        latest AS (
            SELECT q.market_ticker, q.ts, q.yes_bid, q.yes_ask
            FROM kalshi_quotes q JOIN wanted w ON w.market_ticker = q.market_ticker
            WHERE q.ts <= ?
            QUALIFY row_number() OVER (PARTITION BY q.market_ticker ORDER BY q.ts DESC) = 1
        ),
        traded AS (
            SELECT q.market_ticker, q.ts, q.last_price
            FROM kalshi_quotes q JOIN wanted w ON w.market_ticker = q.market_ticker
            WHERE q.ts <= ? AND q.last_price IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY q.market_ticker ORDER BY q.ts DESC) = 1
        )
        SELECT w.market_ticker, l.ts AS quote_ts, l.yes_bid, l.yes_ask, t.ts AS trade_ts, t.last_price
        FROM wanted w LEFT JOIN latest l USING (market_ticker) LEFT JOIN traded t USING (market_ticker)
        """,
        [list(market_tickers), naive_utc(as_of), naive_utc(as_of)],
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["yes_bid"] is not None and row["yes_ask"] is not None:
            mid = ((row["yes_bid"] + row["yes_ask"]) / 2).quantize(PRICE_QUANTUM)
            out[row["market_ticker"]] = {"price": mid, "ts": row["quote_ts"], "source": "mid"}
        elif row["last_price"] is not None:
            out[row["market_ticker"]] = {"price": row["last_price"], "ts": row["trade_ts"], "source": "last_price"}
    return out


def settlements(
    con: duckdb.DuckDBPyConnection, market_tickers: Sequence[str], as_of: datetime
) -> dict[str, tuple[Decimal, datetime]]:
    """Per settled market (result yes/no, or scalar with a settlement value) known by `as_of`: the YES
    settlement value and when it settled."""
    if not market_tickers:
        return {}
    rows = _rows(
        con,
        """
        SELECT market_ticker, result, settlement_value, COALESCE(settlement_ts, close_time) AS settled_at
        FROM kalshi_markets
        WHERE market_ticker IN (SELECT unnest(?::VARCHAR[]))
          AND result IN ('yes', 'no', 'scalar') AND COALESCE(settlement_ts, close_time) <= ?
        """,
        [list(market_tickers), naive_utc(as_of)],
    )
    out: dict[str, tuple[Decimal, datetime]] = {}
    for row in rows:
        if row["result"] == "yes":
            value = ONE
        elif row["result"] == "no":
            value = ZERO
        elif row["settlement_value"] is not None:
            value = Decimal(row["settlement_value"])
        else:
            continue
        out[row["market_ticker"]] = (value, row["settled_at"])
    return out


# --- positions and P&L -------------------------------------------------------------------------------


def replace_positions(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    return replace_all(con, POSITIONS, frame)


def read_positions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(con, "SELECT * FROM paper_positions ORDER BY mode, strategy, market_ticker")


def order_consistency(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Counts of orders whose status disagrees with their fills or lacks a reason (all 0 when sound)."""
    row = con.execute(
        """
        WITH f AS (SELECT client_order_id, sum(contracts) AS contracts, sum(fee) AS fees
                   FROM paper_fills GROUP BY client_order_id)
        SELECT
            count(*) FILTER (WHERE o.status = 'filled' AND COALESCE(f.contracts, 0) <> o.filled_contracts),
            count(*) FILTER (WHERE o.status = 'filled' AND o.filled_contracts < 1),
            count(*) FILTER (WHERE o.status <> 'filled' AND COALESCE(f.contracts, 0) > 0),
            count(*) FILTER (WHERE o.status IN ('rejected', 'error') AND COALESCE(o.reason, '') = ''),
            count(*) FILTER (WHERE COALESCE(f.fees, 0) <> o.fees),
            (SELECT count(*) FROM paper_fills x ANTI JOIN paper_orders y USING (client_order_id))
        FROM paper_orders o LEFT JOIN f ON f.client_order_id = o.client_order_id
        """
    ).fetchone()
    names = ("filled_count_mismatch", "filled_without_contracts", "fills_on_unfilled_order",
             "rejected_without_reason", "fee_mismatch", "fills_without_order")  # fmt: skip
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def upsert_pnl(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    return upsert(con, PNL, frame)


def order_counts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per (mode, strategy): orders by status, fills, contracts traded and premium paid net of premium
    received (fees apart)."""
    return _rows(
        con,
        """
        SELECT o.mode, o.strategy,
               count(*) AS orders,
               count(*) FILTER (WHERE o.status = 'filled') AS filled_orders,
               count(*) FILTER (WHERE o.status = 'submitted') AS submitted_orders,
               count(*) FILTER (WHERE o.status = 'rejected') AS rejected_orders,
               count(*) FILTER (WHERE o.status = 'error') AS error_orders,
               count(*) FILTER (WHERE o.status = 'pending') AS pending_orders,
               COALESCE(sum(f.fills), 0) AS fills,
               COALESCE(sum(f.contracts), 0) AS contracts_traded,
               COALESCE(sum(f.cash_spent), 0) AS cash_spent
        FROM paper_orders o
        LEFT JOIN (SELECT client_order_id, count(*) AS fills, sum(contracts) AS contracts,
                          sum(CASE WHEN action = 'buy' THEN contracts * price ELSE -contracts * price END)
                              AS cash_spent
                   FROM paper_fills GROUP BY client_order_id) f ON f.client_order_id = o.client_order_id
        GROUP BY o.mode, o.strategy
        ORDER BY o.mode, o.strategy
        """,
    )


# --- the demo summary -------------------------------------------------------------------------------


def _dollars(value: Any) -> str:
    """-$4.37 style, half away from zero (so printed parts add up the way a reader rounds them)."""
    amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def demo_report_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Lines for `kalshi-assets demo`: orders by status and reason, fills, and P&L as of the last run."""
    if not table_exists(con, ORDERS):
        return []
    lines = ["", "Paper trading:"]
    statuses = _rows(
        con,
        "SELECT mode, status, COALESCE(reason, '') AS reason, count(*) AS n FROM paper_orders "
        "GROUP BY ALL ORDER BY mode, status, reason",
    )
    if not statuses:
        lines.append("  no orders: no strategy is promoted, or none saw an edge in the open markets")
    for row in statuses:
        why = f" ({row['reason']})" if row["reason"] else ""
        lines.append(f"  {row['mode']} orders {row['status']}{why}: {row['n']}")
    fills = con.execute(
        "SELECT count(*), COALESCE(sum(contracts), 0), COALESCE(sum(contracts * price), 0), "
        "COALESCE(sum(fee), 0) FROM paper_fills"
    ).fetchone()
    lines.append(
        f"  fills: {fills[0]} ({int(fills[1])} contracts, {_dollars(fills[2])} premium, {_dollars(fills[3])} fees)"
    )
    pnl = _rows(
        con,
        """
        SELECT p.mode, p.strategy, p.as_of, p.realized_pnl, p.unrealized_pnl, p.total_pnl, p.open_positions,
               p.settled_positions,
               EXISTS (SELECT 1 FROM paper_orders o WHERE o.mode = p.mode AND o.strategy = p.strategy
                       AND o.promoted = false) AS incubating
        FROM paper_pnl p QUALIFY row_number() OVER (PARTITION BY p.mode, p.strategy ORDER BY p.as_of DESC) = 1
        ORDER BY p.mode, p.strategy
        """,
    )
    for row in pnl:
        label = f"{row['strategy']} (incubating, not promoted)" if row["incubating"] else row["strategy"]
        lines.append(
            f"  P&L {row['mode']} {label} as of {row['as_of']:%Y-%m-%d %H:%M} UTC: "
            f"total {_dollars(row['total_pnl'])} = realized {_dollars(row['realized_pnl'])} "
            f"+ unrealized {_dollars(row['unrealized_pnl'])} ({row['open_positions']} open positions marked at "
            f"the latest mid, {row['settled_positions']} settled)"
        )
    if not pnl:
        lines.append("  P&L: nothing traded yet")
    return lines
