"""analytics/snapshot_rows.py: one window's snapshot and bin rows, with the grid's columns and a fresh
Kalshi median beside each implied median."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kalshi_assets.analytics.distribution import DistributionParams
from kalshi_assets.analytics.snapshot_rows import snapshot_rows
from kalshi_assets.analytics.snapshot_schema import STATUS_EMPTY_LADDER, STATUS_OK
from kalshi_assets.warehouse import distributions as store
from tests.analytics.distribution_ladders import RUNG_DEFAULTS

T0 = pd.Timestamp("2026-10-01 10:00")


def _grid() -> pd.DataFrame:
    return pd.DataFrame({
        "event_ticker": ["KXCPI-26SEP", "KXCPI-26OCT"],
        "snapshot_ts": [T0, T0],
        "series_ticker": ["KXCPI", "KXCPI"],
        "event_type": ["cpi", "cpi"],
        "release_time": [T0 + pd.Timedelta(days=10)] * 2,
        "kalshi_median": [0.25, 0.4],
        "kalshi_median_ts": [T0 - pd.Timedelta(hours=1), T0 - pd.Timedelta(days=3)],  # fresh, stale
    })


def _rungs() -> pd.DataFrame:
    strikes = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    survival = np.array([0.95, 0.85, 0.6, 0.35, 0.15, 0.05])
    return pd.DataFrame({
        "snapshot_id": np.zeros(len(strikes), dtype=np.int64),  # the second snapshot has no ladder
        "strike_type": "greater", "floor_strike": strikes, "cap_strike": np.nan,
        "yes_bid": survival - 0.01, "yes_ask": survival + 0.01, **RUNG_DEFAULTS,
    })


def _rows(run_id: str = "run-1"):
    return snapshot_rows(
        _grid(), _rungs(), DistributionParams(), run_id, key_columns=store.KEY_COLUMNS,
        grid_columns=store.GRID_COLUMNS, snapshot_columns=store.SNAPSHOT_TABLE_COLUMNS,
        bin_columns=store.BIN_TABLE_COLUMNS, value_grid_for_series=lambda series: 0.1,
    )


def test_rows_carry_the_table_columns_in_grid_order_with_no_problems() -> None:
    snapshots, bins, problems = _rows()
    assert problems == []
    assert tuple(snapshots.columns) == store.SNAPSHOT_TABLE_COLUMNS
    assert tuple(bins.columns) == store.BIN_TABLE_COLUMNS
    assert list(snapshots["event_ticker"]) == ["KXCPI-26SEP", "KXCPI-26OCT"]
    assert list(snapshots["status"]) == [STATUS_OK, STATUS_EMPTY_LADDER]
    assert set(bins["event_ticker"]) == {"KXCPI-26SEP"} and len(bins) > 0
    assert (snapshots["run_id"] == "run-1").all() and (snapshots["value_grid"] == 0.1).all()


def test_kalshi_median_is_kept_only_when_fresh() -> None:
    snapshots, _, _ = _rows()
    fresh, stale = snapshots.iloc[0], snapshots.iloc[1]
    assert fresh["kalshi_median"] == 0.25
    assert fresh["median_minus_kalshi"] == fresh["median"] - 0.25
    assert np.isnan(stale["kalshi_median"]) and pd.isna(stale["kalshi_median_ts"])
