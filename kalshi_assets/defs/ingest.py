"""Ingestion: series -> events -> markets -> hourly quotes and trades, from the market-data resource into DuckDB.

Markets, candles and trades come from both of Kalshi's tiers (live and `/historical/*`), merged by the
source (`kalshi/source.py`); an event that neither tier has a market for is named in the metadata and
warned about by a check, never silently empty.
"""


from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd

from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, partitioned_result, table_metadata
from kalshi_assets.defs.partitions import backfill_policy, daily_partitions, utc_window
from kalshi_assets.defs.resources import MarketDataResource, WarehouseResource
from kalshi_assets.kalshi import ingest as fetch
from kalshi_assets.kalshi.source import MarketDataSource
from kalshi_assets.times import naive_utc, windows
from kalshi_assets.warehouse import ingest as reads
from kalshi_assets.warehouse import writes

# Whole days in chunks of up to a quarter: one transaction per chunk keeps a long backfill from paying a
# commit per day, and a chunk always covers whole partitions.
QUOTE_CHUNK = timedelta(days=92)


@dg.asset(group_name="ingest", pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_series(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """The series we track (CPI, unemployment, payrolls, GDP, FOMC), with their event type and fees."""
    frame = fetch.fetch_series(market_data.get_source(), market_data.tracked_series())
    if frame.empty:
        raise dg.Failure("the market-data source returned no series: check `series` in the resource config")
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_series", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "kalshi_series", written))


@dg.asset(group_name="ingest", deps=[keys.KALSHI_SERIES], pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_events(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """Every event of the tracked series, old tickers (CPI-, FED-) included: walked by series, not by prefix."""
    with warehouse.connect() as con:
        series_tickers = reads.series_tickers(con)
    frame = fetch.fetch_events(market_data.get_source(), series_tickers)
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_events", frame)
        return dg.MaterializeResult(metadata=table_metadata(con, "kalshi_events", written, order_by="strike_date"))


@dg.asset(group_name="ingest", deps=[keys.KALSHI_EVENTS], pool=WRITER_POOL, kinds={"duckdb"})
def kalshi_markets(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.MaterializeResult:
    """Raw markets (strike type, floor/cap, status, times, result, expiration value), tied by exact event_ticker,
    from Kalshi's live and historical tiers merged by ticker."""
    with warehouse.connect() as con:
        event_tickers = reads.event_tickers(con)
    fetched = fetch.fetch_markets(market_data.get_source(), event_tickers)
    if fetched.events_without_markets:
        context.log.warning(
            f"kalshi_markets: {len(fetched.events_without_markets)} event(s) have no market in either tier: "
            f"{', '.join(fetched.events_without_markets[:20])}"
        )
    with warehouse.connect() as con:
        written = writes.upsert(con, "kalshi_markets", fetched.frame)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, "kalshi_markets", written, order_by="close_time",
                settled_markets=dg.MetadataValue.int(int(fetched.frame["result"].notna().sum())),
                events_without_markets=dg.MetadataValue.int(len(fetched.events_without_markets)),
                events_without_markets_list=dg.MetadataValue.md(
                    "\n".join(f"- {e}" for e in fetched.events_without_markets) or "_none_"
                ),
            )
        )


def _ingest_partitions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    source: MarketDataSource,
    table: str,
    fetch_window: Callable[[MarketDataSource, pd.DataFrame, datetime, datetime], pd.DataFrame],
    *,
    rows_expected_while_open: bool = False,
) -> dg.MaterializeResult:
    """Replace the run's days of `table` chunk by chunk with what `fetch_window` returns for the markets open then.

    A run covers a range of days (single-run backfill); each chunk is fetched whole before it is written and
    replaced in its own transaction, so a replay leaves the same rows and a failure keeps the chunks already
    written. Empty upstream tables fail the run: nothing to fetch is not success. With
    `rows_expected_while_open`, a chunk in which markets were open (before the source's now) but nothing came
    back fails before it is written, so an empty answer never deletes stored rows.
    """
    start, end = utc_window(context)
    total = 0
    with warehouse.connect() as con:
        if reads.row_count(con, "kalshi_markets") == 0:
            raise dg.Failure(
                f"{table}: kalshi_markets is empty, so there is nothing to fetch {table} for. Materialize "
                "kalshi_series, kalshi_events and kalshi_markets first (an earlier upstream run may have "
                "failed); nothing was written."
            )
        now = naive_utc(source.now())
        for chunk_start, chunk_end in windows(start, end, QUOTE_CHUNK):
            markets = reads.markets_open_during(con, chunk_start, chunk_end)
            frame = fetch_window(source, markets, chunk_start, chunk_end)
            if rows_expected_while_open and frame.empty:
                expected = reads.markets_open_before(con, chunk_start, chunk_end, now)
                if expected:
                    raise dg.Failure(
                        f"{table}: the source returned nothing for the {expected} market(s) open between "
                        f"{chunk_start:%Y-%m-%d} and {chunk_end:%Y-%m-%d}; the stored rows of these days are kept"
                    )
            total += writes.replace_window(con, table, frame, "ts", chunk_start, chunk_end)
        days = (end - start).days
        context.log.info(f"{table}: {total} rows over {days} day(s) from {start:%Y-%m-%d}")
        return partitioned_result(
            context, con, table, "ts", total, order_by="ts", days=dg.MetadataValue.int(days),
            partition_rows=dg.MetadataValue.int(reads.row_count(con, table, ("ts", start, end))),
        )


# The daily tables fetched for the markets open each day: one partition per UTC day; a backfill
# is one run on the file and runs of N partitions on the lake (defs/partitions.backfill_policy).
DAILY_FROM_MARKETS: dict = {
    "group_name": "ingest",
    "deps": [keys.KALSHI_MARKETS],
    "partitions_def": daily_partitions,
    "backfill_policy": backfill_policy,
    "pool": WRITER_POOL,
    "kinds": {"duckdb"},
}


@dg.asset(**DAILY_FROM_MARKETS)
def kalshi_quotes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.MaterializeResult:
    """Hourly quotes (bid, ask, last trade, volume, open interest) from candlesticks, one partition per UTC day:
    archived markets' candles from the historical route, live markets' from the batch route."""
    return _ingest_partitions(context, warehouse, market_data.get_source(), "kalshi_quotes", fetch.fetch_quotes,
                              rows_expected_while_open=True)


@dg.asset(**DAILY_FROM_MARKETS)
def kalshi_trades(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.MaterializeResult:
    """Every public trade (price, contracts, taker side), one partition per UTC day of its execution: trades
    before Kalshi's trades cutoff from /historical/trades, later ones from /markets/trades. Keyed by trade_id."""
    return _ingest_partitions(context, warehouse, market_data.get_source(), "kalshi_trades", fetch.fetch_trades)


# ----------------------------------------------------------------------------------- checks


@dg.asset_check(asset=kalshi_markets, blocking=True, description="Markets exist, are unique and tied to a known event.")
def markets_keys_and_events(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        rows = reads.row_count(con, "kalshi_markets")
        duplicates = reads.duplicate_keys(con, "kalshi_markets", ["market_ticker"])
        orphans = reads.markets_without_event(con)
    return dg.AssetCheckResult(
        passed=rows > 0 and duplicates == 0 and orphans == 0,
        metadata={"rows": rows, "duplicate_tickers": duplicates, "markets_without_event": orphans},
    )


@dg.asset_check(
    asset=kalshi_markets,
    description="Warns when an event has no market in either of Kalshi's tiers (live or historical).",
)
def every_event_has_markets(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        empty = reads.events_without_markets(con)
    return dg.AssetCheckResult(
        passed=not empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"events_without_markets": len(empty),
                  "events": dg.MetadataValue.md("\n".join(f"- {e}" for e in empty[:100]) or "_none_")},
    )


def _checked_window(context: dg.AssetCheckExecutionContext | None) -> tuple[datetime, datetime] | None:
    """The days of the run the check runs in; None (the whole table) for a check run on its own."""
    if context is None:
        return None
    try:
        if not (context.has_partition_key or context.has_partition_key_range):
            return None
        window = context.partition_time_window
    # DagsterError, the public base of the invalid-property and invariant errors (only the latter is exported).
    except dg.DagsterError:
        return None
    return naive_utc(window.start), naive_utc(window.end)


def _rows(con, table: str, window: tuple[datetime, datetime] | None) -> int:
    return reads.row_count(con, table, ("ts", *window) if window else None)


@dg.asset_check(
    asset=kalshi_quotes,
    blocking=True,
    description="Quotes exist wherever markets were open (within the run's days); keys unique, prices in [0, 1], "
    "bid <= ask, no quote after its market's close.",
)
def quotes_are_sound(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, market_data: MarketDataResource
) -> dg.AssetCheckResult:
    window = _checked_window(context)
    with warehouse.connect() as con:
        rows = _rows(con, "kalshi_quotes", window)
        open_markets = reads.markets_open_before(con, *(window or (None, None)), _source_now(market_data))
        problems = reads.quote_checks(con)
        problems["duplicate_keys"] = reads.duplicate_keys(con, "kalshi_quotes", ["market_ticker", "ts"])
    missing = rows == 0 and open_markets > 0  # zero rows where rows are expected
    return dg.AssetCheckResult(
        passed=not missing and not any(problems.values()),
        metadata={"rows": rows, "markets_open": open_markets, "scope": _scope_text(window), **problems},
    )


@dg.asset_check(
    asset=kalshi_trades,
    blocking=True,
    description="Trades exist wherever the quotes say contracts traded (within the run's days); each lies within "
    "its market's open/close, at a price inside (0, 1), for a known market.",
)
def trades_are_sound(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    window = _checked_window(context)
    with warehouse.connect() as con:
        rows = _rows(con, "kalshi_trades", window)
        volume = reads.traded_volume(con, *(window or (None, None)))
        problems = reads.trade_checks(con)
    missing = rows == 0 and volume > 0  # zero rows where the quotes say trades happened
    return dg.AssetCheckResult(
        passed=not missing and not any(problems.values()),
        metadata={"rows": rows, "quoted_volume": volume, "scope": _scope_text(window), **problems},
    )


def _source_now(market_data: MarketDataResource) -> datetime:
    return naive_utc(market_data.get_source().now())


def _scope_text(window: tuple[datetime, datetime] | None) -> str:
    return f"{window[0]:%Y-%m-%d}..{window[1]:%Y-%m-%d}" if window else "the whole table"


defs = dg.Definitions(
    assets=[kalshi_series, kalshi_events, kalshi_markets, kalshi_quotes, kalshi_trades],
    asset_checks=[markets_keys_and_events, every_event_has_markets, quotes_are_sound, trades_are_sound],
)
