"""Event features taken as of a purged time before each release (docs/METHODS.md section 3, docs/ARCHITECTURE.md section 4.5).

For an event released at R, a horizon of h days and its event type's purge window of p days, features
are observed at asof = min(R - h, R - p): never closer to the release than the purge window. Each
feature row takes the latest distribution snapshot at or before asof (an as-of join, never after) and
the change of each implied value since the latest snapshot at or before asof - change_window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from kalshi_assets.settings import purge_window_days

DEFAULT_HORIZONS_DAYS: tuple[int, ...] = (1, 3, 7)
DEFAULT_CHANGE_WINDOW_DAYS = 3.0


def feature_asof(release: datetime | pd.Timestamp, horizon_days: float, purge_days: float) -> pd.Timestamp:
    """The observation time of an event's features: min(release - horizon, release - purge window)."""
    if horizon_days < 0 or purge_days < 0:
        raise ValueError("horizon and purge window must not be negative")
    release_ts = pd.Timestamp(release)
    if pd.isna(release_ts):
        raise ValueError("release time is missing")
    return min(release_ts - pd.Timedelta(days=horizon_days), release_ts - pd.Timedelta(days=purge_days))


def feature_grid(
    events: pd.DataFrame,
    horizons_days: Sequence[int] = DEFAULT_HORIZONS_DAYS,
    purge_windows: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """One row per (event, horizon) with its purge window and as-of time.

    `events` needs event_ticker, event_type and release_time; events without a release time are skipped
    (nothing can be purged against an unknown release).
    """
    missing = {"event_ticker", "event_type", "release_time"} - set(events.columns)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    if not horizons_days or any(h < 0 for h in horizons_days):
        raise ValueError("horizons must be a non-empty list of non-negative days")
    known = events.dropna(subset=["release_time"])
    rows = []
    for event in known.itertuples(index=False):
        purge_days = purge_window_days(str(event.event_type), dict(purge_windows or {}))
        release = pd.Timestamp(event.release_time)
        for horizon in horizons_days:
            rows.append(
                {
                    "event_ticker": event.event_ticker,
                    "event_type": event.event_type,
                    "release_time": release,
                    "horizon_days": int(horizon),
                    "purge_days": int(purge_days),
                    "as_of": feature_asof(release, horizon, purge_days),
                }
            )
    columns = ["event_ticker", "event_type", "release_time", "horizon_days", "purge_days", "as_of"]
    grid = pd.DataFrame(rows, columns=columns)
    grid["release_time"] = pd.to_datetime(grid["release_time"])
    grid["as_of"] = pd.to_datetime(grid["as_of"])
    grid["horizon_days"] = grid["horizon_days"].astype("int64")
    grid["purge_days"] = grid["purge_days"].astype("int64")
    return grid


def _asof_join(left: pd.DataFrame, on: str, snapshots: pd.DataFrame, time_col: str, columns: Sequence[str]) -> pd.DataFrame:
    """Latest snapshot row per event at or before left[on]; `left` keeps its order and length."""
    keyed = left[["event_ticker", on]].copy()
    keyed["_row"] = np.arange(len(keyed))
    keyed = keyed.sort_values(on, kind="mergesort")
    right = snapshots[["event_ticker", time_col, *columns]].sort_values(time_col, kind="mergesort")
    joined = pd.merge_asof(
        keyed,
        right,
        left_on=on,
        right_on=time_col,
        by="event_ticker",
        direction="backward",
        allow_exact_matches=True,
    )
    return joined.sort_values("_row").drop(columns=["_row"]).reset_index(drop=True)


def asof_features(
    grid: pd.DataFrame,
    snapshots: pd.DataFrame,
    value_columns: Sequence[str],
    change_columns: Sequence[str],
    *,
    time_col: str = "snapshot_ts",
    change_window_days: float = DEFAULT_CHANGE_WINDOW_DAYS,
    max_age_hours: float | None = None,
) -> pd.DataFrame:
    """Features per grid row: snapshot values at asof and their changes over the prior window.

    Adds `snapshot_ts` (the snapshot used, NaT when none exists at or before asof), `prior_snapshot_ts`,
    `snapshot_age_hours`, each value column, and `chg_<col>` = value at asof - value at asof - window for
    every change column. Rows without a snapshot stay, with empty values: the caller decides. A snapshot
    older than `max_age_hours` at asof is not used (the row is left empty), nor is a prior snapshot older
    than that at asof - window.
    """
    missing = ({"event_ticker", time_col} | set(value_columns) | set(change_columns)) - set(snapshots.columns)
    if missing:
        raise ValueError(f"snapshots lack columns {sorted(missing)}")
    if not set(change_columns) <= set(value_columns):
        raise ValueError("change columns must be value columns")
    if change_window_days <= 0:
        raise ValueError("change window must be positive")
    # One key dtype on both sides of the as-of join (DuckDB hands back microseconds, pandas nanoseconds).
    snaps = snapshots.copy()
    snaps["event_ticker"] = snaps["event_ticker"].astype(str).astype(object)
    snaps[time_col] = pd.to_datetime(snaps[time_col]).astype("datetime64[ns]")
    snaps = snaps.dropna(subset=[time_col])
    base = grid.reset_index(drop=True).copy()
    base["event_ticker"] = base["event_ticker"].astype(str).astype(object)
    base["as_of"] = pd.to_datetime(base["as_of"]).astype("datetime64[ns]")
    base["_prior_asof"] = base["as_of"] - pd.Timedelta(days=change_window_days)

    now = _asof_join(base, "as_of", snaps, time_col, list(value_columns))
    prior = _asof_join(base, "_prior_asof", snaps, time_col, list(change_columns))

    if max_age_hours is not None:
        limit = pd.Timedelta(hours=max_age_hours)
        stale_now = (base["as_of"] - pd.to_datetime(now[time_col])) > limit
        now.loc[stale_now.to_numpy(), [time_col, *value_columns]] = None
        stale_prior = (base["_prior_asof"] - pd.to_datetime(prior[time_col])) > limit
        prior.loc[stale_prior.to_numpy(), [time_col, *change_columns]] = None

    out = base.drop(columns=["_prior_asof"])
    out["snapshot_ts"] = now[time_col].to_numpy()
    out["prior_snapshot_ts"] = prior[time_col].to_numpy()
    out["snapshot_age_hours"] = (out["as_of"] - out["snapshot_ts"]).dt.total_seconds() / 3600.0
    for col in value_columns:
        out[col] = now[col].to_numpy()
    for col in change_columns:
        current = pd.to_numeric(now[col], errors="coerce").to_numpy(dtype=float)
        previous = pd.to_numeric(prior[col], errors="coerce").to_numpy(dtype=float)
        out[f"chg_{col}"] = current - previous
    return out


def feature_leaks(features: pd.DataFrame) -> pd.DataFrame:
    """Rows observed after their as-of time or closer to the release than their purge window.

    Checks the snapshot used, the prior snapshot and, when present, `observed_until` (every input's time).

    Empty when the features are clean; the asset check on `event_features` blocks on any row here.
    """
    asof = pd.to_datetime(features["as_of"])
    release = pd.to_datetime(features["release_time"])
    purge = pd.to_timedelta(features["purge_days"], unit="D")
    snapshot = pd.to_datetime(features["snapshot_ts"])
    prior = pd.to_datetime(features["prior_snapshot_ts"])
    bad = (
        (snapshot > asof).fillna(False)
        | (prior > asof).fillna(False)
        | (asof > release - purge)
        | (asof > release - pd.to_timedelta(features["horizon_days"], unit="D"))
    )
    if "observed_until" in features.columns:
        bad = bad | (pd.to_datetime(features["observed_until"]) > asof).fillna(False)
    return features.loc[bad]


def complete_feature_table(
    features: pd.DataFrame,
    events: pd.DataFrame,
    activity: pd.DataFrame,
    change_window_days: float,
    computed_at: datetime,
) -> pd.DataFrame:
    """The stored rows: as-of features with the event's series, the ladder's activity, `observed_until`
    (the latest time of any input) and the run's settings; the quote time itself is not kept."""
    table = features.merge(events[["event_ticker", "series_ticker"]], on="event_ticker", how="left").merge(
        activity, on=["event_ticker", "horizon_days"], how="left"
    )
    table["observed_until"] = table[["snapshot_ts", "prior_snapshot_ts", "last_quote_ts"]].max(axis=1)
    table["change_window_days"] = change_window_days
    table["computed_at"] = computed_at
    return table.drop(columns=["last_quote_ts"])


def features_by_event_type(table: pd.DataFrame) -> pd.DataFrame:
    """Per event type: events, rows, rows with a snapshot, purge window and the closest as_of to a release."""
    with_snapshot = table["snapshot_ts"].notna()
    lead_days = (table["release_time"] - table["as_of"]).dt.total_seconds() / 86400
    return (
        table.assign(with_snapshot=with_snapshot, lead_days=lead_days)
        .groupby("event_type")
        .agg(
            events=("event_ticker", "nunique"),
            rows=("event_ticker", "size"),
            rows_with_snapshot=("with_snapshot", "sum"),
            purge_days=("purge_days", "max"),
            min_days_before_release=("lead_days", "min"),
        )
        .reset_index()
    )


def inside_purge_window(table: pd.DataFrame, windows: Mapping[str, int]) -> pd.DataFrame:
    """Feature rows whose as_of is closer to the release than their event type's current purge window."""
    if table.empty:
        return table
    required = pd.to_timedelta(table["event_type"].map(dict(windows)), unit="D")
    return table[(table["release_time"] - table["as_of"]) < required]
