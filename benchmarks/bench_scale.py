"""The same backfill of the partitioned assets three ways: the single DuckDB file in process (one run over the
range, the default), and the lake (DuckLake on PostgreSQL) through the daemon and Celery workers in runs of
N partitions, with 1 worker and with 2 workers. Prints each wall time, the ratios between them and each
configuration's peak memory (resident, summed over every process of the configuration, sampled every 0.5 s),
and the machine's load, since the cores are shared.

    .venv/bin/python benchmarks/bench_scale.py [--days 60] [--run-size 10] [--first-day 2026-08-01]

Needs Debian's PostgreSQL 15 and Redis (`bash scripts/install_services.sh`); it starts its own servers on free
loopback ports in temporary directories, as the tests do (tests/servers.py, tests/deploy/lake_cluster.py).
Wall times: the file backend's is its range command (`dagster asset materialize --partition-range`, process
start included); the lake's runs from submitting the backfill to the daemon marking it complete (daemon
start and its 30 s backfill ticks included). Upstream assets (series, events, markets) are loaded before and
timed apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402

from tests.deploy.lake_cluster import (  # noqa: E402
    BACKFILL_ENDED,
    FileReference,
    LakeDeployment,
    days,
    process_tree_rss_mb,
    wait_until,
)
from tests.servers import (  # noqa: E402
    postgres_bin_dir,
    redis_server_path,
    start_postgres,
    start_redis,
    stop_postgres,
    stop_redis,
)


class PeakSampler(threading.Thread):
    def __init__(self, measure) -> None:
        super().__init__(daemon=True)
        self.measure, self.peak, self.done = measure, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.measure())
            except Exception:  # noqa: BLE001 - a process ending between listing and reading
                pass
            self.done.wait(0.5)

    def __enter__(self) -> PeakSampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join(5)


def file_backend(root: Path, partitions: list[str]) -> dict:
    reference = FileReference(root=root, partitions=partitions)
    reference.start()
    with PeakSampler(lambda: process_tree_rss_mb(reference.process.pid)) as sampler:
        reference.wait(1800)
    return {"wall_s": reference.seconds("RANGE_S"), "upstream_s": reference.seconds("UPSTREAM_S"),
            "peak_mb": sampler.peak, "runs": 1}


def lake_backend(root: Path, postgres, redis, workers: int, run_size: int, partitions: list[str]) -> dict:
    lake = LakeDeployment(root=root, postgres=postgres, redis=redis, workers=workers, run_size=run_size,
                          name=f"lake{workers}", redis_databases=(2 * workers, 2 * workers + 1))
    lake.prepare()
    started = time.monotonic()
    upstream = lake.start_services()
    try:
        lake.wait_ready(upstream)
        upstream_s = time.monotonic() - started
        with PeakSampler(lake.rss_mb) as sampler:
            launched = time.monotonic()
            backfill_id = lake.launch_backfill(partitions)
            instance = lake.instance()

            def complete() -> bool:
                status = instance.get_backfill(backfill_id).status
                return status.value in BACKFILL_ENDED


            wait_until(complete, 3600, "the backfill", lake.logs.get("daemon"), every_s=1)
            wall = time.monotonic() - launched
        status = instance.get_backfill(backfill_id).status
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        failed = [r.run_id for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        return {"wall_s": wall, "upstream_s": upstream_s, "peak_mb": sampler.peak, "runs": len(runs),
                "status": status.value, "failed_runs": len(failed)}
    finally:
        lake.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--run-size", type=int, default=10)
    parser.add_argument("--first-day", default="2026-08-01")
    args = parser.parse_args()
    partitions = days(date.fromisoformat(args.first_day), args.days)
    if postgres_bin_dir() is None or redis_server_path() is None:
        sys.exit("bench_scale needs PostgreSQL 15 and Redis: run `bash scripts/install_services.sh`")
    load_before = os.getloadavg()
    postgres = start_postgres(postgres_bin_dir())
    redis = start_redis(redis_server_path())
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_scale_") as folder:
            root = Path(folder)
            results["file, in process"] = file_backend(root, partitions)
            print(f"file, in process: {results['file, in process']}", flush=True)
            for workers in (1, 2):
                name = f"lake, {workers} worker{'s' if workers > 1 else ''}"
                results[name] = lake_backend(root, postgres, redis, workers, args.run_size, partitions)
                print(f"{name}: {results[name]}", flush=True)
    finally:
        stop_redis(redis)
        stop_postgres(postgres)
    load_after = os.getloadavg()
    print(f"\nBackfill of {args.days} daily partitions ({partitions[0]} .. {partitions[-1]}) of "
          f"kalshi_quotes, kalshi_trades, kalshi_forecast_percentiles, distribution_snapshots; lake runs of "
          f"{args.run_size} partitions; {os.cpu_count()} cores")
    print(f"{'configuration':<20} {'wall s':>8} {'runs':>5} {'peak MB':>8} {'upstream s':>11}")
    for name, result in results.items():
        print(f"{name:<20} {result['wall_s']:>8.1f} {result['runs']:>5} {result['peak_mb']:>8.0f} "
              f"{result['upstream_s']:>11.1f}")
    file_s = results["file, in process"]["wall_s"]
    one, two = results["lake, 1 worker"]["wall_s"], results["lake, 2 workers"]["wall_s"]
    print(f"speed of lake/1 worker vs file: {file_s / one:.2f}x; lake/2 workers vs file: {file_s / two:.2f}x; "
          f"2 workers vs 1: {one / two:.2f}x (aim: >= 1.6x)")
    print(f"load average (1, 5, 15 min) before {tuple(round(x, 1) for x in load_before)}, "
          f"after {tuple(round(x, 1) for x in load_after)}: the cores are shared, read ratios, not seconds")


if __name__ == "__main__":
    main()
