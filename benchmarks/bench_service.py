"""Read service latency: what one call of kalshi_assets.service costs, connection open and close included.

    .venv/bin/python benchmarks/bench_service.py [--warehouse PATH] [--calls 20]

Without --warehouse it builds one from the demo exchange (ingest, forecast percentiles and distribution
snapshots for October 2026, then the outcomes) in a temp dir. Each read opens a read-only DuckDB
connection and closes it before returning; the figures are medians over --calls calls, and the share of
a call spent opening the file (a bare read-only connect and close).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402

from kalshi_assets import service  # noqa: E402
from kalshi_assets.warehouse import db  # noqa: E402
from tests.partition_range import partition_range_tags  # noqa: E402


def build(path: Path) -> None:
    from kalshi_assets.definitions import defs
    from kalshi_assets.defs.resources import WarehouseResource

    resources = {**defs.resources, "warehouse": WarehouseResource(path=str(path))}

    def run(selection: list[str], tags: dict | None = None) -> None:
        scoped = dg.Definitions(assets=defs.assets, resources=resources, executor=dg.in_process_executor,
                                jobs=[dg.define_asset_job("bench", selection=selection)])
        scoped.resolve_job_def("bench").execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=tags or {})

    run(["kalshi_series", "kalshi_events", "kalshi_markets"])
    run(["kalshi_quotes", "kalshi_forecast_percentiles", "distribution_snapshots"],
        partition_range_tags("2026-10-01", "2026-10-31"))
    run(["outcomes_first_print", "outcomes_revisions", "outcomes_latest"])


def median_ms(call, calls: int) -> float:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.warehouse
        if path is None:
            path = Path(tmp) / "bench.duckdb"
            began = time.perf_counter()
            build(path)
            print(f"built a demo warehouse for October 2026 in {time.perf_counter() - began:.1f} s")
        event = max(service.get_events(limit=50, warehouse=path),
                    key=lambda e: len(service.get_distributions(e["event_ticker"], warehouse=path)))["event_ticker"]
        rows = len(service.get_distributions(event, warehouse=path))
        size_mb = path.stat().st_size / 1e6
        print(f"warehouse {size_mb:.1f} MB; event {event} has {rows} snapshots; median of {args.calls} calls each")
        reads = {
            "open + close (read-only, no query)": lambda: db.connect(path, read_only=True).close(),
            "get_events(limit=100)": lambda: service.get_events(limit=100, warehouse=path),
            "get_markets(event)": lambda: service.get_markets(event, warehouse=path),
            f"get_distributions(event) [{rows} rows]": lambda: service.get_distributions(event, warehouse=path),
            "get_distributions(event, one day)": lambda: service.get_distributions(
                event, start="2026-10-15", end="2026-10-16", warehouse=path),
            "get_outcomes(event, revisions)": lambda: service.get_outcomes(event, mode="revisions", warehouse=path),
            "get_distributions(hostile text) [0 rows]": lambda: service.get_distributions(
                "x' OR '1'='1", warehouse=path),
        }
        width = max(len(name) for name in reads)
        for name, call in reads.items():
            print(f"  {name:<{width}}  {median_ms(call, args.calls):8.1f} ms")


if __name__ == "__main__":
    main()
