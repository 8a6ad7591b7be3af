"""Helpers for tests that run the ingest assets: metadata first, then the daily partitions in one run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from kalshi_assets.defs import ingest
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from tests.partition_range import partition_range_tags

# Every column but the ingestion stamp, which records when a row was fetched.
COMPARED = {
    "kalshi_series": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_series",
    "kalshi_events": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_events",
    "kalshi_markets": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_markets",
    "kalshi_quotes": "SELECT * FROM {db}.kalshi_quotes",
    "kalshi_trades": "SELECT * FROM {db}.kalshi_trades",
}


def resources(path: Path, market_data: MarketDataResource | None = None) -> dict:
    return {"warehouse": WarehouseResource(path=str(path)), "market_data": market_data or MarketDataResource(),
            "settings": SettingsResource()}


def ingest_metadata(path: Path, market_data: MarketDataResource | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize([ingest.kalshi_series, ingest.kalshi_events, ingest.kalshi_markets],
                          resources=resources(path, market_data), raise_on_error=False)


def ingest_partitions(
    path: Path, start: str, end: str, market_data: MarketDataResource | None = None,
    assets: tuple = (ingest.kalshi_quotes, ingest.kalshi_trades),
) -> dg.ExecuteInProcessResult:
    """The partitioned ingest assets over [start, end] (days) in one single-run backfill."""
    defs = dg.Definitions(assets=list(assets), resources=resources(path, market_data),
                          jobs=[dg.define_asset_job("partitions", selection=list(assets))],
                          executor=dg.in_process_executor)
    return defs.resolve_job_def("partitions").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        tags=partition_range_tags(start, end),
    )


def ingest_into(path: Path, start: str, end: str, market_data: MarketDataResource | None = None) -> None:
    assert ingest_metadata(path, market_data).success
    assert ingest_partitions(path, start, end, market_data).success


def differences(left: Path, right: Path, sql: str) -> tuple[int, int, int]:
    """(rows, rows only on the left, rows only on the right), compared inside DuckDB."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        left_rows, right_rows = sql.format(db="l"), sql.format(db="r")
        rows = con.execute(f"SELECT count(*) FROM ({left_rows})").fetchone()[0]
        only_left = con.execute(f"SELECT count(*) FROM ({left_rows} EXCEPT ALL {right_rows})").fetchone()[0]
        only_right = con.execute(f"SELECT count(*) FROM ({right_rows} EXCEPT ALL {left_rows})").fetchone()[0]
    return rows, only_left, only_right


def table_rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()
