"""API-backed ingestion: the same tables through signed HTTP (with injected 5xx and 429s) as in process."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from kalshi_assets.defs import ingest
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer, FaultConfig, Faults, ServerRateLimits

START, END = "2024-10-01", "2026-10-31"  # the whole demo history
# Every column but the ingestion stamp, which records when a row was fetched.
COMPARED = {
    "kalshi_series": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_series",
    "kalshi_events": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_events",
    "kalshi_markets": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_markets",
    "kalshi_quotes": "SELECT * FROM {db}.kalshi_quotes",
}


def ingest_into(path: Path, market_data: MarketDataResource) -> None:
    resources = {"warehouse": WarehouseResource(path=str(path)), "market_data": market_data,
                 "settings": SettingsResource()}
    assert dg.materialize([ingest.kalshi_series, ingest.kalshi_events, ingest.kalshi_markets],
                          resources=resources).success
    defs = dg.Definitions(assets=[ingest.kalshi_quotes], resources=resources,
                          jobs=[dg.define_asset_job("quotes", selection=[ingest.kalshi_quotes])],
                          executor=dg.in_process_executor)
    run = defs.resolve_job_def("quotes").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: START, ASSET_PARTITION_RANGE_END_TAG: END},
    )
    assert run.success


def differences(over_http: Path, in_process: Path, sql: str) -> tuple[int, int, int]:
    """(rows, rows only over HTTP, rows only in process), compared inside DuckDB."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{over_http}' AS http (READ_ONLY)")
        con.execute(f"ATTACH '{in_process}' AS local (READ_ONLY)")
        http_rows, local_rows = sql.format(db="http"), sql.format(db="local")
        rows = con.execute(f"SELECT count(*) FROM ({http_rows})").fetchone()[0]
        only_http = con.execute(f"SELECT count(*) FROM ({http_rows} EXCEPT ALL {local_rows})").fetchone()[0]
        only_local = con.execute(f"SELECT count(*) FROM ({local_rows} EXCEPT ALL {http_rows})").fetchone()[0]
    return rows, only_http, only_local


@pytest.mark.slow
def test_http_ingestion_with_faults_gives_the_same_tables_as_in_process(tmp_path: Path) -> None:
    faults = Faults(FaultConfig(error_rate=0.05, error_status=503, seed=11))
    private_pem, _ = demo_key_pair()
    with DemoServer(faults=faults, rate_limits=ServerRateLimits(reads_per_second=60, writes_per_second=10),
                    record_responses=True) as server:
        faults.force_status(429, times=3, path_prefix="/markets")  # a burst, like Kalshi's: no Retry-After
        api = MarketDataResource(source="api", base_url=server.base_url, api_key_id=DEMO_API_KEY_ID,
                                 private_key_pem=private_pem.decode(), read_rate_per_s=60)
        ingest_into(tmp_path / "api.duckdb", api)
        statuses = [status for _, _, _, status, _ in server.api.responses]
    ingest_into(tmp_path / "local.duckdb", MarketDataResource())

    for name, sql in COMPARED.items():
        rows, only_http, only_local = differences(tmp_path / "api.duckdb", tmp_path / "local.duckdb", sql)
        assert rows > 0, f"{name} is empty"
        assert (only_http, only_local) == (0, 0), f"{name} differs between HTTP and in-process ingestion"
    assert 429 in statuses and 503 in statuses, "the faults were not exercised"
