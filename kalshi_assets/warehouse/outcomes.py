"""SQL of the outcomes stage: first prints (insert if absent), source reports (column-named upsert where
a NULL never erases a known value), revisions (append-only, idempotent on replay), labels and reads.

Every statement is a fixed string; values travel as parameters or through a registered DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from kalshi_assets.warehouse.db import table_exists
from kalshi_assets.warehouse.writes import atomically, registered, replace_all

FIRST_PRINT_INPUT = ("event_ticker", "series_ticker", "reference_period", "value", "release_time", "source")
REPORT_INPUT = ("event_ticker", "source", "value", "release_time", "settlement_ts")
REVISION_INPUT = (
    "event_ticker",
    "vintage_time",
    "source",
    "series_ticker",
    "reference_period",
    "vintage",
    "value",
)

# MERGE rather than INSERT ... ON CONFLICT: the same statements run on the DuckDB file and on the lake,
# which has no primary keys (writes.atomically holds the table's lock there).
_INSERT_FIRST_PRINTS = """
MERGE INTO outcomes_first_print USING (
    SELECT event_ticker, series_ticker, reference_period, value, release_time, source,
           CAST(? AS TIMESTAMP) AS recorded_at, first_print_hash(event_ticker, value, release_time, source) AS row_hash
    FROM incoming_first_prints
) AS incoming ON outcomes_first_print.event_ticker = incoming.event_ticker
WHEN NOT MATCHED THEN INSERT
    (event_ticker, series_ticker, reference_period, value, release_time, source, recorded_at, row_hash)
    VALUES (incoming.event_ticker, incoming.series_ticker, incoming.reference_period, incoming.value,
            incoming.release_time, incoming.source, incoming.recorded_at, incoming.row_hash)
"""

# Column-named upsert: each field is replaced only by a non-NULL incoming value; first_seen_at stays.
_UPSERT_REPORTS = """
MERGE INTO outcomes_first_print_reports USING (
    SELECT event_ticker, source, value, release_time, settlement_ts, CAST(? AS TIMESTAMP) AS seen_at
    FROM incoming_reports
) AS incoming ON outcomes_first_print_reports.event_ticker = incoming.event_ticker
    AND outcomes_first_print_reports.source = incoming.source
WHEN MATCHED THEN UPDATE SET
    value         = COALESCE(incoming.value, outcomes_first_print_reports.value),
    release_time  = COALESCE(incoming.release_time, outcomes_first_print_reports.release_time),
    settlement_ts = COALESCE(incoming.settlement_ts, outcomes_first_print_reports.settlement_ts),
    last_seen_at  = incoming.seen_at
WHEN NOT MATCHED THEN INSERT
    (event_ticker, source, value, release_time, settlement_ts, first_seen_at, last_seen_at)
    VALUES (incoming.event_ticker, incoming.source, incoming.value, incoming.release_time, incoming.settlement_ts,
            incoming.seen_at, incoming.seen_at)
"""

# Each vintage is sealed at insert: row_hash over its printed fields (the revision_hash macro).
_APPEND_REVISIONS = """
MERGE INTO outcomes_revisions USING (
    SELECT event_ticker, vintage_time, source, series_ticker, reference_period, vintage, value,
           CAST(? AS TIMESTAMP) AS recorded_at, revision_hash(event_ticker, vintage_time, source, vintage, value) AS row_hash
    FROM incoming_revisions
) AS incoming ON outcomes_revisions.event_ticker = incoming.event_ticker
    AND outcomes_revisions.vintage_time = incoming.vintage_time AND outcomes_revisions.source = incoming.source
WHEN NOT MATCHED THEN INSERT
    (event_ticker, vintage_time, source, series_ticker, reference_period, vintage, value, recorded_at, row_hash)
    VALUES (incoming.event_ticker, incoming.vintage_time, incoming.source, incoming.series_ticker,
            incoming.reference_period, incoming.vintage, incoming.value, incoming.recorded_at, incoming.row_hash)
