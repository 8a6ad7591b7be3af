"""The SQL of the read service (kalshi_assets/service.py): every value goes in as a parameter.

Each read returns (column names, rows) straight from DuckDB. A table another stage has not created yet
reads as no rows, so the service works on a warehouse that holds only part of the pipeline. Table and
column names are spliced only from this module's constants or from the catalogue, checked first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from kalshi_assets.warehouse.db import checked_identifier, table_exists

Rows = tuple[list[str], list[tuple[Any, ...]]]

# Where each stage keeps its rows (the other stages' sections of schema.sql).
EVENTS = "kalshi_events"
MARKETS = "kalshi_markets"
RELEASES = "event_release"
DISTRIBUTIONS = "distribution_snapshots"
FIRST_PRINT = "outcomes_first_print"
REVISIONS = "outcomes_revisions"
LATEST = "outcomes_latest"
PROMOTIONS = "promotion_decisions"

# The snapshot time column of distribution_snapshots, by preference (read from the catalogue).
SNAPSHOT_TIME_COLUMNS: tuple[str, ...] = ("snapshot_ts", "ts", "as_of", "snapshot_time")
# How promotion decisions are ordered, newest first, by preference.
DECISION_TIME_COLUMNS: tuple[str, ...] = ("decided_at", "decision_time", "as_of", "created_at", "computed_at")


def _empty() -> Rows:
    return [], []


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> Rows:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return names, cursor.fetchall()


def column_names(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of a table or view in catalogue order ([] when it does not exist)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def first_present(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    for name in candidates:
        if name in columns:
            return checked_identifier(name)
    return None


def events(con: duckdb.DuckDBPyConnection, event_type: str | None, limit: int) -> Rows:
    """Events, newest release first, with their release time and ladder size."""
    if not table_exists(con, EVENTS):
        return _empty()
    has_release = table_exists(con, RELEASES) and table_exists(con, MARKETS)
    release = "r.release_time" if has_release else "e.strike_date"
    ladder = (
        "(SELECT count(*) FROM kalshi_markets m WHERE m.event_ticker = e.event_ticker)" if has_release else "NULL"
    )
    join = "LEFT JOIN event_release r ON r.event_ticker = e.event_ticker" if has_release else ""
    sql = (
        "SELECT e.event_ticker, e.series_ticker, e.event_type, e.title, e.sub_title, e.mutually_exclusive, "
        "e.strike_date, " + release + " AS release_time, " + ladder + " AS n_markets "
        "FROM kalshi_events e " + join + " "
        "WHERE (CAST(? AS VARCHAR) IS NULL OR e.event_type = ?) "
        "ORDER BY release_time DESC NULLS LAST, e.event_ticker LIMIT ?"
    )
    return _rows(con, sql, [event_type, event_type, limit])


def markets(con: duckdb.DuckDBPyConnection, event_ticker: str) -> Rows:
    """The ladder of one event, by strike."""
    if not table_exists(con, MARKETS):
        return _empty()
    return _rows(
        con,
        "SELECT * FROM kalshi_markets WHERE event_ticker = ? "
        "ORDER BY floor_strike NULLS FIRST, cap_strike NULLS LAST, market_ticker",
        [event_ticker],
    )


def distributions(
    con: duckdb.DuckDBPyConnection, event_ticker: str, start: datetime | None, end: datetime | None, limit: int
) -> Rows:
    """Snapshots of one event in [start, end), oldest first."""
    columns = column_names(con, DISTRIBUTIONS)
    if not columns or "event_ticker" not in columns:
        return _empty()
    time_column = first_present(columns, SNAPSHOT_TIME_COLUMNS)
    if time_column is None:
        if start is not None or end is not None:
            raise ValueError(f"{DISTRIBUTIONS} has no snapshot time column; cannot filter by start/end")
        return _rows(con, "SELECT * FROM distribution_snapshots WHERE event_ticker = ? LIMIT ?", [event_ticker, limit])
    sql = (
        "SELECT * FROM distribution_snapshots WHERE event_ticker = ? "  # noqa: S608
        "AND (CAST(? AS TIMESTAMP) IS NULL OR " + time_column + " >= ?) "
        "AND (CAST(? AS TIMESTAMP) IS NULL OR " + time_column + " < ?) "
        "ORDER BY " + time_column + " LIMIT ?"
    )  # time_column: a checked identifier read from the catalogue
    return _rows(con, sql, [event_ticker, start, start, end, end, limit])


def outcomes(con: duckdb.DuckDBPyConnection, event_ticker: str, mode: str) -> Rows:
    """first_print: the printed value; latest: the newest vintage; revisions: every vintage in order."""
    if mode == "first_print":
        if not table_exists(con, FIRST_PRINT):
            return _empty()
        return _rows(con, "SELECT * FROM outcomes_first_print WHERE event_ticker = ?", [event_ticker])
    if mode == "latest":
        if not table_exists(con, LATEST):
            return _empty()
        return _rows(con, "SELECT * FROM outcomes_latest WHERE event_ticker = ?", [event_ticker])
    if mode == "revisions":
        if not table_exists(con, REVISIONS):
            return _empty()
        return _rows(
            con,
            "SELECT * FROM outcomes_revisions WHERE event_ticker = ? ORDER BY vintage_time, vintage, source",
            [event_ticker],
        )
    raise ValueError(f"unknown outcome mode {mode!r}")


def promotions(con: duckdb.DuckDBPyConnection, limit: int) -> Rows:
    """Promotion decisions, newest first when the table says when each was taken."""
    columns = column_names(con, PROMOTIONS)
    if not columns:
        return _empty()
    order = first_present(columns, DECISION_TIME_COLUMNS)
    order_clause = " ORDER BY " + order + " DESC" if order else ""  # a checked identifier from the catalogue
    sql = "SELECT * FROM promotion_decisions" + order_clause + " LIMIT ?"  # noqa: S608
    return _rows(con, sql, [limit])


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(name, table|view, rows) for every object of the warehouse; names come from the catalogue."""
    objects = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' "
        "ORDER BY table_type, table_name"
    ).fetchall()
    out = []
    for name, kind in objects:
        quoted = '"' + name.replace('"', '""') + '"'
        rows = con.execute("SELECT count(*) FROM " + quoted).fetchone()[0]  # noqa: S608 - catalogue name, quoted
        out.append((name, "view" if kind == "VIEW" else "table", int(rows)))
    return out


def quote_range(con: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    if not table_exists(con, "kalshi_quotes"):
        return None, None
    return con.execute("SELECT min(ts), max(ts) FROM kalshi_quotes").fetchone()
