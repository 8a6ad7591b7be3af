"""SQL of the distributions stage: the hourly snapshot grid, the quotes and their as-of lookup onto it,
the forecast percentiles, the partition write and the checks.

Every value travels as a parameter; table names are constants of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from kalshi_assets.analytics.snapshot_schema import BIN_COLUMNS, SNAPSHOT_COLUMNS
from kalshi_assets.times import windows
from kalshi_assets.warehouse.db import compose, table_columns
from kalshi_assets.warehouse.writes import replace_window, replace_windows

SNAPSHOTS_TABLE = "distribution_snapshots"
BINS_TABLE = "distribution_snapshot_bins"
PERCENTILES_TABLE = "kalshi_forecast_percentiles"
KEY_COLUMNS: tuple[str, ...] = ("event_ticker", "snapshot_ts")
GRID_COLUMNS: tuple[str, ...] = ("series_ticker", "event_type", "release_time")
KALSHI_COLUMNS: tuple[str, ...] = ("kalshi_median", "kalshi_median_ts", "median_minus_kalshi")
SNAPSHOT_TABLE_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *GRID_COLUMNS, *SNAPSHOT_COLUMNS, *KALSHI_COLUMNS, "run_id")
BIN_TABLE_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *BIN_COLUMNS)
PERCENTILE_COLUMNS: tuple[str, ...] = (
    "event_ticker", "series_ticker", "ts", "percentile", "value", "raw_value", "ingested_at"
)
MEDIAN_PERCENTILE = 5000

# Quotes older than this before a window's first snapshot are not read: a contract whose latest quote
# is older counts as missing rather than stale. The snapshot asset maps one upstream day back.
QUOTE_LOOKBACK = timedelta(hours=24)

# The hourly grid: whole UTC hours from the ladder's first listing up to (not including) the release,
# clipped to the window [start, end). snapshot_id is the row position in (event_ticker, snapshot_ts) order.
_GRID_CTE = """
ev AS (
    SELECT event_ticker, series_ticker, event_type, release_time,
           date_trunc('hour', open_time - INTERVAL 1 MICROSECOND) + INTERVAL 1 HOUR AS first_ts
    FROM event_release
    WHERE open_time IS NOT NULL AND release_time IS NOT NULL
      AND open_time < CAST($end AS TIMESTAMP) AND release_time > CAST($start AS TIMESTAMP)
),
hours AS (
    SELECT event_ticker, series_ticker, event_type, release_time,
           unnest(range(greatest(first_ts, CAST($start AS TIMESTAMP)),
                        least(release_time, CAST($end AS TIMESTAMP)), INTERVAL 1 HOUR)) AS snapshot_ts
    FROM ev
),
grid AS (
    SELECT row_number() OVER (ORDER BY event_ticker, snapshot_ts) - 1 AS snapshot_id,
           event_ticker, series_ticker, event_type, release_time, CAST(snapshot_ts AS TIMESTAMP) AS snapshot_ts
    FROM hours
)
"""

_GRID_SQL = (
    "WITH " + _GRID_CTE + """
SELECT g.snapshot_id, g.event_ticker, g.snapshot_ts, g.series_ticker, g.event_type, g.release_time,
       k.kalshi_median, k.ts AS kalshi_median_ts
FROM grid g
ASOF LEFT JOIN (
    SELECT event_ticker, ts, COALESCE(raw_value, value) AS kalshi_median
    FROM kalshi_forecast_percentiles
    WHERE percentile = $median AND ts >= CAST($lookback_start AS TIMESTAMP) AND ts < CAST($end AS TIMESTAMP)
) k ON k.event_ticker = g.event_ticker AND g.snapshot_ts >= k.ts
ORDER BY g.snapshot_id
"""  # noqa: S608 - constant SQL text, values are parameters
)

# Markets belong to an event by exact event_ticker, nothing else; market_idx orders a ladder by strike.
_MARKET_INDEX_CTE = """
mk AS (
    SELECT row_number() OVER (ORDER BY m.event_ticker, COALESCE(m.floor_strike, m.cap_strike), m.market_ticker) - 1
               AS market_idx,
           m.market_ticker, m.event_ticker, m.strike_type, m.floor_strike, m.cap_strike, m.open_time
    FROM kalshi_markets m
    WHERE m.event_ticker IN (SELECT event_ticker FROM ev)
)
"""

_MARKETS_SQL = (
    "WITH " + _GRID_CTE + "," + _MARKET_INDEX_CTE + """