"""


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    return int(con.execute(sql, list(params)).fetchone()[0])


def _prepared(
    frame: pd.DataFrame, columns: Sequence[str], keys: Sequence[str], required: Sequence[str], what: str
) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: incoming rows lack columns {missing}")
    out = frame[list(columns)].copy()
    null_required = [c for c in required if out[c].isna().any()]
    if null_required:
        raise ValueError(f"{what}: NULL in required columns {null_required}; nothing was written")
    for column in out.columns:
        if column.endswith(("_time", "_ts")):
            out[column] = pd.to_datetime(out[column], utc=True).dt.tz_localize(None)
        elif column == "reference_period":
            out[column] = pd.to_datetime(out[column]).dt.date
    return out.drop_duplicates(subset=list(keys), keep="first")


# --- writes -------------------------------------------------------------------------------------


def insert_first_prints(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, recorded_at: datetime) -> int:
    """Insert first prints of events that have none; an event's stored row is never touched.

    Within `frame` the first row per event wins (callers order candidates by source precedence).
    Returns the number of rows inserted.
    """
    if frame.empty:
        return 0
    rows = _prepared(
        frame,
        FIRST_PRINT_INPUT,
        ["event_ticker"],
        ["event_ticker", "value", "release_time", "source"],
        "outcomes_first_print",
    )
    def work() -> int:
        with registered(con, rows, "incoming_first_prints"):
            before = _count(con, "SELECT count(*) FROM outcomes_first_print")
            con.execute(_INSERT_FIRST_PRINTS, [recorded_at])
            return _count(con, "SELECT count(*) FROM outcomes_first_print") - before

    return atomically(con, ["outcomes_first_print"], work)


def upsert_first_print_reports(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, seen_at: datetime) -> int:
    """Record what each source reported as a first print (one row per event and source).

    Names its columns and keeps known values: a NULL in an incoming row never erases a stored field.
    """
    if frame.empty:
        return 0
    rows = _prepared(
        frame,
        REPORT_INPUT,
        ["event_ticker", "source"],
        ["event_ticker", "source"],
        "outcomes_first_print_reports",
    )
    def work() -> int:
        with registered(con, rows, "incoming_reports"):
            con.execute(_UPSERT_REPORTS, [seen_at])
        return len(rows)

    return atomically(con, ["outcomes_first_print_reports"], work)


def append_revisions(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, recorded_at: datetime) -> int:
    """Append vintages not stored yet ((event, vintage_time, source) is the key). Returns rows added."""
    if frame.empty:
        return 0
    keys = ["event_ticker", "vintage_time", "source"]
    rows = _prepared(frame, REVISION_INPUT, keys, [*keys, "vintage", "value"], "outcomes_revisions")
    rows["vintage"] = rows["vintage"].astype("int64")
    def work() -> int:
        with registered(con, rows, "incoming_revisions"):
            before = _count(con, "SELECT count(*) FROM outcomes_revisions")
            con.execute(_APPEND_REVISIONS, [recorded_at])
            return _count(con, "SELECT count(*) FROM outcomes_revisions") - before

    return atomically(con, ["outcomes_revisions"], work)


def replace_event_labels(con: duckdb.DuckDBPyConnection, labels: pd.DataFrame) -> int:
    """Labels are derived from the tables above: each materialization replaces them whole, atomically."""
    return replace_all(con, "event_labels", labels)


# --- reads --------------------------------------------------------------------------------------


def read_first_prints(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT event_ticker, series_ticker, reference_period, value, release_time, source, recorded_at, row_hash "
        "FROM outcomes_first_print ORDER BY event_ticker"
    ).df()


def read_revisions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every vintage, ordered by event, time and vintage number (an integer: 10 sorts after 9)."""
    return con.execute(
        "SELECT event_ticker, vintage_time, vintage, value, source, series_ticker, reference_period, recorded_at "
        "FROM outcomes_revisions ORDER BY event_ticker, vintage_time, vintage, source"
    ).df()


def read_latest(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT event_ticker, value, vintage_time, vintage, source FROM outcomes_latest ORDER BY event_ticker"
    ).df()


def read_conflicts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT event_ticker, source, reported_value, stored_value, stored_source, first_seen_at, last_seen_at "
        "FROM outcomes_first_print_conflicts ORDER BY event_ticker, source"
    ).df()


def read_reports(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT event_ticker, source, value, release_time, settlement_ts, first_seen_at, last_seen_at "
        "FROM outcomes_first_print_reports ORDER BY event_ticker, source"
    ).df()


def read_event_labels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT event_ticker, label_mode, as_of, realized_value, label_known_at, source, vintage, "
        "implied_snapshot_ts, implied_mean, implied_sd, surprise, surprise_z "
        "FROM event_labels ORDER BY event_ticker, label_mode"
    ).df()


