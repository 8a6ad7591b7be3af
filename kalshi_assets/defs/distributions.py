"""Distributions: market-implied distribution snapshots per event and hour (Kalshi's forecast percentiles,
which they are compared with, are ingested by defs/ingest_percentiles.py).

distribution_snapshots reads the quotes of each event's ladder as of every whole hour from the ladder's
listing to its release (an as-of lookup, warehouse/distributions.py), computes the implied distribution of all snapshots at once
(analytics.distribution, vectorized) and replaces the window's rows. Checks guard the contracts of
docs/METHODS.md section 1: one full schema, probabilities in [0, 1], a non-increasing repaired survival
function, bin masses summing to 1, and no snapshot at or after the event's release.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from kalshi_assets import settings as project_settings
from kalshi_assets.analytics.distribution import DistributionParams
from kalshi_assets.analytics.snapshot_rows import snapshot_rows
from kalshi_assets.analytics.snapshot_schema import SNAPSHOT_COLUMNS, STATUS_OK, validate_snapshot_frame
from kalshi_assets.defs.keys import KALSHI_EVENTS, KALSHI_FORECAST_PERCENTILES, KALSHI_MARKETS, KALSHI_QUOTES
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, partitioned_result
from kalshi_assets.defs.partitions import backfill_policy, daily_partitions, utc_window
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.times import windows
from kalshi_assets.warehouse import distributions as store

GROUP = "distributions"
# Whole months per query and transaction: bounds memory on a long single-run backfill.
CHUNK = timedelta(days=31)
# The snapshot of a window reads quotes up to QUOTE_LOOKBACK (one day) before it: the previous partition.
_PREVIOUS_DAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)
QUALITY_LOW_WARN_SHARE = 0.2


def _params(settings: SettingsResource) -> DistributionParams:
    params = DistributionParams(max_spread=settings.max_spread, max_staleness_hours=settings.max_staleness_hours)
    if timedelta(hours=params.max_staleness_hours) > store.QUOTE_LOOKBACK:
        raise dg.Failure(
            f"max_staleness_hours={params.max_staleness_hours} exceeds the {store.QUOTE_LOOKBACK} of quotes "
            "a snapshot partition reads before its window; lower it in the settings resource"
        )
    return params


def _median_abs(values: pd.Series) -> float:
    """Median absolute value, NaN (without a warning) when nothing is known."""
    known = values.dropna()
    return float(known.abs().median()) if len(known) else float("nan")


def _summary_metadata(frames: list[pd.DataFrame]) -> dict[str, Any]:
    """Share of quality_low, status counts and the gap to Kalshi's median, over the rows written."""
    if not frames:
        return {"quality_low_share": dg.MetadataValue.float(0.0)}
    rows = pd.concat(frames, ignore_index=True)
    by_type = rows.groupby(rows["event_type"].fillna("unknown")).agg(
        snapshots=("status", "size"),
        ok_share=("status", lambda s: float((s == STATUS_OK).mean())),
        quality_low_share=("quality_low", "mean"),
        median_abs_gap_vs_kalshi=("median_minus_kalshi", _median_abs),
    ).reset_index()
    return {
        "quality_low_share": dg.MetadataValue.float(float(rows["quality_low"].mean())),
        "status_counts": dg.MetadataValue.json({k: int(v) for k, v in rows["status"].value_counts().items()}),
        "snapshots_with_kalshi_median": dg.MetadataValue.int(int(rows["kalshi_median"].notna().sum())),
        "by_event_type": dg.MetadataValue.md(markdown_table(by_type.round(4), max_rows=20)),
    }


