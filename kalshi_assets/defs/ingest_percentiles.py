"""kalshi_forecast_percentiles: Kalshi's own hourly forecast percentiles of every event, ingested per day
(group ingest). The fetching and parsing live in kalshi/forecasts.py, the table in warehouse/distributions.py.
"""

from datetime import timedelta

import dagster as dg

from kalshi_assets.defs.keys import KALSHI_EVENTS, KALSHI_MARKETS
from kalshi_assets.defs.metadata import WRITER_POOL, partitioned_result
from kalshi_assets.defs.partitions import backfill_policy, daily_partitions, utc_window
from kalshi_assets.defs.resources import MarketDataResource, WarehouseResource
from kalshi_assets.kalshi.forecasts import fetch_forecast_percentiles
from kalshi_assets.times import windows
from kalshi_assets.warehouse import distributions as store

# Whole months per query and transaction: bounds memory on a long single-run backfill.
CHUNK = timedelta(days=31)


@dg.asset(
    group_name="ingest",
    deps=[KALSHI_EVENTS, KALSHI_MARKETS],
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
    start, end = utc_window(context)
    source = market_data.get_source()
    total = 0
    with warehouse.connect() as con:
        for chunk_start, chunk_end in windows(start, end, CHUNK):
            events = store.events_active_during(con, chunk_start, chunk_end)
            frame = fetch_forecast_percentiles(source, events, chunk_start, chunk_end)
            total += store.replace_percentile_window(con, frame, chunk_start, chunk_end)
        context.log.info(f"kalshi_forecast_percentiles: {total} points from {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        return partitioned_result(context, con, store.PERCENTILES_TABLE, "ts", total, order_by="ts")


defs = dg.Definitions(assets=[kalshi_forecast_percentiles])