SELECT market_idx, market_ticker, event_ticker, strike_type, floor_strike, cap_strike, open_time
FROM mk
ORDER BY market_idx
"""  # noqa: S608 - constant SQL text, values are parameters
)

# The quotes the rungs are taken from, market by market in time order (matched on the integer
# market_idx, cheaper than the ticker string).
_QUOTES_SQL = (
    "WITH " + _GRID_CTE + "," + _MARKET_INDEX_CTE + """
SELECT mk.market_idx, epoch_us(k.ts) AS ts_us,
       CAST(k.yes_bid AS DOUBLE) AS yes_bid, CAST(k.yes_ask AS DOUBLE) AS yes_ask,
       CAST(k.last_price AS DOUBLE) AS last_price, CAST(k.open_interest AS DOUBLE) AS open_interest
FROM kalshi_quotes k JOIN mk ON mk.market_ticker = k.market_ticker
WHERE k.ts >= CAST($lookback_start AS TIMESTAMP) AND k.ts < CAST($end AS TIMESTAMP)
ORDER BY mk.market_idx, k.ts
"""  # noqa: S608 - constant SQL text, values are parameters
)


def latest_at_or_before(
    group: np.ndarray, time_us: np.ndarray, at_group: np.ndarray, at_us: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each (at_group, at_us): the position of the row with the same group and the latest time at
    or before it among rows sorted by (group, time_us), and whether there is one: what
    `ASOF LEFT JOIN ... ON group = at_group AND at >= time` answers. Both keys are packed into one
    int64 and looked up with one binary search: DuckDB's ASOF join took twice as long on 2 cores."""
    found = np.zeros(len(at_group), dtype=bool)
    if not len(group) or not len(at_group):
        return np.zeros(len(at_group), dtype=np.int64), found
    base = min(int(time_us.min()), int(at_us.min()))
    span = max(int(time_us.max()), int(at_us.max())) - base
    shift = max(span.bit_length(), 1)
    if int(max(group.max(), at_group.max())) >= 1 << (62 - shift) or int(min(group.min(), at_group.min())) < 0:
        raise ValueError(f"cannot pack {int(group.max()) + 1} groups over {span} us into 62 bits")
    keys = (group.astype(np.int64) << shift) | (time_us.astype(np.int64) - base)
    at_keys = (at_group.astype(np.int64) << shift) | (at_us.astype(np.int64) - base)
    position = np.searchsorted(keys, at_keys, side="right") - 1
    found[position >= 0] = group[position[position >= 0]] == at_group[position >= 0]
    return np.where(found, position, 0), found


def _as_of(values: np.ndarray, position: np.ndarray, found: np.ndarray) -> np.ndarray:
    return np.where(found, values[position], np.nan) if len(values) else np.full(len(found), np.nan)


def _age_hours(at_us: np.ndarray, time_us: np.ndarray, position: np.ndarray, found: np.ndarray) -> np.ndarray:
    """`date_diff('second', time, at) / 3600.0` (whole seconds crossed) where found, else NaN."""
    if not len(time_us):
        return np.full(len(found), np.nan)
    seconds = at_us // 1_000_000 - time_us[position] // 1_000_000
    return np.where(found, seconds / 3600.0, np.nan)


@dataclass(frozen=True)
class SnapshotInputs:
    """`snapshots`: one row per (event, hour) of the window, ordered (row position = snapshot_id), with
    the grid columns and Kalshi's median as of then. `rungs`: one row per (snapshot, market) in the long
    form `analytics.distribution.implied_distributions` takes (snapshot_id, strike fields, quote as of)."""

    snapshots: pd.DataFrame
    rungs: pd.DataFrame


