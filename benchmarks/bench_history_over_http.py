"""The whole demo history, trades included, over signed HTTP against `kalshi-assets demo-server` versus in process.

    .venv/bin/python benchmarks/bench_history_over_http.py [--start 2024-10-01] [--end 2026-10-31] [--tier premier]

The server runs as its own process with the demo's historical cutoff (90 days before its end) and 5% injected
503s. The five ingest tables (series, events, markets, hourly quotes, trades) are ingested through the API
source (both tiers, every call audited) and in process, then compared row for row inside DuckDB. Printed:
wall times, requests per tier (from the audit log's API_CALL records: /historical/* versus the live market
routes), answers by status, audit records against requests, the chain's verification, and per table the rows
and the rows found on one side only (target: 0 and 0).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402

from kalshi_assets.audit import API_CALL, query_log, verify_log  # noqa: E402
from kalshi_assets.defs import ingest  # noqa: E402
from kalshi_assets.defs.resources import MarketDataResource, WarehouseResource, api_audit  # noqa: E402
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair  # noqa: E402
from kalshi_assets.kalshi.ratelimit import resolve_tier  # noqa: E402
from tests.partition_range import partition_range_tags  # noqa: E402

TABLES = {
    "kalshi_series": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_series",
    "kalshi_events": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_events",
    "kalshi_markets": "SELECT * EXCLUDE (ingested_at) FROM {db}.kalshi_markets",
    "kalshi_quotes": "SELECT * FROM {db}.kalshi_quotes",
    "kalshi_trades": "SELECT * FROM {db}.kalshi_trades",
}


def ingest_all(path: Path, market_data: MarketDataResource, start: str, end: str) -> float:
    resources = {"warehouse": WarehouseResource(path=str(path)), "market_data": market_data}
    began = time.perf_counter()
    assert dg.materialize([ingest.kalshi_series, ingest.kalshi_events, ingest.kalshi_markets],
                          resources=resources).success
    partitioned = [ingest.kalshi_quotes, ingest.kalshi_trades]
    defs = dg.Definitions(assets=partitioned, resources=resources, executor=dg.in_process_executor,
                          jobs=[dg.define_asset_job("history", selection=partitioned)])
    run = defs.resolve_job_def("history").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(start, end))
    assert run.success
    return time.perf_counter() - began


def tier_of(path: str) -> str:
    if path.startswith("/historical/"):
        return "historical"
    if path.startswith("/markets") or "/markets/" in path:
        return "live"
    return "series and events"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2024-10-01")
    parser.add_argument("--end", default="2026-10-31")
    parser.add_argument("--tier", default="premier", help="rate-limit tier of the server and the client")
    args = parser.parse_args()
    tier = resolve_tier(args.tier)
    with tempfile.TemporaryDirectory(prefix="bench_history_") as scratch:
        root = Path(scratch)
        server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "kalshi_assets.cli", "demo-server", "--port", "0", "--tier", tier.name,
             "--error-rate", "0.05", "--error-status", "503", "--fault-seed", "11"],
            stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            line = server.stdout.readline() if server.stdout else ""
            base_url = line.split("serving at ", 1)[1].split()[0]
            print(line.strip())
            audit = root / "audit"
            market_data = MarketDataResource(
                source="api", base_url=base_url, api_key_id=DEMO_API_KEY_ID,
                private_key_pem=demo_key_pair()[0].decode(), read_rate_per_s=tier.reads_per_second,
                audit_directory=str(audit))
            http_s = ingest_all(root / "http.duckdb", market_data, args.start, args.end)
            api_audit(str(audit))[0].flush()
        finally:
            server.terminate()
            server.wait(timeout=30)
        local_s = ingest_all(root / "local.duckdb", MarketDataResource(), args.start, args.end)
        calls = query_log(audit, event_type=API_CALL)
        by_tier = collections.Counter(tier_of(c["payload"]["path"]) for c in calls)
        by_status = collections.Counter(c["payload"]["status_code"] for c in calls)
        report = verify_log(audit)
        print(f"over HTTP ({tier.name}, 5% 503s): {http_s:.0f} s; in process: {local_s:.0f} s")
        print(f"requests by tier: {dict(by_tier)}; by status: {dict(by_status)}")
        print(f"audit log: {len(calls)} API_CALL records, chain {'verified' if report.ok else 'DAMAGED'}")
        with duckdb.connect() as con:
            con.execute(f"ATTACH '{root / 'http.duckdb'}' AS http (READ_ONLY)")
            con.execute(f"ATTACH '{root / 'local.duckdb'}' AS local (READ_ONLY)")
            for table, sql in TABLES.items():
                a, b = sql.format(db="http"), sql.format(db="local")
                rows = con.execute(f"SELECT count(*) FROM ({a})").fetchone()[0]
                only_http = con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
                only_local = con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
                print(f"  {table:<15} {rows:>10,} rows; only over HTTP {only_http}, only in process {only_local}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
