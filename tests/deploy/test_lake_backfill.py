"""The project's own pipeline past one machine (issue 18): the Dagster instance in a real PostgreSQL, the daemon
queueing runs and launching each into one of two real `dagster-celery worker start` workers (Redis as broker;
deploy/dagster.yaml's CeleryRunLauncher), and the warehouse a DuckLake (catalog in the same PostgreSQL,
Parquet in a temp dir).

- 60 daily partitions of the partitioned assets backfill as runs of 10 (the lake's BackfillPolicy), run on
  both workers; every table of the lake then equals, row for row, what the single DuckDB file holds after the
  same range materialized in process in the same runs of 10 days (the documented `dagster asset materialize`
  commands, one range after another);
- while the backfill writes, `kalshi-assets events` and `service.get_distributions` answer without waiting,
  each from one committed snapshot (every ok snapshot read has its bins: they are written in one transaction);
- a worker killed mid-run: the run fails at its max runtime, run_retries re-executes it on the other worker,
  and the rows are the same as before.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pytest

from kalshi_assets import service
from kalshi_assets.warehouse import db
from kalshi_assets.warehouse import distributions as distribution_store
from tests.deploy.lake_cluster import (
    BACKFILL_ENDED,
    BIN,
    PARTITIONED,
    FileReference,
    LakeDeployment,
    days,
    fingerprint,
    process_tree_rss_mb,
    step_pids,
)
from tests.deploy.test_celery_groundwork import LAUNCH_RUN, finished
from tests.e2e.conftest import wait_for
from tests.servers import PostgresServer, RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DAYS, RUN_SIZE = 60, 10
PARTITIONS = days(date(2026, 8, 1), DAYS)
FILLED = {"kalshi_series", "kalshi_events", "kalshi_markets", "kalshi_quotes", "kalshi_trades",
          "kalshi_forecast_percentiles", "distribution_snapshots", "distribution_snapshot_bins"}
MAX_RUNTIME_S = 30  # from run start; its retry (a run of ten days, same tags) took 8 s alone, 15 s at load 13


@dataclass
class LakeCluster:
    deployment: LakeDeployment
    reference: FileReference
    timings: dict[str, float]

    @property
    def lake_target(self) -> str:
        return self.deployment.lake_target


@pytest.fixture(scope="module")
def lake_cluster(postgres_server: PostgresServer, redis_server: RedisServer,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeCluster]:
    root = tmp_path_factory.mktemp("lake_cluster")
    deployment = LakeDeployment(root=root, postgres=postgres_server, redis=redis_server, workers=2,
                                run_size=RUN_SIZE, redis_databases=(2, 3))
    deployment.prepare()
    # The file backend over the same range in the same runs of 10 days (a partition's snapshots may depend on
    # where its run starts: see the report of issue 18), one after another, in process.
    reference = FileReference(root=root, partitions=PARTITIONS, run_size=RUN_SIZE)
    found = LakeCluster(deployment=deployment, reference=reference, timings={})
    saved = dict(os.environ)
    started = time.monotonic()
    try:
        upstream = deployment.start_services()
        reference.start()  # the single file over the same range, meanwhile
        deployment.wait_ready(upstream)
        found.timings["cluster ready"] = time.monotonic() - started
        os.environ.update(deployment.lake_env)  # this process reads the lake too
        yield found
    finally:
        deployment.stop_all()
        if reference.process is not None and reference.process.poll() is None:
            reference.process.kill()
        os.environ.clear()
        os.environ.update(saved)
        print(f"\nlake cluster timings (s, MB): { {k: round(v, 1) for k, v in found.timings.items()} }")


class Readers(threading.Thread):
    """Reads the lake while the backfill writes: the service and the CLI, each timed, plus one snapshot check."""

    def __init__(self, lake: LakeCluster, instance: dg.DagsterInstance, event_ticker: str) -> None:
        super().__init__(daemon=True)
        self.lake, self.instance, self.event_ticker = lake, instance, event_ticker
        self.stop_reading = threading.Event()
        self.reads: list[dict] = []
        self.errors: list[str] = []

    def run(self) -> None:
        env = {**self.lake.deployment.env}
        while not self.stop_reading.is_set():
            try:
                busy = len(self.instance.get_run_ids(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])))
                started = time.monotonic()
                snapshots = service.get_distributions(self.event_ticker, warehouse=self.lake.lake_target)
                distributions_s = time.monotonic() - started
                started = time.monotonic()
                cli = subprocess.run([str(BIN / "kalshi-assets"), "events", "--limit", "5"], env=env,
                                     capture_output=True, text=True, timeout=120)
                events_s = time.monotonic() - started
                with db.connection(self.lake.lake_target, read_only=True) as con:
                    con.execute("BEGIN")
                    checks = distribution_store.bin_checks(con)
                    con.execute("COMMIT")
                self.reads.append({"runs_in_progress": busy, "distributions_s": distributions_s,
                                   "events_s": events_s, "snapshots": len(snapshots), "cli_rc": cli.returncode,
                                   "ok_without_bins": checks["ok_without_bins"],
                                   "bins_of_failed_snapshots": checks["bins_of_failed_snapshots"]})
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.errors.append(f"{type(error).__name__}: {error}")
            self.stop_reading.wait(1)


def _days_of(run: dg.DagsterRun) -> tuple[str, str]:
    return run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]


def test_sixty_partitions_backfill_in_runs_of_ten_on_two_workers_and_equal_the_file_backend(
        lake_cluster: LakeCluster) -> None:
    deployment = lake_cluster.deployment
    with db.connection(lake_cluster.lake_target, read_only=True) as con:
        event_ticker = con.execute(  # an event released inside the range: it has snapshots there
            "SELECT event_ticker FROM event_release WHERE release_time > ? AND release_time < ? "
            "ORDER BY release_time, event_ticker LIMIT 1", [PARTITIONS[5], PARTITIONS[-1]]).fetchone()[0]
    launched = time.monotonic()
    backfill_id = deployment.launch_backfill(PARTITIONS)
    instance = deployment.instance()
    readers = Readers(lake_cluster, instance, event_ticker)
    readers.start()
    tagged = dg.RunsFilter(tags={"dagster/backfill": backfill_id})
    peaks = {"w1": 0.0, "w2": 0.0, "daemon": 0.0}

    def backfill_done() -> list[dg.DagsterRun] | None:
        for name in peaks:
            peaks[name] = max(peaks[name], process_tree_rss_mb(deployment.processes[name].pid))
        backfill = instance.get_backfill(backfill_id)
        runs = instance.get_runs(filters=tagged)
        return runs if backfill.status.value in BACKFILL_ENDED and finished(runs) else None

    try:
        runs = wait_for(backfill_done, 900, f"backfill {backfill_id}", interval_s=1, log=deployment.logs["daemon"])
    finally:
        readers.stop_reading.set()
        readers.join(120)
    lake_cluster.timings["backfill of 60 partitions (launch to end)"] = time.monotonic() - launched
    for name, peak in peaks.items():
        lake_cluster.timings[f"{name} peak RSS MB"] = peak
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}, [(r.run_id, r.status) for r in runs]
    assert instance.get_backfill(backfill_id).status.value == "COMPLETED_SUCCESS"
    runs_of_ten = {(PARTITIONS[k], PARTITIONS[k + RUN_SIZE - 1]) for k in range(0, DAYS, RUN_SIZE)}
    ingest = [r for r in runs if dg.AssetKey("kalshi_quotes") in (r.asset_selection or set())]
    assert {_days_of(r) for r in ingest} == runs_of_ten, [_days_of(r) for r in ingest]
    # distribution_snapshots maps one upstream day back, so Dagster requests a day once the ingest runs of both
    # days have landed: when two neighbouring ingest runs finish out of order, a downstream chunk is cut short
    # (seen once: 08-31..09-09 and 09-10 alone). Every run still spans at most RUN_SIZE days, and the downstream
    # runs cover each day exactly once.
    downstream = [_days_of(r) for r in runs if r not in ingest]
    spans = [PARTITIONS.index(end) - PARTITIONS.index(start) + 1 for start, end in downstream]
    assert all(1 <= n <= RUN_SIZE for n in spans) and sum(spans) == DAYS, downstream
    assert set().union(*(PARTITIONS[PARTITIONS.index(a):PARTITIONS.index(b) + 1] for a, b in downstream)) == set(
        PARTITIONS), downstream
    placements = {run.run_id: {deployment.worker_of(pid) for pid in step_pids(instance, run.run_id)} for run in runs}
    assert all(len(workers) == 1 for workers in placements.values()), placements  # a run stays in its worker
    assert set().union(*placements.values()) == {"w1", "w2"}, placements
    for key in PARTITIONED:
        assert set(PARTITIONS) <= instance.get_materialized_partitions(dg.AssetKey(key)), key

    # Readers answered during the backfill, without waiting, from one snapshot each.
    assert not readers.errors, readers.errors[:3]
    during = [read for read in readers.reads if read["runs_in_progress"]]
    assert during, readers.reads
    print(f"\nreads while runs were in progress: {len(during)}; slowest get_distributions "
          f"{max(r['distributions_s'] for r in during):.1f} s, slowest `kalshi-assets events` "
          f"{max(r['events_s'] for r in during):.1f} s")
    assert all(read["cli_rc"] == 0 for read in readers.reads)
    assert all(read["ok_without_bins"] == 0 and read["bins_of_failed_snapshots"] == 0 for read in readers.reads)
    assert max(r["distributions_s"] for r in during) < 30 and max(r["events_s"] for r in during) < 60

    # Row for row what the single file holds after the same range.
    lake_cluster.reference.wait(900)
    with db.connection(lake_cluster.reference.warehouse, read_only=True) as con:
        expected = fingerprint(con)
    with db.connection(lake_cluster.lake_target, read_only=True) as con:
        got = fingerprint(con)
    assert all(expected[table][0] > 0 for table in FILLED), {t: expected[t][0] for t in FILLED}
    if got != expected:
        with db.connection(lake_cluster.reference.warehouse, read_only=True) as con:
            expected_columns = fingerprint(con, by_column=True)
        with db.connection(lake_cluster.lake_target, read_only=True) as con:
            got_columns = fingerprint(con, by_column=True)
        differing = sorted(c for c in got_columns if got_columns[c] != expected_columns[c])
        raise AssertionError(f"the lake differs from the file in {differing}")


def test_a_worker_killed_mid_run_fails_the_run_the_retry_lands_the_same_rows(lake_cluster: LakeCluster) -> None:
    deployment = lake_cluster.deployment
    instance = deployment.instance()
    assert "daemon" in deployment.processes, "runs after the backfill test"
    with db.connection(lake_cluster.lake_target, read_only=True) as con:
        before = fingerprint(con)
    answer = deployment.graphql(LAUNCH_RUN, {"params": {
        "selector": {"repositoryLocationName": "kalshi_assets.definitions", "repositoryName": "__repository__",
                     "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["kalshi_quotes"]}]},
        "executionMetadata": {"tags": [{"key": "dagster/asset_partition_range_start", "value": PARTITIONS[20]},
                                       {"key": "dagster/asset_partition_range_end", "value": PARTITIONS[29]},
                                       {"key": "dagster/max_runtime", "value": str(MAX_RUNTIME_S)}]}}})
    assert answer["launchRun"]["__typename"] == "LaunchRunSuccess", answer
    run_id = answer["launchRun"]["run"]["runId"]

    daemon_log = deployment.logs["daemon"]
    step_pid = wait_for(lambda: step_pids(instance, run_id), 180, "the step to start in a worker", log=daemon_log)[0]
    victim = deployment.worker_of(step_pid)
    assert victim in ("w1", "w2"), step_pid
    killed_at = time.monotonic()
    os.killpg(deployment.processes[victim].pid, 9)
    deployment.processes[victim].wait(10)

    original = wait_for(lambda: (r := instance.get_run_by_id(run_id)) and r.is_finished and r, 240,
                        "the run to end", log=daemon_log)
    lake_cluster.timings["kill to run failure"] = time.monotonic() - killed_at
    assert original.status == dg.DagsterRunStatus.FAILURE
    retried = wait_for(lambda: finished(r := instance.get_runs(filters=dg.RunsFilter(
        tags={"dagster/parent_run_id": run_id}))) and r, 240, "the retry run", log=daemon_log)
    lake_cluster.timings["kill to retry success"] = time.monotonic() - killed_at
    assert [run.status for run in retried] == [dg.DagsterRunStatus.SUCCESS]
    survivor = "w2" if victim == "w1" else "w1"
    assert {deployment.worker_of(pid) for pid in step_pids(instance, retried[0].run_id)} == {survivor}
    with db.connection(lake_cluster.lake_target, read_only=True) as con:
        assert fingerprint(con) == before
