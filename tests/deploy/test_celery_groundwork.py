"""Dagster for many workers, a spike for issue 18: the instance in a real PostgreSQL (deploy/dagster.yaml),
runs queued and started by a real `dagster-daemon`, steps executed by two real `dagster-celery worker start`
workers with a real Redis as broker. The code location is a throwaway one (tests/deploy/celery_location.py).

The recipe, as these tests run it:
- every process gets DAGSTER_HOME (holding deploy/dagster.yaml), DAGSTER_PG_* and PGPASSFILE (libpq reads
  the password from it), and CELERY_BROKER_URL / CELERY_RESULT_BACKEND (the Redis URL, password included):
  secrets travel in the environment only. `dagster-celery worker start -A dagster_celery.app -n NAME` is
  started without `-y`: with `-y` it would copy the broker URL, password and all, into a .py file under
  DAGSTER_HOME/dagster_celery/config/.
- the executor is `celery_executor.configured({"broker": {"env": ...}, ...})` on the Definitions; a worker
  rebuilds the job from the run's code pointer (module + working directory), so every worker machine needs
  the code at the same path and the same Python environment.
- runs are launched through the public GraphQL API of a `dagster-webserver` (launchPartitionBackfill,
  launchRun); the daemon's backfill loop wakes every 30 s (fixed in Dagster), the queue every second.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
import requests

from tests.deploy.lake_cluster import LAUNCH_BACKFILL, process_tree_rss_mb
from tests.e2e.conftest import stop, wait_for
from tests.servers import PostgresServer, RedisServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "tests.deploy.celery_location"
BACKFILL_DAYS = [f"2026-01-{day:02d}" for day in range(1, 9)]  # 8 partitions: 4 runs of RUN_SIZE=2
KILLED_DAY = "2026-02-01"
MAX_RUNTIME_S = 12  # from run start; the held step starts ~3-6 s after it


@dataclass
class Cluster:
    home: Path
    work: Path  # GROUNDWORK_DIR: the hold and started markers of the asset
    env: dict[str, str] = field(repr=False)
    url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    logs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)

    def start(self, name: str, *args: str) -> None:
        self.logs[name] = self.home / f"{name}.log"
        with self.logs[name].open("w") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / args[0]), *args[1:]], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def ensure_daemon(self) -> None:
        """Start the daemon once. Tests launch first and start it after: its backfill loop wakes every 30 s
        (fixed in Dagster) and its first pass, on start, then picks the new backfill up at once."""
        if "daemon" not in self.processes:
            self.timings["daemon started at"] = time.monotonic() - self.t0
            self.start("daemon", "dagster-daemon", "run", "-w", str(self.home / "workspace.yaml"))

    def graphql(self, query: str, variables: dict) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))


def session_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])


@pytest.fixture(scope="module")
def cluster(postgres_server: PostgresServer, redis_server: RedisServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("celery_cluster")
    home, work = root / "dagster_home", root / "work"
    home.mkdir()
    work.mkdir()
    # The steps of this location run as Celery tasks (celery_executor), so its runs stay with the default
    # run launcher (a subprocess of the daemon), not deploy/dagster.yaml's CeleryRunLauncher.
    instance_yaml = (REPO / "deploy" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(re.sub(r"(?ms)^run_launcher:.*?(?=^\S)", "", instance_yaml))
    (home / "workspace.yaml").write_text(
        f"load_from:\n  - python_module:\n      module_name: {LOCATION}\n      working_directory: {REPO}\n")
    database = f"dagster_{os.getpid()}"
    postgres_server.create_database(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KALSHI_", "CELERY_", "PG"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # `dagster-celery worker start` runs `celery` from PATH
        DAGSTER_HOME=str(home), DAGSTER_PG_HOST=postgres_server.host, DAGSTER_PG_PORT=str(postgres_server.port),
        DAGSTER_PG_USER=postgres_server.user, DAGSTER_PG_DB=database, **postgres_server.env,
        CELERY_BROKER_URL=redis_server.url(0), CELERY_RESULT_BACKEND=redis_server.url(1),
        GROUNDWORK_DIR=str(work), GROUNDWORK_STEP_SECONDS="1", PYTHONUNBUFFERED="1",
    )
    port = free_port()
    found = Cluster(home=home, work=work, env=env, url=f"http://127.0.0.1:{port}")
    saved = dict(os.environ)
    os.environ.update({k: env[k] for k in env if k.startswith(("DAGSTER_PG_", "PGPASSFILE"))})  # for instance()
    try:
        started = found.t0
        # The instance's tables first, by one process: processes meeting an empty Dagster database at once
        # race to create them ("relation instance_info already exists").
        found.start("migrate", "dagster", "instance", "migrate")
        assert found.processes["migrate"].wait(300) == 0, found.logs["migrate"].read_text()[-3000:]
        found.start("webserver", "dagster-webserver", "-h", "127.0.0.1", "-p", str(port),
                    "-w", str(home / "workspace.yaml"))
        for name in ("w1", "w2"):
            found.start(name, "dagster-celery", "worker", "start", "-A", "dagster_celery.app", "-n", name,
                        "--", "--concurrency=1")
        for name in ("w1", "w2"):
            wait_for(lambda name=name: f"{name}@" in found.logs[name].read_text()
                     and " ready." in found.logs[name].read_text(), 120, f"celery worker {name}",
                     log=found.logs[name])
            found.timings[f"{name} ready"] = time.monotonic() - started
        wait_for(lambda: _answers(found.url), 120, "dagster-webserver", log=found.logs["webserver"])
        found.timings["webserver ready"] = time.monotonic() - started
        yield found
    finally:
        for process in found.processes.values():
            stop(process, grace_s=5)  # the daemon's graceful stop takes ~10 s; its state is thrown away
        os.environ.clear()
        os.environ.update(saved)
        print(f"\ncelery cluster timings (s, MB): { {k: round(v, 1) for k, v in found.timings.items()} }")


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/server_info", timeout=2).ok
    except requests.RequestException:
        return False


LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


def step_workers(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, int]]:
    """(Celery worker hostname, pid of the process that ran the step) for each step of a run."""
    hostnames, pids = [], []
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "ENGINE_EVENT" and "in celery worker" in (record.event_log_entry.message or ""):
            hostnames.append(event.engine_event_data.metadata["Celery worker"].value)
        if event.event_type_value == "STEP_START":
            pids.append(event.pid)
    return list(zip(hostnames, pids, strict=True))


def finished(runs: list[dg.DagsterRun]) -> bool:
    return bool(runs) and all(run.is_finished for run in runs)


def test_a_backfill_runs_in_chunks_of_n_partitions_with_steps_on_both_workers(cluster: Cluster) -> None:
    instance = cluster.instance()
    launched = time.monotonic()
    answer = cluster.graphql(LAUNCH_BACKFILL, {"params": {
        "assetSelection": [{"path": ["lake_rows"]}], "partitionNames": BACKFILL_DAYS,
        "tags": [{"key": "groundwork/rendezvous", "value": "2"}]}})
    backfill_id = answer["launchPartitionBackfill"]["backfillId"]
    cluster.ensure_daemon()
    tagged = dg.RunsFilter(tags={"dagster/backfill": backfill_id})

    def all_runs_done() -> list[dg.DagsterRun] | None:
        peak = cluster.timings.get("daemon tree peak RSS MB (code server + run workers)", 0.0)
        now = process_tree_rss_mb(cluster.processes["daemon"].pid)
        cluster.timings["daemon tree peak RSS MB (code server + run workers)"] = max(peak, now)
        runs = instance.get_runs(filters=tagged)
        return runs if len(runs) == len(BACKFILL_DAYS) // 2 and finished(runs) else None

    runs = wait_for(all_runs_done, 150, f"backfill {backfill_id}", log=cluster.logs["daemon"])
    cluster.timings["backfill of 8 partitions (launch to last run end)"] = time.monotonic() - launched
    records = instance.get_run_records(filters=tagged)
    first_start = min(r.start_time for r in records)
    launched_at = time.time() - (time.monotonic() - launched)
    cluster.timings["backfill: launch to first run start"] = first_start - launched_at
    cluster.timings["backfill: first run start to last run end"] = max(r.end_time for r in records) - first_start
    print("\nbackfill runs (created, started, ended; s after launch):",
          sorted((round(r.create_timestamp.timestamp() - launched_at, 1), round(r.start_time - launched_at, 1),
                  round(r.end_time - launched_at, 1)) for r in records))
    cluster.timings["backfill: mean run duration"] = sum(r.end_time - r.start_time for r in records) / len(records)
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    ranges = sorted((run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"])
                    for run in runs)
    assert ranges == [(BACKFILL_DAYS[i], BACKFILL_DAYS[i + 1]) for i in range(0, len(BACKFILL_DAYS), 2)]

    placements = [placement for run in runs for placement in step_workers(instance, run.run_id)]
    assert len(placements) == len(runs), placements  # one step per run, each announced by its worker
    hostnames = {hostname.split("@")[0] for hostname, _ in placements}
    assert hostnames == {"w1", "w2"}, placements
    worker_sessions = {cluster.processes[name].pid: name for name in ("w1", "w2")}
    for hostname, pid in placements:  # the step ran inside the worker that announced it
        assert worker_sessions[session_of(pid)] == hostname.split("@")[0]

    materialized = instance.get_materialized_partitions(dg.AssetKey("lake_rows"))
    assert set(BACKFILL_DAYS) <= materialized
    for name in ("w1", "w2"):
        cluster.timings[f"{name} RSS MB (wrapper + celery + 1 child)"] = process_tree_rss_mb(cluster.processes[name].pid)
    cluster.timings["daemon RSS MB (with its code server)"] = process_tree_rss_mb(cluster.processes["daemon"].pid)


def test_secrets_stay_out_of_worker_logs_and_argv(cluster: Cluster, redis_server: RedisServer,
                                                  postgres_server: PostgresServer) -> None:
    for name, process in cluster.processes.items():
        text = cluster.logs[name].read_text()
        # A live process's argv as the kernel shows it; one that has finished (the migration) by what it was given.
        argv = (Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace") if process.poll() is None
                else " ".join(map(str, process.args)))
        for secret in (redis_server.password, postgres_server.password):
            assert secret not in text and secret not in argv, name
    assert "redis://:**@127.0.0.1" in cluster.logs["w1"].read_text()  # Celery masks the password
    written = list((cluster.home / "dagster_celery").rglob("*.py"))  # what `worker start` leaves behind
    assert written and not any(redis_server.password in path.read_text() for path in written)


def test_a_worker_killed_mid_run_fails_the_run_at_its_max_runtime_and_the_retry_succeeds(cluster: Cluster) -> None:
    """Killing a whole worker (SIGKILL to its process group) loses its Celery task: Celery acknowledged it on
    receipt, so no one runs it again, and the run's orchestrating process waits on it forever. Run monitoring's
    max runtime (here the dagster/max_runtime tag) fails the run; run_retries then re-executes it."""
    instance = cluster.instance()
    cluster.ensure_daemon()
    hold = cluster.work / f"hold-{KILLED_DAY}"
    hold.touch()
    answer = cluster.graphql(LAUNCH_RUN, {"params": {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                     "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["lake_rows"]}]},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": KILLED_DAY},
                                       {"key": "dagster/max_runtime", "value": str(MAX_RUNTIME_S)}]}}})
    assert answer["launchRun"]["__typename"] == "LaunchRunSuccess", answer
    run_id = answer["launchRun"]["run"]["runId"]
    started = cluster.work / f"started-{KILLED_DAY}"
    wait_for(started.exists, 120, "the held step to start", log=cluster.logs["daemon"])
    step_pid = int(started.read_text())
    victim = {cluster.processes[name].pid: name for name in ("w1", "w2")}[session_of(step_pid)]
    killed_at = time.monotonic()
    os.killpg(cluster.processes[victim].pid, 9)
    cluster.processes[victim].wait(10)
    started.unlink()
    hold.unlink()  # the retry must not be held

    original = wait_for(lambda: (r := instance.get_run_by_id(run_id)) and r.is_finished and r, 120,
                        "the run to end", log=cluster.logs["daemon"])
    cluster.timings["kill to run failure"] = time.monotonic() - killed_at
    assert original.status == dg.DagsterRunStatus.FAILURE
    retried = wait_for(lambda: finished(r := instance.get_runs(filters=dg.RunsFilter(
        tags={"dagster/parent_run_id": run_id}))) and r, 120, "the retry run", log=cluster.logs["daemon"])
    cluster.timings["kill to retry success"] = time.monotonic() - killed_at
    assert [run.status for run in retried] == [dg.DagsterRunStatus.SUCCESS]
    survivor = "w2" if victim == "w1" else "w1"
    assert [hostname.split("@")[0] for hostname, _ in step_workers(instance, retried[0].run_id)] == [survivor]
    events = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("lake_rows"), asset_partitions=[KILLED_DAY]), limit=10)
    assert len(events.records) == 1  # the killed step wrote nothing; the retry wrote once
    print(f"\nkilled {victim} mid-run: {json.dumps({k: round(v, 1) for k, v in cluster.timings.items()})}")
