"""The rows distribution_snapshots writes for one window: implied distributions of every snapshot of the
grid (analytics.distribution), the grid's own columns and Kalshi's median beside them.

Pure: frames in, frames and a list of problems out (docs/METHODS.md section 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from kalshi_assets.analytics.distribution import DistributionParams, implied_distributions
from kalshi_assets.analytics.snapshot_schema import validate_snapshot_frame


def snapshot_rows(
    grid: pd.DataFrame,
    rungs: pd.DataFrame,
    params: DistributionParams,
    run_id: str,
    *,
    key_columns: Sequence[str],
    grid_columns: Sequence[str],
    snapshot_columns: Sequence[str],
    bin_columns: Sequence[str],
    value_grid_for_series: Callable[[str], float | None],
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(snapshot rows, bin rows, problems) of one window, with the given table columns. `grid` holds one
    row per snapshot (the key columns, series_ticker, grid_columns, kalshi_median and kalshi_median_ts);
    `rungs` its ladders. Problems name every broken schema rule of the computed rows: rows with problems
    must not be written."""
    value_grid = {s: value_grid_for_series(s) for s in grid["series_ticker"].unique()}
    snapshots = grid[list(key_columns)].assign(
        value_grid=grid["series_ticker"].map(value_grid).astype(float)
    )
    result = implied_distributions(rungs, snapshots, key_columns=key_columns, params=params)
    problems = validate_snapshot_frame(result.snapshots, key_columns)
    out = result.snapshots
    for column in grid_columns:
        out[column] = grid[column].to_numpy()  # same row order: snapshots were built from the grid
    # Kalshi's median as of the snapshot, if it is not older than a quote may be.
    age = grid["snapshot_ts"] - grid["kalshi_median_ts"]
    fresh = age.notna() & (age <= pd.Timedelta(hours=params.max_staleness_hours))
    out["kalshi_median"] = grid["kalshi_median"].where(fresh).to_numpy(dtype=float)
    out["kalshi_median_ts"] = grid["kalshi_median_ts"].where(fresh).to_numpy()
    out["median_minus_kalshi"] = out["median"] - out["kalshi_median"]
    out["run_id"] = run_id
    return out[list(snapshot_columns)], result.bins[list(bin_columns)], problems
