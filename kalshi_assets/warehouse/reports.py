"""Reads behind the pictures (quantile fan, calibration curve) and the calibration tables they write.

Tables of other stages that are not there yet read as empty frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from kalshi_assets.analytics.calibration import INPUT_COLUMNS
from kalshi_assets.analytics.snapshot_schema import QUANTILE_COLUMNS
from kalshi_assets.warehouse.db import compose, table_exists

FAN_COLUMNS: tuple[str, ...] = ("event_ticker", "snapshot_ts", "mean", *QUANTILE_COLUMNS)
EVENT_COLUMNS: tuple[str, ...] = (
    "event_ticker", "event_type", "series_ticker", "title", "release_time", "first_print", "n_snapshots"
)

_CALIBRATION_SQL = """
WITH targets AS (
    SELECT m.market_ticker, m.strike_type, m.floor_strike, m.cap_strike, m.result,
           r.event_ticker, r.event_type, r.release_time, h.horizon_hours,
           r.release_time - to_hours(h.horizon_hours) AS as_of
    FROM kalshi_markets m
    JOIN event_release r ON r.event_ticker = m.event_ticker
    CROSS JOIN (SELECT unnest(CAST(? AS INTEGER[])) AS horizon_hours) h
    WHERE r.release_time IS NOT NULL AND r.release_time <= ?
),
trades AS (SELECT market_ticker, ts, last_price FROM kalshi_quotes WHERE last_price IS NOT NULL)
SELECT t.market_ticker, t.horizon_hours, t.as_of, t.strike_type, t.floor_strike, t.cap_strike, t.result,
       t.event_type, f.value AS first_print,
       CAST(q.yes_bid AS DOUBLE) AS yes_bid, CAST(q.yes_ask AS DOUBLE) AS yes_ask, q.ts AS quote_ts,
       CAST(l.last_price AS DOUBLE) AS last_price, l.ts AS trade_ts
FROM targets t
ASOF LEFT JOIN kalshi_quotes q ON q.market_ticker = t.market_ticker AND q.ts <= t.as_of
ASOF LEFT JOIN trades l ON l.market_ticker = t.market_ticker AND l.ts <= t.as_of
LEFT JOIN outcomes_first_print f ON f.event_ticker = t.event_ticker
ORDER BY t.market_ticker, t.horizon_hours
"""


def calibration_inputs(con: duckdb.DuckDBPyConnection, horizons_hours: Sequence[int], now: datetime) -> pd.DataFrame:
    """Per (market, horizon) of every event released by `now`: strike fields, result, first print, and the
    latest quote and trade at or before release - horizon (as-of joins: nothing after it)."""
    needed = ("kalshi_markets", "kalshi_quotes", "event_release", "outcomes_first_print")
    if not all(table_exists(con, t) for t in needed):
        return pd.DataFrame(columns=[*INPUT_COLUMNS, "event_type"])
    return con.execute(_CALIBRATION_SQL, [[int(h) for h in horizons_hours], now]).df()


# Events with at least one ok snapshot with a median, and how many.
_FAN_CANDIDATES = (
    "WITH counts AS (SELECT s.event_ticker, count(*) AS n_snapshots FROM distribution_snapshots s "
    "WHERE s.median IS NOT NULL AND NOT isnan(s.median) AND s.status = 'ok' GROUP BY s.event_ticker) "
    "SELECT r.event_ticker, r.event_type, r.series_ticker, e.title, r.release_time, f.value AS first_print, "
    "c.n_snapshots "
    "FROM event_release r JOIN counts c ON c.event_ticker = r.event_ticker "
    "LEFT JOIN kalshi_events e ON e.event_ticker = r.event_ticker "
    "LEFT JOIN outcomes_first_print f ON f.event_ticker = r.event_ticker "
)
_FAN_NAMED = _FAN_CANDIDATES + "WHERE list_contains(?, r.event_ticker) ORDER BY r.event_type, r.release_time"
_FAN_LATEST = (
    _FAN_CANDIDATES + "WHERE f.value IS NOT NULL AND c.n_snapshots >= ? "
    "QUALIFY row_number() OVER (PARTITION BY r.event_type ORDER BY r.release_time DESC, r.event_ticker) = 1 "
    "ORDER BY r.event_type, r.release_time"
)
_FAN_SNAPSHOTS = compose(
    "SELECT event_ticker, snapshot_ts, mean, {quantiles} "
    "FROM distribution_snapshots WHERE list_contains(?, event_ticker) "
    "AND median IS NOT NULL AND NOT isnan(median) ORDER BY event_ticker, snapshot_ts",
    quantiles=list(QUANTILE_COLUMNS),
)
_FAN_TABLES = ("distribution_snapshots", "event_release", "kalshi_events", "outcomes_first_print")


def fan_events(con: duckdb.DuckDBPyConnection, min_snapshots: int, event_tickers: Sequence[str] | None = None) -> pd.DataFrame:
    """Events worth a fan: the named ones, else the latest released event of each type that has a first
    print and at least `min_snapshots` snapshots with quantiles."""
    if not all(table_exists(con, t) for t in _FAN_TABLES):
        return pd.DataFrame(columns=list(EVENT_COLUMNS))
    if event_tickers:
        return con.execute(_FAN_NAMED, [list(event_tickers)]).df()
    return con.execute(_FAN_LATEST, [int(min_snapshots)]).df()


def fan_snapshots(con: duckdb.DuckDBPyConnection, event_tickers: Sequence[str]) -> pd.DataFrame:
    """Quantiles over time of the given events (snapshots with a median only), oldest first."""
    if not event_tickers or not table_exists(con, "distribution_snapshots"):
        return pd.DataFrame(columns=list(FAN_COLUMNS))
    return con.execute(_FAN_SNAPSHOTS, [list(event_tickers)]).df()
