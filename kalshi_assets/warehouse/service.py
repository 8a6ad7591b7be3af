"""The SQL of the read service (kalshi_assets/service.py): every value goes in as a parameter.

Each read returns (column names, rows) straight from DuckDB. A table another stage has not created yet
reads as no rows, so the service works on a warehouse that holds only part of the pipeline. Column names
are schema.sql's; the one catalogue name spliced (table_counts) goes through db.compose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from kalshi_assets.warehouse.db import compose, table_exists

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



def _empty() -> Rows:
    return [], []


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> Rows:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return names, cursor.fetchall()


_EVENTS_WITH_RELEASE = (
    "SELECT e.event_ticker, e.series_ticker, e.event_type, e.title, e.sub_title, e.mutually_exclusive, "
    "e.strike_date, r.release_time AS release_time, "
    "(SELECT count(*) FROM kalshi_markets m WHERE m.event_ticker = e.event_ticker) AS n_markets "
    "FROM kalshi_events e LEFT JOIN event_release r ON r.event_ticker = e.event_ticker "
    "WHERE (CAST(? AS VARCHAR) IS NULL OR e.event_type = ?) "
    "ORDER BY release_time DESC NULLS LAST, e.event_ticker LIMIT ?"
)
# Before the markets stage has run: the events alone, released at their strike date.
_EVENTS_ALONE = (
    "SELECT e.event_ticker, e.series_ticker, e.event_type, e.title, e.sub_title, e.mutually_exclusive, "
    "e.strike_date, e.strike_date AS release_time, NULL AS n_markets "
    "FROM kalshi_events e "
    "WHERE (CAST(? AS VARCHAR) IS NULL OR e.event_type = ?) "
    "ORDER BY release_time DESC NULLS LAST, e.event_ticker LIMIT ?"
)


def events(con: duckdb.DuckDBPyConnection, event_type: str | None, limit: int) -> Rows:
    """Events, newest release first, with their release time and ladder size."""
    if not table_exists(con, EVENTS):
        return _empty()
    has_release = table_exists(con, RELEASES) and table_exists(con, MARKETS)
    return _rows(con, _EVENTS_WITH_RELEASE if has_release else _EVENTS_ALONE, [event_type, event_type, limit])


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
    if not table_exists(con, DISTRIBUTIONS):
        return _empty()
    return _rows(
        con,
        "SELECT * FROM distribution_snapshots WHERE event_ticker = ? "
        "AND (CAST(? AS TIMESTAMP) IS NULL OR snapshot_ts >= ?) "
        "AND (CAST(? AS TIMESTAMP) IS NULL OR snapshot_ts < ?) "
        "ORDER BY snapshot_ts LIMIT ?",
        [event_ticker, start, start, end, end, limit],
    )


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
    """Promotion decisions, newest first."""
    if not table_exists(con, PROMOTIONS):
        return _empty()
    return _rows(con, "SELECT * FROM promotion_decisions ORDER BY decided_at DESC, candidate LIMIT ?", [limit])


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(name, table|view, rows) for every object of the warehouse; names come from the catalogue."""
    objects = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = current_schema() "
        "ORDER BY table_type, table_name"
    ).fetchall()
    out = []
    for name, kind in objects:
        rows = con.execute(compose("SELECT count(*) FROM {table}", table=name)).fetchone()[0]
        out.append((name, "view" if kind == "VIEW" else "table", int(rows)))
    return out


def quote_range(con: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    """(first, last) hourly quote time in the warehouse; (None, None) before ingestion."""
    if not table_exists(con, "kalshi_quotes"):
        return None, None
    return con.execute("SELECT min(ts), max(ts) FROM kalshi_quotes").fetchone()
