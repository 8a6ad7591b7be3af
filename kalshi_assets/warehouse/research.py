"""SQL of the research stage: inputs of the event features, folds, trades and gates, and their tables.

Every statement is a fixed string; values travel as parameters or through a registered DataFrame
(`research_*` views registered for the length of one query). Each research table is rebuilt whole by its
asset in one transaction.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from kalshi_assets.warehouse import writes
from kalshi_assets.warehouse.db import compose, table_exists
from kalshi_assets.warehouse.writes import registered

FEATURES_TABLE = "event_features"
FOLDS_TABLE = "walkforward_folds"
RESULTS_TABLE = "walkforward_results"
CANDIDATES_TABLE = "walkforward_candidates"
DECISIONS_TABLE = "promotion_decisions"
GATES_TABLE = "promotion_gates"
REGIMES_TABLE = "promotion_regimes"
SCORES_TABLE = "implied_forecast_scores"
RUNG_TABLE = "implied_rung_forecasts"
SPLITS_TABLE = "cpcv_splits"
CPCV_TRADES_TABLE = "cpcv_trades"
PATHS_TABLE = "cpcv_paths"
PBO_TABLE = "promotion_pbo"
PERCENTILE_GAPS_TABLE = "kalshi_percentile_gaps"
BAND_COVERAGE_TABLE = "kalshi_band_coverage"

# distribution_snapshots column -> feature name.
SNAPSHOT_VALUES: dict[str, str] = {
    "mean": "implied_mean",
    "std": "implied_sd",
    "skew": "implied_skew",
    "excess_kurtosis": "implied_excess_kurtosis",
    "q05": "implied_q05",
    "q10": "implied_q10",
    "q25": "implied_q25",
    "median": "implied_median",
    "q75": "implied_q75",
    "q90": "implied_q90",
    "q95": "implied_q95",
}
SNAPSHOT_QUALITY: tuple[str, ...] = (
    "value_grid",
    "quality_score",
    "quality_low",
    "median_spread",
    "two_sided_share",
    "coverage_share",
    "tail_mass",
)


def _naive(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Datetime columns as naive UTC nanoseconds (DuckDB hands back microseconds)."""
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], cache=False).astype("datetime64[ns]")  # see writes.py
    return frame


# --- feature inputs ------------------------------------------------------------------------------


def read_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Events with a known type and release time: event_ticker, series_ticker, event_type, release_time."""
    frame = con.execute(
        "SELECT event_ticker, series_ticker, event_type, release_time FROM event_release "
        "WHERE event_type IS NOT NULL AND release_time IS NOT NULL ORDER BY release_time, event_ticker"
    ).df()
    return _naive(frame, ("release_time",))


_SNAPSHOTS_NEAR_GRID = """
SELECT DISTINCT s.event_ticker, s.snapshot_ts,
       s.mean AS implied_mean, s.std AS implied_sd, s.skew AS implied_skew,
       s.excess_kurtosis AS implied_excess_kurtosis, s.q05 AS implied_q05, s.q10 AS implied_q10,
       s.q25 AS implied_q25, s.median AS implied_median, s.q75 AS implied_q75, s.q90 AS implied_q90,
       s.q95 AS implied_q95, s.value_grid, s.quality_score, s.quality_low, s.median_spread,
       s.two_sided_share, s.coverage_share, s.tail_mass
FROM distribution_snapshots s
JOIN research_grid g
  ON g.event_ticker = s.event_ticker AND s.snapshot_ts <= g.as_of AND s.snapshot_ts > g.lookback_start