def _window_params(start: datetime, end: datetime) -> dict[str, object]:
    if not start < end:
        raise ValueError(f"empty snapshot window [{start}, {end})")
    return {"start": start, "end": end}


def snapshot_grid(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """The hourly snapshot grid of [start, end) with Kalshi's median as of each snapshot."""
    params = {**_window_params(start, end), "lookback_start": start - QUOTE_LOOKBACK, "median": MEDIAN_PERCENTILE}
    return con.execute(_GRID_SQL, params).df()


def load_snapshot_inputs(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> SnapshotInputs:
    """Grid and as-of rungs of every snapshot in [start, end): for each market listed by a snapshot,
    its latest quote at or before it and, separately, its latest trade (an hour without a trade has
    last_price NULL). Never after the snapshot; quotes older than QUOTE_LOOKBACK before the window
    are not read."""
    window = _window_params(start, end)
    grid = snapshot_grid(con, start, end)
    markets = con.execute(_MARKETS_SQL, window).df()
    quotes = con.execute(_QUOTES_SQL, {**window, "lookback_start": start - QUOTE_LOOKBACK}).fetchnumpy()
    if len(markets) and not np.array_equal(markets["market_idx"].to_numpy(), np.arange(len(markets))):
        raise AssertionError("market_idx must be the row position of the markets frame")
    snapshot_id, idx, at_us = _rung_keys(grid, markets)
    quote_idx, quote_us = np.asarray(quotes["market_idx"], dtype=np.int64), np.asarray(quotes["ts_us"], dtype=np.int64)
    column = {name: _floats(quotes[name]) for name in ("yes_bid", "yes_ask", "last_price", "open_interest")}
    position, found = latest_at_or_before(quote_idx, quote_us, idx, at_us)
    traded = ~np.isnan(column["last_price"])
    trade_position, trade_found = latest_at_or_before(quote_idx[traded], quote_us[traded], idx, at_us)
    # Strike fields ride on a market index (867 markets, millions of rungs): gather, do not join strings.
    strike_type = pd.Categorical(markets["strike_type"].astype(object))
    rungs = pd.DataFrame({
        "snapshot_id": snapshot_id,
        "strike_type": pd.Categorical.from_codes(np.asarray(strike_type.codes)[idx], dtype=strike_type.dtype),
        "floor_strike": markets["floor_strike"].to_numpy(dtype=np.float64, na_value=np.nan)[idx],
        "cap_strike": markets["cap_strike"].to_numpy(dtype=np.float64, na_value=np.nan)[idx],
        "yes_bid": _as_of(column["yes_bid"], position, found),
        "yes_ask": _as_of(column["yes_ask"], position, found),
        "last_price": _as_of(column["last_price"][traded], trade_position, trade_found),
        "quote_age_hours": _age_hours(at_us, quote_us, position, found),
        "last_trade_age_hours": _age_hours(at_us, quote_us[traded], trade_position, trade_found),
        "open_interest": _as_of(column["open_interest"], position, found),
    })
    return SnapshotInputs(snapshots=grid, rungs=rungs)


def _rung_keys(grid: pd.DataFrame, markets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(snapshot_id, market_idx, snapshot time in epoch us) of every market of a snapshot's event listed
    by then (no open_time, or open_time at or before the snapshot), snapshot by snapshot and each
    ladder by strike: an event's markets are one run of market_idx, repeated for each of its hours."""
    bounds = markets.groupby("event_ticker", sort=False)["market_idx"].agg(["min", "max"])
    ladder = bounds.reindex(grid["event_ticker"])
    first = ladder["min"].to_numpy(dtype=np.float64, na_value=0).astype(np.int64)
    count = (ladder["max"].to_numpy(dtype=np.float64, na_value=-1) + 1).astype(np.int64) - first
    rows = np.repeat(np.arange(len(grid)), count)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    idx = first[rows] + step
    at = _microseconds(grid["snapshot_ts"])[rows]
    opened = _microseconds(markets["open_time"])[idx]
    listed = np.isnat(opened) | (opened <= at)
    return grid["snapshot_id"].to_numpy(dtype=np.int64)[rows][listed], idx[listed], at[listed].astype(np.int64)


def _microseconds(times: pd.Series) -> np.ndarray:
    return pd.to_datetime(times).to_numpy(dtype="datetime64[us]")


def _floats(values: np.ndarray) -> np.ndarray:
    """A fetched DOUBLE column as float64 with NULL as NaN (fetchnumpy masks NULLs)."""
    if np.ma.isMaskedArray(values):
        return values.astype(np.float64).filled(np.nan)
    return np.asarray(values, dtype=np.float64)


def events_active_during(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Events whose ladder is listed at some time in [start, end): event_ticker, series_ticker."""
    return con.execute(
        "SELECT event_ticker, series_ticker FROM event_release "
        "WHERE open_time < ? AND release_time > ? ORDER BY event_ticker",
        [end, start],
    ).df()


def _check_columns(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], frame: pd.DataFrame) -> None:
    live = tuple(table_columns(con, table))
    if live != columns:
        raise RuntimeError(f"{table} in the warehouse has columns {live}, this code writes {columns}: "
                           "schema.sql and warehouse/distributions.py disagree")
    if tuple(frame.columns) != columns:
        raise ValueError(f"{table}: frame columns {tuple(frame.columns)} differ from {columns}")


def replace_snapshot_window(
    con: duckdb.DuckDBPyConnection, snapshots: pd.DataFrame, bins: pd.DataFrame, start: datetime, end: datetime
) -> tuple[int, int]:
    """Replace the snapshots and bins of [start, end) in ONE transaction (a replay leaves the same rows;
    a failure leaves the previous ones). Rows outside the window are refused."""
    _check_columns(con, SNAPSHOTS_TABLE, SNAPSHOT_TABLE_COLUMNS, snapshots)
    _check_columns(con, BINS_TABLE, BIN_TABLE_COLUMNS, bins)
    written = replace_windows(con, {BINS_TABLE: bins, SNAPSHOTS_TABLE: snapshots}, "snapshot_ts", start, end)
    return written[SNAPSHOTS_TABLE], written[BINS_TABLE]


def replace_percentile_window(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, start: datetime, end: datetime
) -> int:
    """Replace the forecast percentiles with start <= ts < end by `frame`, in one transaction."""
    return replace_window(con, PERCENTILES_TABLE, frame, "ts", start, end)


# --- reads for metadata and checks ---------------------------------------------------------------


def read_snapshots(con: duckdb.DuckDBPyConnection, run_id: str | None = None, start: datetime | None = None,
                   end: datetime | None = None) -> pd.DataFrame:
    """Rows written by one run (or all rows), taken in [start, end) when given, in the analytics frame's
    column order."""
    sql = compose("SELECT {columns} FROM distribution_snapshots WHERE ($run_id IS NULL OR run_id = $run_id) "
                  "AND ($start IS NULL OR snapshot_ts >= $start) AND ($end IS NULL OR snapshot_ts < $end) "
                  "ORDER BY event_ticker, snapshot_ts", columns=list(SNAPSHOT_TABLE_COLUMNS))
    return con.execute(sql, {"run_id": run_id, "start": start, "end": end}).df()


def snapshot_time_range(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> tuple[datetime, datetime] | None:
    """(first, last) snapshot_ts of one run's rows (or of all rows); None when there are none."""
    first, last = con.execute("SELECT min(snapshot_ts), max(snapshot_ts) FROM distribution_snapshots "
                              "WHERE $run_id IS NULL OR run_id = $run_id", {"run_id": run_id}).fetchone()
    return None if first is None else (first, last)


# Checks over the whole table read it a month of snapshots at a time (a snapshot's key and its bins share
# its snapshot_ts): over the whole table at once, the bin checks alone held about 1 GiB at demo scale 10.
CHECK_WINDOW = timedelta(days=31)


def snapshot_windows(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[tuple[datetime, datetime]]:
    """[start, end) windows of CHECK_WINDOW covering one run's snapshots (or all of them); none if there are none."""
    span = snapshot_time_range(con, run_id)
    return [] if span is None else windows(span[0], span[1] + timedelta(microseconds=1), CHECK_WINDOW)


def quality_low_counts(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> tuple[int, dict[str, int]]:
    """(rows, {status: rows with quality_low}) of one run's rows (or of all rows)."""
    params = {"run_id": run_id}
    rows = con.execute("SELECT count(*) FROM distribution_snapshots WHERE $run_id IS NULL OR run_id = $run_id",
                       params).fetchone()[0]
    low = con.execute("SELECT status, count(*) FROM distribution_snapshots "
                      "WHERE ($run_id IS NULL OR run_id = $run_id) AND quality_low "
                      "GROUP BY status ORDER BY count(*) DESC, status", params).fetchall()
    return rows, {status: int(n) for status, n in low}


def rows_of_run(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return con.execute("SELECT count(*) FROM distribution_snapshots WHERE run_id = ?", [run_id]).fetchone()[0]


BIN_CHECK_NAMES: tuple[str, ...] = ("probability_outside_unit", "survival_increases", "masses_not_summing_to_one",
                                    "ok_without_bins", "bins_of_failed_snapshots")


def bin_checks(con: duckdb.DuckDBPyConnection, run_id: str | None = None, tolerance: float = 1e-6) -> dict[str, int]:
    """Counts of contract breaks in the bins (all zero when sound): probabilities outside [0, 1], a
    survival function that rises, masses that do not sum to 1, ok snapshots without bins and bins of
    snapshots that are not ok."""
    totals = dict.fromkeys(BIN_CHECK_NAMES, 0)
    for start, end in snapshot_windows(con, run_id):
        for name, count in zip(BIN_CHECK_NAMES, _bin_checks_between(con, run_id, tolerance, start, end), strict=True):
            totals[name] += int(count)
    return totals


def _bin_checks_between(con: duckdb.DuckDBPyConnection, run_id: str | None, tolerance: float, start: datetime,
                        end: datetime) -> tuple[int, ...]:
    """bin_checks' counts for the snapshots with start <= snapshot_ts < end."""
    params: dict[str, object] = {"tol": tolerance, "run_id": run_id, "start": start, "end": end}
    return con.execute(
        """
        WITH b AS (
            SELECT b.*, s.status,
                   lag(b.survival_upper) OVER (PARTITION BY b.event_ticker, b.snapshot_ts ORDER BY b.bin_index)
                       AS previous_survival
            FROM distribution_snapshot_bins b
            JOIN distribution_snapshots s USING (event_ticker, snapshot_ts)
            WHERE (CAST($run_id AS VARCHAR) IS NULL OR s.run_id = $run_id)
              AND s.snapshot_ts >= $start AND s.snapshot_ts < $end
              AND b.snapshot_ts >= $start AND b.snapshot_ts < $end
        ),
        per_snapshot AS (
            SELECT event_ticker, snapshot_ts, sum(mass) AS total FROM b GROUP BY ALL
        )
        SELECT
            (SELECT count(*) FROM b WHERE NOT (mass BETWEEN 0 AND 1 AND cdf_upper BETWEEN 0 AND 1
                                               AND survival_upper BETWEEN 0 AND 1))                AS probability_outside_unit,
            (SELECT count(*) FROM b WHERE survival_upper > previous_survival + 1e-9)               AS survival_increases,
            (SELECT count(*) FROM per_snapshot WHERE abs(total - 1) > $tol)                        AS masses_not_summing_to_one,
            (SELECT count(*) FROM distribution_snapshots s
                 WHERE s.status = 'ok' AND (CAST($run_id AS VARCHAR) IS NULL OR s.run_id = $run_id)
                 AND s.snapshot_ts >= $start AND s.snapshot_ts < $end
                 AND NOT EXISTS (SELECT 1 FROM distribution_snapshot_bins x
                                 WHERE x.event_ticker = s.event_ticker AND x.snapshot_ts = s.snapshot_ts)) AS ok_without_bins,
            (SELECT count(*) FROM b WHERE status <> 'ok')                                          AS bins_of_failed_snapshots
        """,
        params,
    ).fetchone()


def snapshot_probability_checks(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> dict[str, int]:
    """Snapshot columns that are probabilities or shares, outside [0, 1]."""
    row = con.execute(
        """
        SELECT count(*) FILTER (WHERE quality_score NOT BETWEEN 0 AND 1 OR coverage_share NOT BETWEEN 0 AND 1
                                OR direction_confidence NOT BETWEEN 0 AND 1
                                OR two_sided_share NOT BETWEEN 0 AND 1 OR tail_mass NOT BETWEEN 0 AND 1
                                OR tail_mass_lower NOT BETWEEN 0 AND 1 OR tail_mass_upper NOT BETWEEN 0 AND 1)
        FROM distribution_snapshots WHERE CAST($run_id AS VARCHAR) IS NULL OR run_id = $run_id
        """,
        {"run_id": run_id},
    ).fetchone()
    return {"share_outside_unit": int(row[0])}


def snapshots_after_release(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> int:
    """Snapshots at or after their event's release (current release time, not the stored copy)."""
    return con.execute(
        """
        SELECT count(*) FROM distribution_snapshots s JOIN event_release r USING (event_ticker)
        WHERE (s.snapshot_ts >= r.release_time OR s.snapshot_ts >= s.release_time)
          AND (CAST($run_id AS VARCHAR) IS NULL OR s.run_id = $run_id)
        """,
        {"run_id": run_id},
    ).fetchone()[0]


def median_error_before_release(
    con: duckdb.DuckDBPyConnection, hours_before: int = 24, run_id: str | None = None
) -> pd.DataFrame:
    """Per settled event: our implied median at the last snapshot at least `hours_before` before the
    release, against the first print (outcomes_first_print, else the settled markets' expiration value,
    which Kalshi sets to the first print)."""
    params: dict[str, object] = {"hours": hours_before, "run_id": run_id}
    return con.execute(
        """
        WITH first_print AS (
            SELECT e.event_ticker,
                   COALESCE(MAX(f.value), MAX(m.expiration_value_num)) AS first_print
            FROM kalshi_events e
            LEFT JOIN outcomes_first_print f ON f.event_ticker = e.event_ticker
            LEFT JOIN kalshi_markets m ON m.event_ticker = e.event_ticker AND m.result IN ('yes', 'no')
            GROUP BY e.event_ticker
        ),
        target AS (
            SELECT s.event_ticker, s.series_ticker, s.event_type, s.snapshot_ts, s.release_time, s.status,
                   s.quality_low, s.median, s.std, s.kalshi_median,
                   row_number() OVER (PARTITION BY s.event_ticker ORDER BY s.snapshot_ts DESC) AS rank
            FROM distribution_snapshots s
            WHERE s.snapshot_ts <= s.release_time - to_hours(CAST($hours AS BIGINT))
              AND (CAST($run_id AS VARCHAR) IS NULL OR s.run_id = $run_id)
        )
        SELECT t.event_ticker, t.series_ticker, t.event_type, t.snapshot_ts, t.release_time, t.status, t.quality_low,
               t.median, t.std, t.kalshi_median, p.first_print, t.median - p.first_print AS median_error
        FROM target t JOIN first_print p USING (event_ticker)
        WHERE t.rank = 1 AND p.first_print IS NOT NULL
              AND t.snapshot_ts > t.release_time - to_hours(CAST($hours AS BIGINT) + 1)
        ORDER BY t.release_time
        """,
        params,
    ).df()