def _first_print_metadata(errors: pd.DataFrame) -> dict[str, Any]:
    """Median |implied median - first print| one day before release, per series (in its own units), and
    over all events in units of the implied standard deviation."""
    if errors.empty:
        return {"events_scored_1d_before_release": dg.MetadataValue.int(0)}
    series = errors["series_ticker"]
    per_type = errors.assign(series=series).groupby("series").agg(
        events=("event_ticker", "size"),
        median_abs_error=("median_error", _median_abs),
        median_abs_error_kalshi=("kalshi_error", _median_abs),
    ).reset_index()
    return {
        "events_scored_1d_before_release": dg.MetadataValue.int(len(errors)),
        "median_error_1d_before_release": dg.MetadataValue.json(
            {row.series: round(row.median_abs_error, 6) for row in per_type.itertuples()}
        ),
        "median_error_1d_before_release_in_sd": dg.MetadataValue.float(
            float((errors["median_error"].abs() / errors["std"]).median())
        ),
        "median_error_1d_before_release_table": dg.MetadataValue.md(markdown_table(per_type.round(6), max_rows=20)),
    }


@dg.asset(
    group_name=GROUP,
    deps=[
        KALSHI_EVENTS,
        KALSHI_MARKETS,
        dg.AssetDep(KALSHI_QUOTES, partition_mapping=_PREVIOUS_DAY),
        dg.AssetDep(KALSHI_FORECAST_PERCENTILES, partition_mapping=_PREVIOUS_DAY),
    ],
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def distribution_snapshots(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The market-implied distribution of every event at every whole hour from its ladder's listing to
    its release: one row per (event, hour) with the full column set on every path (docs/METHODS.md section 1),
    plus its bins (distribution_snapshot_bins) and the gap to Kalshi's own median."""
    start, end = utc_window(context)
    params = _params(settings)
    written = bins_written = 0
    summaries: list[pd.DataFrame] = []
    with warehouse.connect() as con:
        for chunk_start, chunk_end in windows(start, end, CHUNK):
            inputs = store.load_snapshot_inputs(con, chunk_start, chunk_end)
            snapshots, bins, problems = snapshot_rows(
                inputs.snapshots, inputs.rungs, params, context.run_id, key_columns=store.KEY_COLUMNS,
                grid_columns=store.GRID_COLUMNS, snapshot_columns=store.SNAPSHOT_TABLE_COLUMNS,
                bin_columns=store.BIN_TABLE_COLUMNS, value_grid_for_series=project_settings.value_grid_for_series)
            if problems:
                raise dg.Failure("implied distributions broke their schema; nothing was written:\n" + "\n".join(problems))
            n, m = store.replace_snapshot_window(con, snapshots, bins, chunk_start, chunk_end)
            written, bins_written = written + n, bins_written + m
            summaries.append(snapshots[["event_type", "status", "quality_low", "median_minus_kalshi", "kalshi_median"]])
        errors = store.median_error_before_release(con, hours_before=24, run_id=context.run_id)
        errors["kalshi_error"] = errors["kalshi_median"] - errors["first_print"]
        context.log.info(f"distribution_snapshots: {written} snapshots, {bins_written} bins, "
                         f"{start:%Y-%m-%d}..{end:%Y-%m-%d}")
        return partitioned_result(
            context, con, store.SNAPSHOTS_TABLE, "snapshot_ts", written, order_by="snapshot_ts",
            bins_written=dg.MetadataValue.int(bins_written), **_summary_metadata(summaries),
            **_first_print_metadata(errors),
        )


# ----------------------------------------------------------------------------------- checks


def _scope(con: duckdb.DuckDBPyConnection, context: dg.AssetCheckExecutionContext) -> str | None:
    """Check the rows this run wrote; a check run on its own (or invoked directly) checks the whole table."""
    try:
        run_id = context.run.run_id
    except dg.DagsterError:  # DagsterInvalidPropertyError (not public): a context built without a run
        return None
    return run_id if store.rows_of_run(con, run_id) else None


@dg.asset_check(
    asset=distribution_snapshots,
    blocking=True,
    description="Every snapshot row has the full column set and types, and its invariants hold "
    "(no moments without status ok, quality 0 and quality_low on every early exit).",
)
def distribution_snapshots_full_schema(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    problems, checked = [], 0
    with warehouse.connect(read_only=True) as con:
        scope = _scope(con, context)
        # A month of rows at a time (a key never spans two: snapshot_ts is part of it), so memory follows a
        # month, not the table (the whole table was the largest frame of the graph at scale 10, issue 16).
        for start, end in store.snapshot_windows(con, scope):
            rows = store.read_snapshots(con, scope, start, end)
            checked += len(rows)
            problems += [f"{start:%Y-%m-%d}..{end:%Y-%m-%d}: {problem}" for problem in
                         validate_snapshot_frame(rows[[*store.KEY_COLUMNS, *SNAPSHOT_COLUMNS]], store.KEY_COLUMNS)]
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows_checked": checked, "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems)
                                                                          or "_none_")},
    )


