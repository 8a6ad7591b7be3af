"""event_features: the implied distribution of every event as of a purged time before its release."""

import dagster as dg
import pandas as pd
from pydantic import Field

from kalshi_assets.analytics import features as feature_calc
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, table_metadata
from kalshi_assets.defs.research.common import GROUP, md, purge_windows
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.times import utc_now
from kalshi_assets.warehouse import research as store

VALUE_COLUMNS: tuple[str, ...] = (*store.SNAPSHOT_VALUES.values(), *store.SNAPSHOT_QUALITY)
CHANGE_COLUMNS: tuple[str, ...] = tuple(store.SNAPSHOT_VALUES.values())


class EventFeaturesConfig(dg.Config):
    horizons_days: list[int] = Field(
        default=list(feature_calc.DEFAULT_HORIZONS_DAYS),
        description="Days before the release; features are taken at min(release - h, release - purge window).",
    )
    change_window_days: float = Field(
        default=feature_calc.DEFAULT_CHANGE_WINDOW_DAYS,
        description="Changes of the implied values, and ladder volume, over this window before as_of.",
    )
    max_snapshot_age_hours: float = Field(
        default=48.0, description="A snapshot older than this at as_of is not used (the row stays, empty)."
    )


@dg.asset(
    group_name=GROUP,
    deps=[keys.DISTRIBUTION_SNAPSHOTS, keys.KALSHI_EVENTS, keys.KALSHI_MARKETS, keys.KALSHI_QUOTES],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def event_features(
    context: dg.AssetExecutionContext,
    config: EventFeaturesConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Per event and horizon, the implied distribution as of min(release - horizon, release - purge window):
    moments and quantiles, their changes over the prior window, quality, spread, ladder volume, event type."""
    with warehouse.connect() as con:
        events = store.read_events(con)
        windows = purge_windows(settings, events["event_type"])
        grid = feature_calc.feature_grid(events, config.horizons_days, windows)
        lookback_hours = config.change_window_days * 24 + config.max_snapshot_age_hours
        snapshots = store.read_snapshots_near(con, grid, lookback_hours)
        as_of = feature_calc.asof_features(
            grid,
            snapshots,
            VALUE_COLUMNS,
            CHANGE_COLUMNS,
            change_window_days=config.change_window_days,
            max_age_hours=config.max_snapshot_age_hours,
        )
        activity = store.read_ladder_activity(con, grid, config.change_window_days * 24)
        table = feature_calc.complete_feature_table(as_of, events, activity, config.change_window_days, utc_now())
        leaks = feature_calc.feature_leaks(table)
        if not leaks.empty:
            raise dg.Failure(
                f"{len(leaks)} feature rows observed after their as_of or inside their purge window; nothing written",
                metadata={"leaks": md(leaks[["event_ticker", "horizon_days", "as_of", "snapshot_ts"]])},
            )
        written = store.replace_tables(con, {store.FEATURES_TABLE: table})[store.FEATURES_TABLE]
        with_snapshot = int(table["snapshot_ts"].notna().sum())
        context.log.info(f"event_features: {written} rows, {with_snapshot} with a snapshot, windows {windows}")
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.FEATURES_TABLE,
                written,
                order_by="as_of",
                rows_with_snapshot=dg.MetadataValue.int(with_snapshot),
                horizons_days=dg.MetadataValue.json(list(config.horizons_days)),
                purge_windows_days=dg.MetadataValue.json(windows),
                by_event_type=md(feature_calc.features_by_event_type(table).round(3)),
            )
        )


@dg.asset_check(asset=event_features, blocking=True, description="No feature uses anything observed after as_of.")
def features_observed_before_as_of(warehouse: WarehouseResource, settings: SettingsResource) -> dg.AssetCheckResult:
    """Proves the as-of rule against the snapshot times: the snapshots named exist, every input time
    (snapshot, prior snapshot, quotes) is at or before as_of, and as_of is at least the event type's
    current purge window and the horizon before the release."""
    with warehouse.connect(read_only=True) as con:
        table = store.read_features(con)
        unknown = store.features_without_snapshot(con)
    leaks = feature_calc.feature_leaks(table)
    too_close = feature_calc.inside_purge_window(table, purge_windows(settings, table["event_type"]))
    problems = len(leaks) + len(unknown) + len(too_close)
    return dg.AssetCheckResult(
        passed=problems == 0,
        metadata={
            "rows_checked": dg.MetadataValue.int(len(table)),
            "observed_after_as_of": dg.MetadataValue.int(len(leaks)),
            "snapshot_not_in_distribution_snapshots": dg.MetadataValue.int(len(unknown)),
            "inside_current_purge_window": dg.MetadataValue.int(len(too_close)),
            "examples": md(pd.concat([leaks, too_close, unknown])[["event_ticker", "horizon_days", "as_of"]].head(5)),
        },
    )


defs = dg.Definitions(assets=[event_features], asset_checks=[features_observed_before_as_of])
