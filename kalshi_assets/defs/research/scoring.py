"""The implied distributions scored as forecasts of the first print, and against Kalshi's own percentiles."""

import dagster as dg

from kalshi_assets.analytics import percentiles, scoring
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, table_metadata
from kalshi_assets.defs.research.common import GROUP, SETTLEMENT_LABEL_MODE, md
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.times import utc_now
from kalshi_assets.warehouse import research as store


@dg.asset(
    group_name=GROUP,
    deps=[keys.EVENT_FEATURES, keys.EVENT_LABELS, keys.DISTRIBUTION_SNAPSHOTS],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def implied_forecast_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The implied distributions at each feature horizon scored against the first print: Brier score and log
    loss per rung, CRPS and PIT of the whole distribution, summarised by event type."""
    with warehouse.connect() as con:
        features = store.read_features(con)
        labels = store.read_labels(con, SETTLEMENT_LABEL_MODE).rename(columns={"realized_value": "first_print"})
        forecasts = scoring.forecasts_with_first_print(features, labels)
        bins = store.read_bins_of(con, forecasts)
    scores, rungs = scoring.score_snapshots(forecasts, bins)
    summary = scoring.scores_by_event_type(scores, rungs)
    scores["computed_at"] = utc_now()
    context.log.info(f"implied_forecast_scores: {len(scores)} distributions, {len(rungs)} rungs")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.SCORES_TABLE: scores, store.RUNG_TABLE: rungs})
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.SCORES_TABLE,
                written[store.SCORES_TABLE],
                order_by="snapshot_ts",
                rungs=dg.MetadataValue.int(len(rungs)),
                by_event_type_and_horizon=md(summary.round(4), max_rows=60),
                pit_histogram_10_bins=dg.MetadataValue.json(
                    scoring.pit_histogram(scores["pit"])["count"].tolist() if len(scores) else []
                ),
            )
        )


@dg.asset(
    group_name=GROUP,
    deps=[keys.EVENT_FEATURES, keys.EVENT_LABELS, keys.DISTRIBUTION_SNAPSHOTS, keys.KALSHI_FORECAST_PERCENTILES],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def kalshi_percentile_comparison(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Every ingested Kalshi forecast percentile against our quantile at the same time (the gap per event
    type and percentile), and how often the first print falls inside Kalshi's 10-90 band versus ours at
    the features' snapshots (docs/METHODS.md section 5)."""
    pairs, by_percentile = 0, []
    with warehouse.connect() as con:
        for percentile in store.PAIR_PERCENTILES:  # a group of the gaps is one percentile: read one at a time
            percentile_pairs = store.read_percentile_pairs(con, settings.max_staleness_hours, percentile)
            pairs += len(percentile_pairs)
            by_percentile.append(percentiles.percentile_gaps(percentile_pairs))
        bands = store.read_bands_at_features(con, settings.max_staleness_hours)
    gaps = percentiles.combined_gaps(by_percentile).assign(computed_at=utc_now())
    coverage = percentiles.band_coverage(bands).assign(computed_at=utc_now())
    summary = percentiles.coverage_summary(coverage)
    overall = summary[summary["event_type"] == "all"]
    context.log.info(f"kalshi_percentile_comparison: {pairs} quantile pairs, {len(coverage)} bands judged")
    with warehouse.connect() as con:
        written = store.replace_tables(
            con, {store.PERCENTILE_GAPS_TABLE: gaps, store.BAND_COVERAGE_TABLE: coverage}
        )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.PERCENTILE_GAPS_TABLE,
                written[store.PERCENTILE_GAPS_TABLE],
                order_by="event_type",
                quantile_pairs=dg.MetadataValue.int(pairs),
                gap_by_event_type_and_percentile=md(gaps.drop(columns=["computed_at"]).round(4), max_rows=60),
                band_coverage_10_90=md(summary.round(3), max_rows=60),
                coverage_ours=dg.MetadataValue.float(float(overall["coverage_ours"].iloc[0]))
                if len(overall) else dg.MetadataValue.text("no bands"),
                coverage_kalshi=dg.MetadataValue.float(float(overall["coverage_kalshi"].iloc[0]))
                if len(overall) else dg.MetadataValue.text("no bands"),
            )
        )


defs = dg.Definitions(assets=[implied_forecast_scores, kalshi_percentile_comparison])