# Three checks, one pass over the bins: `store.bin_checks` counts every bin contract at once, and the bins are the
# largest table the checks read (running it once per check tripled the partitioned run's check time, issue 16).
# Each check keeps its own name, verdict and metadata in the UI, and any one of them can be run alone.
BIN_CHECK_SPECS = (
    dg.AssetCheckSpec("distribution_probabilities_in_unit_interval", asset=distribution_snapshots, blocking=True,
                      description="Bin masses, CDF and survival values, shares and quality scores lie in [0, 1]."),
    dg.AssetCheckSpec("distribution_survival_non_increasing", asset=distribution_snapshots, blocking=True,
                      description="The repaired survival function of every snapshot is non-increasing."),
    dg.AssetCheckSpec("distribution_masses_sum_to_one", asset=distribution_snapshots, blocking=True,
                      description="Bin masses of every ok snapshot sum to 1 (1e-6); failed snapshots have no bins."),
)


@dg.multi_asset_check(specs=BIN_CHECK_SPECS, can_subset=True, name="distribution_bin_checks")
def distribution_bin_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    selected = {key.name for key in context.selected_asset_check_keys}
    with warehouse.connect(read_only=True) as con:
        scope = _scope(con, context)
        counts = store.bin_checks(con, scope)
        shares = store.snapshot_probability_checks(con, scope) if BIN_CHECK_SPECS[0].name in selected else {}
    outside = {**shares, "bin_probability_outside_unit": counts.pop("probability_outside_unit")}
    increases = {"survival_increases": counts.pop("survival_increases")}
    for spec, found in zip(BIN_CHECK_SPECS, (outside, increases, counts), strict=True):
        if spec.name in selected:
            yield dg.AssetCheckResult(check_name=spec.name, asset_key=distribution_snapshots.key,
                                      passed=not any(found.values()), metadata=found)


@dg.asset_check(asset=distribution_snapshots, blocking=True,
                description="No snapshot at or after its event's release (as-of joins only).")
def distribution_no_snapshot_after_release(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        late = store.snapshots_after_release(con, _scope(con, context))
    return dg.AssetCheckResult(passed=late == 0, metadata={"snapshots_at_or_after_release": late})


@dg.asset_check(asset=distribution_snapshots, blocking=False,
                description=f"Snapshots with quality_low stay a minority (warns above {QUALITY_LOW_WARN_SHARE:.0%}).")
def distribution_quality_low_is_rare(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        rows, low_by_status = store.quality_low_counts(con, _scope(con, context))
    share = sum(low_by_status.values()) / rows if rows else 0.0
    return dg.AssetCheckResult(
        passed=share <= QUALITY_LOW_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quality_low_share": dg.MetadataValue.float(share), "rows": rows,
                  "reasons": dg.MetadataValue.json(low_by_status)},
    )


defs = dg.Definitions(
    assets=[distribution_snapshots],
    asset_checks=[
        distribution_snapshots_full_schema,
        distribution_bin_checks,
        distribution_no_snapshot_after_release,
        distribution_quality_low_is_rare,
    ],
)
