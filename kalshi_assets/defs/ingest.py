"""Ingestion: series -> events -> markets -> hourly quotes, from the market-data resource into DuckDB."""


from datetime import datetime, timedelta

import dagster as dg

from kalshi_assets.defs.metadata import WRITER_POOL, partition_row_counts, table_metadata
from kalshi_assets.defs.partitions import daily_partitions
from kalshi_assets.defs.resources import MarketDataResource, WarehouseResource
from kalshi_assets.kalshi import ingest as fetch
from kalshi_assets.warehouse import ingest as reads
from kalshi_assets.warehouse import writes


@dg.asset(group_name="ingest", pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_series(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """The series we track (CPI, unemployment, payrolls, GDP, FOMC), with their event type and fees."""
    frame = fetch.fetch_series(market_data.get_source(), market_data.tracked_series())
    if frame.empty:
        raise dg.Failure("the market-data source returned no series: check `series` in the resource config")
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_series", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "kalshi_series", written))


@dg.asset(group_name="ingest", deps=[kalshi_series], pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_events(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """Every event of the tracked series, old tickers (CPI-, FED-) included: walked by series, not by prefix."""
    with warehouse.connect() as con:
        series_tickers = reads.series_tickers(con)
    frame = fetch.fetch_events(market_data.get_source(), series_tickers)
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_events", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "kalshi_events", written, order_by="strike_date"))


@dg.asset(group_name="ingest", deps=[kalshi_events], pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_markets(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """Raw markets (strike type, floor/cap, status, times, result, expiration value), tied by exact event_ticker."""
    with warehouse.connect() as con:
        event_tickers = reads.event_tickers(con)
    frame = fetch.fetch_markets(market_data.get_source(), event_tickers)
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_markets", frame)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, "kalshi_markets", written, order_by="close_time",
                settled_markets=dg.MetadataValue.int(int(frame["result"].notna().sum())),
            )
        )


@dg.asset(
    group_name="ingest",
    deps=[kalshi_markets],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def kalshi_quotes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.MaterializeResult:
    """Hourly quotes (bid, ask, last trade, volume, open interest) from candlesticks, one partition per UTC day.

    A run covers a range of days (single-run backfill); each day is replaced whole in its own transaction,
    so a replay leaves the same rows and a failure keeps the days already written.
    """
    window = context.partition_time_window
    start = window.start.replace(tzinfo=None)
    end = window.end.replace(tzinfo=None)
    source = market_data.get_source()
    total = 0
    with warehouse.connect() as con:
        # Whole days in chunks of up to a quarter: one transaction per chunk keeps a long backfill from
        # paying a commit per day, and a chunk always covers whole partitions.
        for chunk_start, chunk_end in _chunks(start, end, QUOTE_CHUNK):
            markets = reads.markets_open_during(con, chunk_start, chunk_end)
            frame = fetch.fetch_quotes(source, markets, chunk_start, chunk_end)
            total += writes.replace_window(con, "kalshi_quotes", frame, "ts", chunk_start, chunk_end)
        days = (end - start).days
        context.log.info(f"kalshi_quotes: {total} quotes over {days} day(s) from {start:%Y-%m-%d}")
        partition_row_counts(context, con, "kalshi_quotes", "ts")
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, "kalshi_quotes", total, order_by="ts",
                days=dg.MetadataValue.int(days),
                partition_rows=dg.MetadataValue.int(reads.row_count(con, "kalshi_quotes", ("ts", start, end))),
            )
        )


QUOTE_CHUNK = timedelta(days=92)


def _chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out = []
    while start < end:
        out.append((start, min(start + size, end)))
        start += size
    return out


# ----------------------------------------------------------------------------------- checks


@dg.asset_check(asset=kalshi_markets, blocking=True, description="Markets are unique and tied to a known event.")
def markets_keys_and_events(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        duplicates = reads.duplicate_keys(con, "kalshi_markets", ["market_ticker"])
        orphans = reads.markets_without_event(con)
    return dg.AssetCheckResult(
        passed=duplicates == 0 and orphans == 0,
        metadata={"duplicate_tickers": duplicates, "markets_without_event": orphans},
    )


@dg.asset_check(
    asset=kalshi_quotes,
    blocking=True,
    description="Quote keys unique, prices in [0, 1], bid <= ask, no quote after its market's close.",
)
def quotes_are_sound(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        problems = reads.quote_checks(con)
        problems["duplicate_keys"] = reads.duplicate_keys(con, "kalshi_quotes", ["market_ticker", "ts"])
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


defs = dg.Definitions(
    assets=[kalshi_series, kalshi_events, kalshi_markets, kalshi_quotes],
    asset_checks=[markets_keys_and_events, quotes_are_sound],
)
