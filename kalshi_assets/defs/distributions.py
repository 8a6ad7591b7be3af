"""Distributions: Kalshi's forecast percentiles, and market-implied distribution snapshots per event and hour.

distribution_snapshots reads the quotes of each event's ladder as of every whole hour from the ladder's
listing to its release (DuckDB ASOF JOIN), computes the implied distribution of all snapshots at once
(analytics.distribution, vectorized) and replaces the window's rows. Checks guard the contracts of
docs/METHODS.md section 1: one full schema, probabilities in [0, 1], a non-increasing repaired survival
function, bin masses summing to 1, and no snapshot at or after the event's release.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.errors import DagsterInvalidPropertyError  # not re-exported at the top level

from kalshi_assets import settings as project_settings
from kalshi_assets.analytics.distribution import DistributionParams, implied_distributions
from kalshi_assets.analytics.snapshot_schema import SNAPSHOT_COLUMNS, STATUS_OK, validate_snapshot_frame
from kalshi_assets.defs.ingest import (
    backfill_policy,
    daily_partitions,
    kalshi_events,
    kalshi_markets,
    kalshi_quotes,
)
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, partition_row_counts, table_metadata
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from kalshi_assets.kalshi import parse
from kalshi_assets.kalshi.source import MarketDataSource
from kalshi_assets.warehouse import distributions as store

GROUP = "distributions"
# Percentiles asked of Kalshi (at most 10 per call): the quantiles the snapshots report.
FORECAST_PERCENTILES: tuple[int, ...] = (500, 1000, 2500, 5000, 7500, 9000, 9500)
# Whole months per query and transaction: bounds memory on a long single-run backfill.
CHUNK = timedelta(days=31)
# The snapshot of a window reads quotes up to QUOTE_LOOKBACK (one day) before it: the previous partition.
_PREVIOUS_DAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)
QUALITY_LOW_WARN_SHARE = 0.2


def _window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    return window.start.astimezone(UTC).replace(tzinfo=None), window.end.astimezone(UTC).replace(tzinfo=None)


def _chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    while start < end:
        out.append((start, min(start + CHUNK, end)))
        start += CHUNK
    return out


def _fetch_percentiles(
    source: MarketDataSource, events: pd.DataFrame, start: datetime, end: datetime
) -> pd.DataFrame:
    """Kalshi's hourly forecast percentiles of each event for ts in [start, end)."""
    start_ts = int(start.replace(tzinfo=UTC).timestamp())
    end_ts = int(end.replace(tzinfo=UTC).timestamp())
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    rows: list[dict[str, Any]] = []
    for event in events.itertuples(index=False):
        # The API's start is exclusive and its end inclusive: (start - 1 s, end - 1 s] keeps each point in
        # exactly one daily partition, like the candles.
        points = source.forecast_percentile_history(
            event.series_ticker, event.event_ticker, list(FORECAST_PERCENTILES), start_ts - 1, end_ts - 1, 60
        )
        for point in points:
            if point.get("event_ticker") != event.event_ticker:
                raise parse.WireFormatError(
                    f"forecast history for {event.event_ticker} returned a point of {point.get('event_ticker')!r}"
                )
            rows.extend(parse.parse_forecast_percentiles(point, event.series_ticker))
    frame = pd.DataFrame(rows, columns=[c for c in store.PERCENTILE_COLUMNS if c != "ingested_at"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None)
    frame["ingested_at"] = ingested_at
    inside = (frame["ts"] >= pd.Timestamp(start)) & (frame["ts"] < pd.Timestamp(end))
    return frame[inside].drop_duplicates(["event_ticker", "ts", "percentile"], keep="last").reset_index(drop=True)


@dg.asset(
    group_name="ingest",
    deps=[kalshi_events, kalshi_markets],
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def kalshi_forecast_percentiles(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.MaterializeResult:
    """Kalshi's own hourly forecast percentiles (5th..95th) of every event listed in the window: the
    reference the implied medians are compared with. The demo exchange serves them from its latent
    distribution."""
    start, end = _window(context)
    source = market_data.get_source()
    total = 0
    with warehouse.connect() as con:
        for chunk_start, chunk_end in _chunks(start, end):
            events = store.events_active_during(con, chunk_start, chunk_end)
            frame = _fetch_percentiles(source, events, chunk_start, chunk_end)
            total += store.replace_percentile_window(con, frame, chunk_start, chunk_end)
        context.log.info(f"kalshi_forecast_percentiles: {total} points from {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        partition_row_counts(context, con, store.PERCENTILES_TABLE, "ts")
        return dg.MaterializeResult(metadata=table_metadata(con, store.PERCENTILES_TABLE, total, order_by="ts"))


def _params(settings: SettingsResource) -> DistributionParams:
    params = DistributionParams(max_spread=settings.max_spread, max_staleness_hours=settings.max_staleness_hours)
    if timedelta(hours=params.max_staleness_hours) > store.QUOTE_LOOKBACK:
        raise dg.Failure(
            f"max_staleness_hours={params.max_staleness_hours} exceeds the {store.QUOTE_LOOKBACK} of quotes "
            "a snapshot partition reads before its window; lower it in the settings resource"
        )
    return params


def _snapshot_rows(
    inputs: store.SnapshotInputs, params: DistributionParams, run_id: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table rows of one window: analytics on every snapshot, then the grid and Kalshi columns."""
    grid = inputs.snapshots
    value_grid = {s: project_settings.value_grid_for_series(s) for s in grid["series_ticker"].unique()}
    snapshots = grid[list(store.KEY_COLUMNS)].assign(
        value_grid=grid["series_ticker"].map(value_grid).astype(float)
    )
    result = implied_distributions(inputs.rungs, snapshots, key_columns=store.KEY_COLUMNS, params=params)
    problems = validate_snapshot_frame(result.snapshots, store.KEY_COLUMNS)
    if problems:
        raise dg.Failure("implied distributions broke their schema; nothing was written:\n" + "\n".join(problems))
    out = result.snapshots
    for column in store.GRID_COLUMNS:
        out[column] = grid[column].to_numpy()  # same row order: snapshots were built from the grid
    # Kalshi's median as of the snapshot, if it is not older than a quote may be.
    age = grid["snapshot_ts"] - grid["kalshi_median_ts"]
    fresh = age.notna() & (age <= pd.Timedelta(hours=params.max_staleness_hours))
    out["kalshi_median"] = grid["kalshi_median"].where(fresh).to_numpy(dtype=float)
    out["kalshi_median_ts"] = grid["kalshi_median_ts"].where(fresh).to_numpy()
    out["median_minus_kalshi"] = out["median"] - out["kalshi_median"]
    out["run_id"] = run_id
    return out[list(store.SNAPSHOT_TABLE_COLUMNS)], result.bins[list(store.BIN_TABLE_COLUMNS)]


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
        kalshi_events,
        kalshi_markets,
        dg.AssetDep(kalshi_quotes, partition_mapping=_PREVIOUS_DAY),
        dg.AssetDep(kalshi_forecast_percentiles, partition_mapping=_PREVIOUS_DAY),
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
    start, end = _window(context)
    params = _params(settings)
    written = bins_written = 0
    summaries: list[pd.DataFrame] = []
    with warehouse.connect() as con:
        for chunk_start, chunk_end in _chunks(start, end):
            inputs = store.load_snapshot_inputs(con, chunk_start, chunk_end)
            snapshots, bins = _snapshot_rows(inputs, params, context.run_id)
            n, m = store.replace_snapshot_window(con, snapshots, bins, chunk_start, chunk_end)
            written, bins_written = written + n, bins_written + m
            summaries.append(snapshots[["event_type", "status", "quality_low", "median_minus_kalshi", "kalshi_median"]])
        errors = store.median_error_before_release(con, hours_before=24, run_id=context.run_id)
        errors["kalshi_error"] = errors["kalshi_median"] - errors["first_print"]
        context.log.info(f"distribution_snapshots: {written} snapshots, {bins_written} bins, "
                         f"{start:%Y-%m-%d}..{end:%Y-%m-%d}")
        partition_row_counts(context, con, store.SNAPSHOTS_TABLE, "snapshot_ts")
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, store.SNAPSHOTS_TABLE, written, order_by="snapshot_ts",
                bins_written=dg.MetadataValue.int(bins_written),
                **_summary_metadata(summaries),
                **_first_print_metadata(errors),
            )
        )


# ----------------------------------------------------------------------------------- checks


def _scope(con: duckdb.DuckDBPyConnection, context: dg.AssetCheckExecutionContext) -> str | None:
    """Check the rows this run wrote; a check run on its own (or invoked directly) checks the whole table."""
    try:
        run_id = context.run.run_id
    except DagsterInvalidPropertyError:
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
    with warehouse.connect(read_only=True) as con:
        scope = _scope(con, context)
        rows = store.read_snapshots(con, scope)
    problems = validate_snapshot_frame(rows[[*store.KEY_COLUMNS, *SNAPSHOT_COLUMNS]], store.KEY_COLUMNS)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows_checked": len(rows), "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems)
                                                                           or "_none_")},
    )


@dg.asset_check(asset=distribution_snapshots, blocking=True,
                description="Bin masses, CDF and survival values, shares and quality scores lie in [0, 1].")
def distribution_probabilities_in_unit_interval(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        scope = _scope(con, context)
        counts = {**store.snapshot_probability_checks(con, scope),
                  "bin_probability_outside_unit": store.bin_checks(con, scope)["probability_outside_unit"]}
    return dg.AssetCheckResult(passed=not any(counts.values()), metadata=counts)


@dg.asset_check(asset=distribution_snapshots, blocking=True,
                description="The repaired survival function of every snapshot is non-increasing.")
def distribution_survival_non_increasing(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        increases = store.bin_checks(con, _scope(con, context))["survival_increases"]
    return dg.AssetCheckResult(passed=increases == 0, metadata={"survival_increases": increases})


@dg.asset_check(asset=distribution_snapshots, blocking=True,
                description="Bin masses of every ok snapshot sum to 1 (1e-6); failed snapshots have no bins.")
def distribution_masses_sum_to_one(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        counts = store.bin_checks(con, _scope(con, context))
    counts.pop("probability_outside_unit")
    counts.pop("survival_increases")
    return dg.AssetCheckResult(passed=not any(counts.values()), metadata=counts)


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
        rows = store.read_snapshots(con, _scope(con, context))
    share = float(rows["quality_low"].mean()) if len(rows) else 0.0
    return dg.AssetCheckResult(
        passed=share <= QUALITY_LOW_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quality_low_share": dg.MetadataValue.float(share), "rows": len(rows),
                  "reasons": dg.MetadataValue.json(
                      {k: int(v) for k, v in rows.loc[rows["quality_low"], "status"].value_counts().items()})},
    )


defs = dg.Definitions(
    assets=[kalshi_forecast_percentiles, distribution_snapshots],
    asset_checks=[
        distribution_snapshots_full_schema,
        distribution_probabilities_in_unit_interval,
        distribution_survival_non_increasing,
        distribution_masses_sum_to_one,
        distribution_no_snapshot_after_release,
        distribution_quality_low_is_rare,
    ],
)