def read_event_releases(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """event_ticker, series_ticker, release_time of every ingested event (empty before ingestion)."""
    if not table_exists(con, "event_release"):
        return pd.DataFrame(columns=["event_ticker", "series_ticker", "release_time"])
    return con.execute(
        "SELECT event_ticker, series_ticker, release_time FROM event_release ORDER BY event_ticker"
    ).df()


def read_settled_markets(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Kalshi's settlement fields per market: the kalshi first-print source."""
    if not table_exists(con, "kalshi_markets"):
        return pd.DataFrame(columns=["event_ticker", "result", "expiration_value_num", "settlement_ts"])
    return con.execute(
        "SELECT event_ticker, result, expiration_value, expiration_value_num, settlement_ts FROM kalshi_markets "
        "WHERE result IS NOT NULL AND result <> '' ORDER BY event_ticker, market_ticker"
    ).df()


def read_implied_snapshots(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """event_ticker, snapshot_ts, implied_mean, implied_sd from distribution_snapshots (ok rows with a
    mean), or an empty frame before the distributions stage has created that table."""
    if not table_exists(con, "distribution_snapshots"):
        return pd.DataFrame(columns=["event_ticker", "snapshot_ts", "implied_mean", "implied_sd"])
    return con.execute(
        "SELECT event_ticker, snapshot_ts, mean AS implied_mean, std AS implied_sd FROM distribution_snapshots "
        "WHERE mean IS NOT NULL AND status = 'ok' ORDER BY event_ticker, snapshot_ts"
    ).df()


# --- checks -------------------------------------------------------------------------------------


def first_print_rows_altered(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """First prints whose printed fields no longer hash to what was stored at insert time."""
    return con.execute(
        "SELECT event_ticker, value, release_time, source, recorded_at FROM outcomes_first_print "
        "WHERE first_print_hash(event_ticker, value, release_time, source) <> row_hash ORDER BY event_ticker"
    ).df()


def first_print_fingerprint(
    con: duckdb.DuckDBPyConnection, recorded_through: datetime | None = None
) -> tuple[int, str]:
    """(rows, md5 over every row's current printed fields) for rows recorded at or before
    `recorded_through` (all rows when None). Equal fingerprints mean the same rows, unchanged."""
    row = con.execute(
        "SELECT count(*), md5(COALESCE(string_agg(first_print_hash(event_ticker, value, release_time, source) "
        "|| '@' || "
        "strftime(recorded_at, '%Y-%m-%dT%H:%M:%S.%f'), ',' ORDER BY event_ticker), '')) "
        "FROM outcomes_first_print WHERE CAST(? AS TIMESTAMP) IS NULL OR recorded_at <= CAST(? AS TIMESTAMP)",
        [recorded_through, recorded_through],
    ).fetchone()
    return int(row[0]), str(row[1])


def last_recorded_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    value = con.execute("SELECT max(recorded_at) FROM outcomes_first_print").fetchone()[0]
    return value


def revision_rows_altered(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Vintages whose printed fields no longer hash to what was stored at insert time."""
    return con.execute(
        "SELECT event_ticker, vintage_time, source, vintage, value, recorded_at FROM outcomes_revisions "
        "WHERE revision_hash(event_ticker, vintage_time, source, vintage, value) <> row_hash "
        "ORDER BY event_ticker, vintage_time, source"
    ).df()


def revision_fingerprint(con: duckdb.DuckDBPyConnection, recorded_through: datetime | None = None) -> tuple[int, str]:
    """(rows, md5 over every vintage's current printed fields) for vintages recorded at or before
    `recorded_through` (all when None): equal fingerprints mean the same vintages, unchanged and none gone."""
    row = con.execute(
        "SELECT count(*), md5(COALESCE(string_agg(revision_hash(event_ticker, vintage_time, source, vintage, value) "
        "|| '@' || strftime(recorded_at, '%Y-%m-%dT%H:%M:%S.%f'), ',' "
        "ORDER BY event_ticker, vintage_time, source), '')) "
        "FROM outcomes_revisions WHERE CAST(? AS TIMESTAMP) IS NULL OR recorded_at <= CAST(? AS TIMESTAMP)",
        [recorded_through, recorded_through],
    ).fetchone()
    return int(row[0]), str(row[1])


def last_revision_recorded_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    return con.execute("SELECT max(recorded_at) FROM outcomes_revisions").fetchone()[0]
