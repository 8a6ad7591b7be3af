"""Reads and summaries the ingestion stage needs."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from kalshi_assets.warehouse.db import compose


def markets_open_during(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Markets whose trading window [open_time, close_time] meets [start, end): the ones with quotes then."""
    return con.execute(
        "SELECT market_ticker, event_ticker, close_time FROM kalshi_markets "
        "WHERE open_time < ? AND close_time >= ? ORDER BY market_ticker",
        [end, start],
    ).df()


def series_tickers(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT series_ticker FROM kalshi_series ORDER BY 1").fetchall()]


def event_tickers(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT event_ticker FROM kalshi_events ORDER BY 1").fetchall()]


def row_count(con: duckdb.DuckDBPyConnection, table: str, where_time: tuple[str, datetime, datetime] | None = None) -> int:
    if where_time is None:
        return con.execute(compose("SELECT count(*) FROM {table}", table=table)).fetchone()[0]
    column, start, end = where_time
    sql = compose("SELECT count(*) FROM {table} WHERE {column} >= ? AND {column} < ?", table=table, column=column)
    return con.execute(sql, [start, end]).fetchone()[0]


def preview(con: duckdb.DuckDBPyConnection, table: str, limit: int = 5, order_by: str | None = None) -> pd.DataFrame:
    if order_by:
        sql = compose("SELECT * FROM {table} ORDER BY {order_by} DESC LIMIT ?", table=table, order_by=order_by)
    else:
        sql = compose("SELECT * FROM {table} LIMIT ?", table=table)
    return con.execute(sql, [limit]).df()


def quote_checks(con: duckdb.DuckDBPyConnection, start: datetime | None = None, end: datetime | None = None) -> dict[str, int]:
    """Counts of rows breaking the quote contracts (all zero when the table is sound)."""
    row = con.execute(
        """
        SELECT
            count(*) FILTER (WHERE q.yes_bid < 0 OR q.yes_bid > 1 OR q.yes_ask < 0 OR q.yes_ask > 1
                             OR q.last_price < 0 OR q.last_price > 1)            AS price_outside_unit,
            count(*) FILTER (WHERE q.yes_bid > q.yes_ask)                         AS bid_above_ask,
            count(*) FILTER (WHERE m.close_time IS NOT NULL AND q.ts > m.close_time) AS after_close,
            count(*) FILTER (WHERE m.market_ticker IS NULL)                      AS unknown_market
        FROM kalshi_quotes q LEFT JOIN kalshi_markets m USING (market_ticker)
        WHERE CAST($start AS TIMESTAMP) IS NULL OR (q.ts >= $start AND q.ts < $end)
        """,
        {"start": start, "end": end if start is not None else None},
    ).fetchone()
    return dict(zip(("price_outside_unit", "bid_above_ask", "after_close", "unknown_market"), row, strict=True))


def duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, keys: list[str]) -> int:
    sql = compose("SELECT count(*) FROM (SELECT {keys} FROM {table} GROUP BY {keys} HAVING count(*) > 1)",
                  table=table, keys=list(keys))
    return con.execute(sql).fetchone()[0]


def markets_without_event(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(
        "SELECT count(*) FROM kalshi_markets m LEFT JOIN kalshi_events e USING (event_ticker) "
        "WHERE e.event_ticker IS NULL"
    ).fetchone()[0]


def events_without_markets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Events for which neither of Kalshi's tiers listed a market."""
    return [row[0] for row in con.execute(
        "SELECT e.event_ticker FROM kalshi_events e LEFT JOIN kalshi_markets m USING (event_ticker) "
        "WHERE m.market_ticker IS NULL ORDER BY 1"
    ).fetchall()]


def trade_checks(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Counts of trades breaking the trade contracts (all zero when the table is sound)."""
    row = con.execute(
        """
        SELECT
            count(*) FILTER (WHERE m.market_ticker IS NOT NULL
                             AND (t.ts < m.open_time OR t.ts > m.close_time))     AS outside_open_close,
            count(*) FILTER (WHERE m.market_ticker IS NULL)                       AS unknown_market,
            count(*) FILTER (WHERE t.yes_price <= 0 OR t.yes_price >= 1)          AS price_outside_unit,
            count(*) FILTER (WHERE t.count <= 0)                                  AS not_positive_count
        FROM kalshi_trades t LEFT JOIN kalshi_markets m USING (market_ticker)
        """
    ).fetchone()
    return dict(zip(("outside_open_close", "unknown_market", "price_outside_unit", "not_positive_count"), row,
                    strict=True))


def markets_open_before(con: duckdb.DuckDBPyConnection, start: datetime | None, end: datetime | None,
                        now: datetime) -> int:
    """Markets that were open at some time in [start, end) before `now` (the whole history when start is
    None): the ones that must have candles there."""
    if start is None or end is None:
        return con.execute("SELECT count(*) FROM kalshi_markets WHERE open_time < ?", [now]).fetchone()[0]
    return con.execute(
        "SELECT count(*) FROM kalshi_markets WHERE open_time < least(?, ?) AND close_time >= ? AND ? < ?",
        [end, now, start, start, now],
    ).fetchone()[0]


def traded_volume(con: duckdb.DuckDBPyConnection, start: datetime | None, end: datetime | None) -> float:
    """Contracts the hourly quotes say traded in [start, end) (everywhere when start is None)."""
    if start is None or end is None:
        return float(con.execute("SELECT coalesce(sum(volume), 0) FROM kalshi_quotes").fetchone()[0])
    return float(con.execute("SELECT coalesce(sum(volume), 0) FROM kalshi_quotes WHERE ts >= ? AND ts < ?",
                             [start, end]).fetchone()[0])