WHERE s.status = 'ok' AND s.mean IS NOT NULL AND s.std IS NOT NULL
ORDER BY s.event_ticker, s.snapshot_ts
"""


def read_snapshots_near(con: duckdb.DuckDBPyConnection, grid: pd.DataFrame, lookback_hours: float) -> pd.DataFrame:
    """Snapshots with status ok taken in (as_of - lookback, as_of] of some grid row of their event.

    Only snapshots at or before a row's as_of are read at all; the as-of join (analytics.features) then
    picks per row. Columns: event_ticker, snapshot_ts and the feature names of SNAPSHOT_VALUES and
    SNAPSHOT_QUALITY. Empty when distribution_snapshots does not exist yet.
    """
    columns = ["event_ticker", "snapshot_ts", *SNAPSHOT_VALUES.values(), *SNAPSHOT_QUALITY]
    if grid.empty or not table_exists(con, "distribution_snapshots"):
        return pd.DataFrame(columns=columns)
    keyed = grid[["event_ticker", "as_of"]].copy()
    keyed["lookback_start"] = keyed["as_of"] - pd.Timedelta(hours=lookback_hours)
    with registered(con, keyed, "research_grid"):
        frame = con.execute(_SNAPSHOTS_NEAR_GRID).df()
    return _naive(frame, ("snapshot_ts",))[columns]


_LADDER_ACTIVITY = """
WITH window_quotes AS (
    SELECT g.event_ticker, g.horizon_days, q.market_ticker, q.ts, q.volume, q.open_interest,
           row_number() OVER (PARTITION BY g.event_ticker, g.horizon_days, q.market_ticker ORDER BY q.ts DESC)
               AS recency
    FROM research_grid g
    JOIN kalshi_quotes q ON q.event_ticker = g.event_ticker AND q.ts > g.window_start AND q.ts <= g.as_of
)
SELECT event_ticker, horizon_days,
       SUM(volume) AS ladder_volume,
       SUM(CASE WHEN recency = 1 THEN open_interest END) AS ladder_open_interest,
       MAX(ts) AS last_quote_ts
FROM window_quotes
GROUP BY event_ticker, horizon_days
"""


def read_ladder_activity(con: duckdb.DuckDBPyConnection, grid: pd.DataFrame, window_hours: float) -> pd.DataFrame:
    """Per grid row: contracts traded on the ladder in (as_of - window, as_of], open interest at as_of
    (each market's latest quote in the window) and the latest quote time read (never after as_of)."""
    columns = ["event_ticker", "horizon_days", "ladder_volume", "ladder_open_interest", "last_quote_ts"]
    if grid.empty:
        return pd.DataFrame(columns=columns)
    keyed = grid[["event_ticker", "horizon_days", "as_of"]].copy()
    keyed["window_start"] = keyed["as_of"] - pd.Timedelta(hours=window_hours)
    with registered(con, keyed, "research_grid"):
        frame = con.execute(_LADDER_ACTIVITY).df()
    return _naive(frame, ("last_quote_ts",))[columns]


# --- walk-forward inputs -------------------------------------------------------------------------


def read_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute("SELECT * FROM event_features ORDER BY release_time, event_ticker, horizon_days").df()
    return _naive(frame, ("release_time", "as_of", "snapshot_ts", "prior_snapshot_ts", "observed_until", "computed_at"))


def read_labels(con: duckdb.DuckDBPyConnection, label_mode: str) -> pd.DataFrame:
    """event_ticker, realized_value, label_known_at of one label mode (empty when event_labels is missing)."""
    if not table_exists(con, "event_labels"):
        return pd.DataFrame(columns=["event_ticker", "realized_value", "label_known_at"])
    frame = con.execute(
        "SELECT event_ticker, realized_value, label_known_at FROM event_labels WHERE label_mode = ? "
        "ORDER BY event_ticker",
        [label_mode],
    ).df()
    return _naive(frame, ("label_known_at",))


def read_folds(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute("SELECT * FROM walkforward_folds ORDER BY fold, release_time, event_ticker").df()
    return _naive(frame, ("t0", "t1", "t1_widened", "release_time", "test_start", "test_end", "computed_at"))


_LADDERS_AT = """
WITH window_quotes AS (
    SELECT g.event_ticker, g.horizon_days, g.fresh_after, q.market_ticker, q.ts, q.yes_bid, q.yes_ask,
           q.open_interest,
           SUM(q.volume) OVER (PARTITION BY g.event_ticker, g.horizon_days, q.market_ticker) AS window_volume,
           row_number() OVER (PARTITION BY g.event_ticker, g.horizon_days, q.market_ticker ORDER BY q.ts DESC)
               AS recency
    FROM research_grid g
    JOIN kalshi_quotes q ON q.event_ticker = g.event_ticker AND q.ts > g.window_start AND q.ts <= g.as_of
)
SELECT w.event_ticker, w.horizon_days, w.market_ticker, m.strike_type, m.floor_strike, m.cap_strike,
       w.yes_bid, w.yes_ask, w.window_volume, w.open_interest, w.ts AS quote_ts
FROM window_quotes w
JOIN kalshi_markets m ON m.market_ticker = w.market_ticker
WHERE w.recency = 1 AND w.ts >= w.fresh_after
ORDER BY w.event_ticker, w.horizon_days, m.floor_strike, w.market_ticker
"""


def read_ladders_at(
    con: duckdb.DuckDBPyConnection, grid: pd.DataFrame, window_hours: float, max_staleness_hours: float
) -> pd.DataFrame:
    """Each grid row's ladder as of its as_of: every market's latest quote in (as_of - window, as_of] if it
    is no older than max_staleness, with the contracts traded in the window and open interest.

    Prices stay Decimal (DuckDB DECIMAL). A market without a fresh quote is left out: it cannot be traded.
    """
    columns = [
        "event_ticker", "horizon_days", "market_ticker", "strike_type", "floor_strike", "cap_strike", "yes_bid",
        "yes_ask", "window_volume", "open_interest", "quote_ts",
    ]
    if grid.empty:
        return pd.DataFrame(columns=columns)
    keyed = grid[["event_ticker", "horizon_days", "as_of"]].copy()
    keyed["window_start"] = keyed["as_of"] - pd.Timedelta(hours=window_hours)
    keyed["fresh_after"] = keyed["as_of"] - pd.Timedelta(hours=max_staleness_hours)
    with registered(con, keyed, "research_grid"):
        frame = con.execute(_LADDERS_AT).df()
    return _naive(frame, ("quote_ts",))[columns]


def read_fee_multipliers(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """event_ticker -> its series' taker fee multiplier (1 when Kalshi gives none)."""
    rows = con.execute(
        "SELECT e.event_ticker, COALESCE(s.fee_multiplier, 1.0) FROM kalshi_events e "
        "LEFT JOIN kalshi_series s ON s.series_ticker = e.series_ticker"
    ).fetchall()
    return {event: float(multiplier) for event, multiplier in rows}


def read_traces(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute(
        "SELECT * FROM walkforward_results ORDER BY candidate, release_time, event_ticker, market_ticker"
    ).df()
    return _naive(frame, ("release_time", "as_of", "computed_at"))


def read_candidates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT * FROM walkforward_candidates ORDER BY candidate").df()


def read_splits(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute("SELECT * FROM cpcv_splits ORDER BY split, release_time, event_ticker").df()
    frame["path"] = frame["path"].astype("Int64")
    return _naive(frame, ("t0", "t1", "t1_widened", "release_time", "computed_at"))


def read_cpcv_trades(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute("SELECT * FROM cpcv_trades ORDER BY candidate, split, release_time, market_ticker").df()
    return _naive(frame, ("release_time", "computed_at"))


def read_paths(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT * FROM cpcv_paths ORDER BY candidate, path").df()


def read_test_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """event_ticker and release_time of every event the walk-forward tested: the periods of the PBO matrix."""
    frame = con.execute(
        "SELECT event_ticker, min(release_time) AS release_time FROM walkforward_folds WHERE role = 'test' "
        "GROUP BY event_ticker ORDER BY release_time, event_ticker"
    ).df()
    return _naive(frame, ("release_time",))


def read_decisions_and_gates(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(candidate, promoted) per decision and (candidate, gate, passed) per gate verdict."""
    decisions = con.execute("SELECT candidate, promoted FROM promotion_decisions").df()
    return decisions, con.execute("SELECT candidate, gate, passed FROM promotion_gates").df()


def read_fold_event_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The event types the walk-forward covered: the regimes the stress gate expects."""
    return [row[0] for row in con.execute("SELECT DISTINCT event_type FROM walkforward_folds ORDER BY 1").fetchall()]


_BINS_OF = """
SELECT b.event_ticker, b.snapshot_ts, b.bin_index, b.lower_edge, b.upper_edge, b.support_point, b.mass,
       b.cdf_upper, b.survival_upper, b.is_open_tail
FROM distribution_snapshot_bins b
JOIN research_pairs p ON p.event_ticker = b.event_ticker AND p.snapshot_ts = b.snapshot_ts
ORDER BY b.event_ticker, b.snapshot_ts, b.bin_index
"""


def read_bins_of(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame) -> pd.DataFrame:
    """The bins of the given (event_ticker, snapshot_ts) snapshots."""
    columns = ["event_ticker", "snapshot_ts", "bin_index", "lower_edge", "upper_edge", "support_point", "mass",
               "cdf_upper", "survival_upper", "is_open_tail"]
    if pairs.empty or not table_exists(con, "distribution_snapshot_bins"):
        return pd.DataFrame(columns=columns)
    keyed = pairs[["event_ticker", "snapshot_ts"]].drop_duplicates()
    with registered(con, keyed, "research_pairs"):
        frame = con.execute(_BINS_OF).df()
    return _naive(frame, ("snapshot_ts",))[columns]


# --- writes --------------------------------------------------------------------------------------

RESEARCH_TABLES: tuple[str, ...] = (
    FEATURES_TABLE,
    FOLDS_TABLE,
    RESULTS_TABLE,
    CANDIDATES_TABLE,
    DECISIONS_TABLE,
    GATES_TABLE,
    REGIMES_TABLE,
    SCORES_TABLE,
    RUNG_TABLE,
    SPLITS_TABLE,
    CPCV_TRADES_TABLE,
    PATHS_TABLE,
    PBO_TABLE,
    PERCENTILE_GAPS_TABLE,
    BAND_COVERAGE_TABLE,
)


def replace_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Rebuild research tables whole, all of them or none (one transaction)."""
    for table in frames:
        if table not in RESEARCH_TABLES:
            raise ValueError(f"{table!r} is not a research table")
    return writes.replace_tables(con, frames)


# --- checks --------------------------------------------------------------------------------------

_FEATURES_WITHOUT_SNAPSHOT = """
SELECT f.event_ticker, f.horizon_days, f.snapshot_ts, f.as_of
FROM event_features f
LEFT JOIN distribution_snapshots s ON s.event_ticker = f.event_ticker AND s.snapshot_ts = f.snapshot_ts
WHERE f.snapshot_ts IS NOT NULL AND s.snapshot_ts IS NULL
"""

_FEATURES_PRIOR_WITHOUT_SNAPSHOT = """
SELECT f.event_ticker, f.horizon_days, f.prior_snapshot_ts, f.as_of
FROM event_features f
LEFT JOIN distribution_snapshots s ON s.event_ticker = f.event_ticker AND s.snapshot_ts = f.prior_snapshot_ts
WHERE f.prior_snapshot_ts IS NOT NULL AND s.snapshot_ts IS NULL
"""


def features_without_snapshot(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Feature rows that name a snapshot (current or prior) that distribution_snapshots does not hold."""
    if not table_exists(con, "distribution_snapshots"):
        return con.execute("SELECT event_ticker, horizon_days, snapshot_ts, as_of FROM event_features "
                           "WHERE snapshot_ts IS NOT NULL").df()
    current = con.execute(_FEATURES_WITHOUT_SNAPSHOT).df()
    prior = con.execute(_FEATURES_PRIOR_WITHOUT_SNAPSHOT).df().rename(columns={"prior_snapshot_ts": "snapshot_ts"})
    return pd.concat([current, prior], ignore_index=True)


_TRADES_OFF_TEST = """
SELECT r.candidate, r.fold, r.event_ticker, r.market_ticker
FROM walkforward_results r
LEFT JOIN walkforward_folds f ON f.fold = r.fold AND f.event_ticker = r.event_ticker AND f.role = 'test'
WHERE f.event_ticker IS NULL
"""


def trades_off_test_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Trades on an event that is not in its fold's test block (none may exist)."""
    return con.execute(_TRADES_OFF_TEST).df()


_CPCV_TRADES_OFF_TEST = """
SELECT t.candidate, t.split, t.path, t.event_ticker, t.market_ticker
FROM cpcv_trades t
LEFT JOIN cpcv_splits s
  ON s.split = t.split AND s.event_ticker = t.event_ticker AND s.role = 'test' AND s.path = t.path
WHERE s.event_ticker IS NULL
"""


def cpcv_trades_off_test_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """CPCV trades on an event that is not a test event of their split, or credited to the wrong path."""
    return con.execute(_CPCV_TRADES_OFF_TEST).df()


# --- Kalshi's forecast percentiles against ours ------------------------------------------------------

# Kalshi's percentile (0..10000) -> the distribution_snapshots column of the same quantile.
PERCENTILE_COLUMNS: dict[int, str] = {
    500: "q05", 1000: "q10", 2500: "q25", 5000: "median", 7500: "q75", 9000: "q90", 9500: "q95",
}

# {column}: the snapshot column of the percentile asked for (PERCENTILE_COLUMNS), read alone.
_PERCENTILE_PAIRS = """
WITH ours AS (
    SELECT event_ticker, event_type, snapshot_ts, std AS implied_sd, CAST($percentile AS INTEGER) AS percentile,
           {column} AS ours
    FROM distribution_snapshots
    WHERE status = 'ok' AND {column} IS NOT NULL
)
SELECT o.event_ticker, o.event_type, o.snapshot_ts, o.percentile, o.ours,
       COALESCE(k.raw_value, k.value) AS kalshi, k.ts AS kalshi_ts, o.implied_sd
FROM ours o
ASOF JOIN (SELECT * FROM kalshi_forecast_percentiles WHERE percentile = $percentile) k
  ON k.event_ticker = o.event_ticker AND o.snapshot_ts >= k.ts
WHERE o.snapshot_ts - k.ts <= to_microseconds(CAST($staleness_hours * 3600e6 AS BIGINT))
  AND COALESCE(k.raw_value, k.value) IS NOT NULL
"""
# The percentiles a snapshot reports, each Kalshi percentile it is compared with.
PAIR_PERCENTILES: tuple[int, ...] = tuple(PERCENTILE_COLUMNS)


def read_percentile_pairs(con: duckdb.DuckDBPyConnection, max_staleness_hours: float, percentile: int) -> pd.DataFrame:
    """Every ok snapshot's quantile at `percentile` (one of PAIR_PERCENTILES) beside Kalshi's same percentile
    as of the snapshot (its latest point at or before it, no older than max_staleness_hours): event_ticker,
    event_type, snapshot_ts, percentile, ours, kalshi, kalshi_ts, implied_sd. One percentile at a time: all
    seven at scale 10 are 5.9 million rows, the largest frame of the graph (issue 16). Empty when either table
    is missing."""
    columns = ["event_ticker", "event_type", "snapshot_ts", "percentile", "ours", "kalshi", "kalshi_ts", "implied_sd"]
    if percentile not in PAIR_PERCENTILES:
        raise ValueError(f"snapshots report the percentiles {PAIR_PERCENTILES}, not {percentile}")
    if not (table_exists(con, "distribution_snapshots") and table_exists(con, "kalshi_forecast_percentiles")):
        return pd.DataFrame(columns=columns)
    sql = compose(_PERCENTILE_PAIRS, column=PERCENTILE_COLUMNS[percentile])
    frame = con.execute(sql, {"percentile": percentile, "staleness_hours": max_staleness_hours}).df()
    return _naive(frame, ("snapshot_ts", "kalshi_ts"))[columns]


_BANDS_AT_FEATURES = """
WITH k AS (
    SELECT event_ticker, ts, percentile, COALESCE(raw_value, value) AS v
    FROM kalshi_forecast_percentiles WHERE percentile IN (1000, 9000)
), f AS (
    SELECT f.event_ticker, f.horizon_days, f.event_type, f.snapshot_ts, f.implied_q10, f.implied_q90,
           l.realized_value AS first_print
    FROM event_features f
    JOIN event_labels l ON l.event_ticker = f.event_ticker AND l.label_mode = 'first_print'
    WHERE f.snapshot_ts IS NOT NULL AND f.implied_q10 IS NOT NULL AND f.implied_q90 IS NOT NULL
)
SELECT f.*, k10.v AS kalshi_p10, k10.ts AS kalshi_p10_ts, k90.v AS kalshi_p90, k90.ts AS kalshi_p90_ts
FROM f
ASOF JOIN (SELECT * FROM k WHERE percentile = 1000) k10 ON k10.event_ticker = f.event_ticker AND f.snapshot_ts >= k10.ts
ASOF JOIN (SELECT * FROM k WHERE percentile = 9000) k90 ON k90.event_ticker = f.event_ticker AND f.snapshot_ts >= k90.ts
WHERE f.snapshot_ts - k10.ts <= to_microseconds(CAST(? * 3600e6 AS BIGINT)) AND f.snapshot_ts - k90.ts <= to_microseconds(CAST(? * 3600e6 AS BIGINT))
ORDER BY f.event_ticker, f.horizon_days
"""


def read_bands_at_features(con: duckdb.DuckDBPyConnection, max_staleness_hours: float) -> pd.DataFrame:
    """Per feature row with a snapshot and a first print: our implied q10/q90 and Kalshi's 10th and 90th
    percentiles as of the same snapshot time (no older than max_staleness_hours), and the first print."""
    columns = ["event_ticker", "horizon_days", "event_type", "snapshot_ts", "first_print", "implied_q10",
               "implied_q90", "kalshi_p10", "kalshi_p90"]
    if not (table_exists(con, "kalshi_forecast_percentiles") and table_exists(con, "event_labels")):
        return pd.DataFrame(columns=columns)
    frame = con.execute(_BANDS_AT_FEATURES, [max_staleness_hours, max_staleness_hours]).df()
    return _naive(frame, ("snapshot_ts",))[columns]


# --- demo summary ----------------------------------------------------------------------------------


def demo_report_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Research lines of `kalshi-assets demo`: folds, candidates, promotions and why the rest were not."""
    if not table_exists(con, DECISIONS_TABLE) or not table_exists(con, FOLDS_TABLE):
        return []
    folds, events = con.execute("SELECT count(DISTINCT fold), count(DISTINCT event_ticker) FROM walkforward_folds").fetchone()
    trades = con.execute("SELECT count(*) FROM walkforward_results").fetchone()[0]
    decisions = con.execute(
        "SELECT candidate, promoted, trades, sharpe, dsr, pbo, n_trials, n_trials_effective, cpcv_sharpe_median "
        "FROM promotion_decisions ORDER BY candidate"
    ).df()
    if decisions.empty:
        return [f"\nResearch: {folds} walk-forward folds over {events} events; no promotion decisions yet."]
    failing = con.execute(
        "SELECT regexp_replace(gate, '^stress:.*', 'stress') AS gate, count(DISTINCT candidate) AS n "
        "FROM promotion_gates WHERE NOT passed GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    lines = [
        f"\nResearch: {folds} walk-forward folds over {events} events, {trades} out-of-sample trades.",
        f"  candidates tried: {len(decisions)}, promoted: {int(decisions['promoted'].sum())}",
        f"  deflated Sharpe over {int(decisions['n_trials_effective'].iloc[0])} effective of "
        f"{int(decisions['n_trials'].iloc[0])} trials; PBO "
        + ("undefined" if pd.isna(decisions["pbo"].iloc[0]) else f"{decisions['pbo'].iloc[0]:.2f}"),
    ]
    for row in decisions.itertuples(index=False):
        lines.append(
            f"    {row.candidate}: {'promoted' if row.promoted else 'not promoted'}, {row.trades} trades, "
            f"Sharpe {row.sharpe:.3f}, DSR {row.dsr:.3f}, median CPCV path Sharpe {row.cpcv_sharpe_median:.3f}"
        )
    if failing:
        lines.append("  not promoted because (candidates failing each gate): "
                     + ", ".join(f"{gate} {n}" for gate, n in failing))
    return lines
