"""The project's pipeline deployed past one machine, on this one: the Dagster instance in PostgreSQL
(deploy/dagster.yaml: runs queued by the daemon and executed inside Celery workers by its CeleryRunLauncher),
a webserver, the daemon, N `dagster-celery worker start` workers (Redis as broker), and the warehouse a DuckLake (catalog in the same PostgreSQL, Parquet under a directory). Also the single-file
reference: the same range in one in-process run, as docs/OPERATIONS.md documents it.

Used by tests/deploy/test_lake_backfill.py and benchmarks/bench_scale.py. Secrets travel in the environment
only (PGPASSFILE, CELERY_BROKER_URL / CELERY_RESULT_BACKEND), never argv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import requests

from kalshi_assets.warehouse import db
from tests.e2e.conftest import wait_for
from tests.servers import PostgresServer, RedisServer, free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UPSTREAM = "kalshi_series,kalshi_events,kalshi_markets"
PARTITIONED = ("kalshi_quotes", "kalshi_trades", "kalshi_forecast_percentiles", "distribution_snapshots")

# A backfill's terminal statuses (Dagster's BulkActionStatus values; the enum is not public API).
BACKFILL_ENDED = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


def days(first: date, count: int) -> list[str]:
    return [(first + timedelta(days=k)).isoformat() for k in range(count)]


def base_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KALSHI_", "CELERY_", "PG"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    return env


def process_tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


def stop(process: subprocess.Popen, grace_s: float = 5) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after `grace_s`."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, 15)
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(10)
        except ProcessLookupError:
            pass


def _comparable(column: db.Column) -> db.Composed:
    """A column as it is compared: floating-point values to 9 decimals, and a zero as +0.0 (the lake reads
    back the file's -0.0 as 0.0: equal numbers, different text; and sums over differently ordered rows may
    differ in the last bits)."""
    if column.data_type in ("DOUBLE", "FLOAT"):
        return db.compose("(round({c}, 9) + 0.0)", c=column.name)
    if column.data_type in ("DOUBLE[]", "FLOAT[]"):
        return db.compose("list_transform({c}, x -> round(x, 9) + 0.0)", c=column.name)
    return db.compose("{c}", c=column.name)


def fingerprint(con: duckdb.DuckDBPyConnection, by_column: bool = False) -> dict[str, tuple[int, str]]:
    """Per table of schema.sql: rows, and a digest of every row without wall-clock columns (*_at, run_id);
    with `by_column`, per (table, column) instead (to say where two warehouses differ)."""
    out = {}
    for table in db.schema_reference().tables:
        kept = [c for c in db.columns(con, table) if not c.name.endswith("_at") and c.name != "run_id"]
        groups = [[c] for c in kept] if by_column else [kept]
        for group in groups:
            values = db.join(", ", (_comparable(c) for c in group))
            sql = db.compose("SELECT count(*), md5(COALESCE(string_agg(CAST(t AS VARCHAR), '\n' ORDER BY t), '')) "
                             "FROM (SELECT ROW({values}) AS t FROM {table})", values=values, table=table)
            out[f"{table}.{group[0].name}" if by_column else table] = tuple(con.execute(sql).fetchone())
    return out


@dataclass
class FileReference:
    """The single-file backend over a range: upstream, then the partitioned assets in one in-process run."""

    root: Path
    partitions: Sequence[str]
    run_size: int | None = None  # None: one run over the range (the default); N: runs of N days, in order
    process: subprocess.Popen | None = None

    @property
    def warehouse(self) -> Path:
        return self.root / "file.duckdb"

    @property
    def log(self) -> Path:
        return self.root / "file_reference.log"

    def start(self) -> None:
        home = self.root / "file_home"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        env = {**base_environment(), "DAGSTER_HOME": str(home), "KALSHI_WAREHOUSE": str(self.warehouse),
               "KALSHI_AUDIT_DIR": str(self.root / "file_audit")}
        # Each step prints its own wall time on a line of its own (the benchmark reads them).
        size = self.run_size or len(self.partitions)
        chunks = [self.partitions[k:k + size] for k in range(0, len(self.partitions), size)]
        ranges = " && ".join(
            f"{BIN}/dagster asset materialize -m kalshi_assets.definitions --select {','.join(PARTITIONED)} "
            f"--partition-range {chunk[0]}...{chunk[-1]}" for chunk in chunks)
        script = (
            f"s=$(date +%s.%N); {BIN}/dagster asset materialize -m kalshi_assets.definitions --select {UPSTREAM} "
            f"&& echo UPSTREAM_S $(echo \"$(date +%s.%N) - $s\" | bc) "
            f"&& s=$(date +%s.%N) && {ranges} && echo RANGE_S $(echo \"$(date +%s.%N) - $s\" | bc)")
        with self.log.open("w") as out:
            self.process = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout_s: float = 900) -> None:
        assert self.process is not None
        code = self.process.wait(timeout_s)
        if code != 0:
            raise RuntimeError(f"the file reference failed ({code}):\n{self.log.read_text()[-3000:]}")

    def seconds(self, label: str) -> float:
        line = next(line for line in self.log.read_text().splitlines() if line.startswith(label + " "))
        return float(line.split()[1])


@dataclass
class LakeDeployment:
    """Webserver, daemon and `workers` Celery workers over a fresh instance database and a fresh lake."""

    root: Path
    postgres: PostgresServer
    redis: RedisServer
    workers: int = 2
    run_size: int = 10
    name: str = "lake"
    redis_databases: tuple[int, int] = (2, 3)  # broker, result backend: apart from other clusters' on one Redis
    env: dict[str, str] = field(default_factory=dict, repr=False)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    logs: dict[str, Path] = field(default_factory=dict)
    url: str = ""
    lake_target: str = ""
    lake_env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def home(self) -> Path:
        return self.root / f"{self.name}_home"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        # Declarative automation off (here and the kalshi_automation sensor, stopped in start_services): it would
        # also materialize what the backfill makes eligible downstream (the next day's snapshots, research),
        # and the comparison is with exactly the backfilled range.
        (self.home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text()
                                                + "\nauto_materialize:\n  enabled: false\n")
        (self.home / "workspace.yaml").write_text(
            "load_from:\n  - python_module:\n      module_name: kalshi_assets.definitions\n"
            f"      working_directory: {REPO}\n")
        suffix = f"{self.name}_{os.getpid()}"
        self.postgres.create_database(f"dagster_{suffix}")
        lake_dsn = self.postgres.create_database(f"lake_{suffix}")
        self.lake_target = "ducklake:postgres:" + lake_dsn
        self.lake_env = {**self.postgres.env, "KALSHI_LAKE_DATA": str(self.root / f"{self.name}_data")}
        self.env = {
            **base_environment(), **self.lake_env, "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_HOST": self.postgres.host, "DAGSTER_PG_PORT": str(self.postgres.port),
            "DAGSTER_PG_USER": self.postgres.user, "DAGSTER_PG_DB": f"dagster_{suffix}",
            "CELERY_BROKER_URL": self.redis.url(self.redis_databases[0]),
            "CELERY_RESULT_BACKEND": self.redis.url(self.redis_databases[1]),
            "KALSHI_WAREHOUSE": self.lake_target,
            "KALSHI_BACKFILL_RUN_SIZE": str(self.run_size), "KALSHI_AUDIT_DIR": str(self.root / f"{self.name}_audit"),
        }

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.logs[name] = self.home / f"{name}.log"
        with self.logs[name].open("w") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / args[0]), *args[1:]], cwd=REPO, env=env or self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        return self.processes[name]

    def worker_names(self) -> list[str]:
        return [f"w{k + 1}" for k in range(self.workers)]

    def start_services(self) -> subprocess.Popen:
        """Upstream assets into the lake (in process), the webserver and the workers, all at once; returns
        the upstream process (wait for it, then for `ready`)."""
        # The instance's tables first, by one process: processes that meet an empty Dagster database at the
        # same moment race to create them ("relation instance_info already exists").
        migrate = self.start("migrate", "dagster", "instance", "migrate")
        if migrate.wait(300) != 0:
            raise RuntimeError(f"creating the Dagster instance failed:\n{self.logs['migrate'].read_text()[-3000:]}")
        upstream = self.start("upstream", "dagster", "asset", "materialize", "-m", "kalshi_assets.definitions",
                              "--select", UPSTREAM, env={**self.env, "KALSHI_EXECUTOR": "in_process"})
        self.start("stop_automation", "dagster", "sensor", "stop", "kalshi_automation", "-w",
                   str(self.home / "workspace.yaml"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.start("webserver", "dagster-webserver", "-h", "127.0.0.1", "-p", str(port),
                   "-w", str(self.home / "workspace.yaml"))
        for name in self.worker_names():
            self.start(name, "dagster-celery", "worker", "start", "-A", "dagster_celery.app", "-n", name,
                       "--", "--concurrency=1")
        return upstream

    def wait_ready(self, upstream: subprocess.Popen, timeout_s: float = 300) -> None:
        if upstream.wait(timeout_s) != 0:
            raise RuntimeError(f"upstream into the lake failed:\n{self.logs['upstream'].read_text()[-3000:]}")
        if self.processes["stop_automation"].wait(timeout_s) != 0:
            raise RuntimeError(f"stopping the automation sensor failed:\n{self.logs['stop_automation'].read_text()}")
        for name in self.worker_names():
            wait_for(lambda name=name: " ready." in self.logs[name].read_text(), timeout_s, f"worker {name}",
                     log=self.logs[name])
        wait_for(self._answers, timeout_s, "dagster-webserver", log=self.logs["webserver"])

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/server_info", timeout=2).ok
        except requests.RequestException:
            return False

    def graphql(self, query: str, variables: dict) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=120)
        answer.raise_for_status()
        body = answer.json()
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]

    def launch_backfill(self, partitions: Sequence[str]) -> str:
        """Submit the backfill, then start the daemon: its first backfill pass, on start, picks it up at once
        (the loop then wakes every 30 s, fixed in Dagster)."""
        # Per asset, exactly the range: with assetSelection + partitionNames Dagster would also target the
        # snapshots of the day after the range (they read its last day's quotes: the previous-day mapping).
        answer = self.graphql(LAUNCH_BACKFILL, {"params": {"partitionsByAssets": [
            {"assetKey": {"path": [name]}, "partitions": {"range": {"start": partitions[0], "end": partitions[-1]}}}
            for name in PARTITIONED]}})
        result = answer["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(result)
        if "daemon" not in self.processes:
            self.start("daemon", "dagster-daemon", "run", "-w", str(self.home / "workspace.yaml"))
        return result["backfillId"]

    def worker_of(self, pid: int) -> str | None:
        """Which worker a process belongs to (its session is the worker's: started with start_new_session)."""
        try:
            session = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
        except OSError:
            return None
        return next((name for name, p in self.processes.items() if p.pid == session), None)

    def instance(self) -> dg.DagsterInstance:
        for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_DB", "PGPASSFILE"):
            os.environ[key] = self.env[key]
        return dg.DagsterInstance.from_config(str(self.home))

    def rss_mb(self) -> float:
        return sum(process_tree_rss_mb(p.pid) for name, p in self.processes.items()
                   if name not in ("upstream", "stop_automation") and p.poll() is None)

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)


def step_pids(instance: dg.DagsterInstance, run_id: str) -> list[int]:
    """The pid of the process that ran each step of a run (its STEP_START events)."""
    return [record.event_log_entry.dagster_event.pid for record in instance.get_records_for_run(run_id).records
            if record.event_log_entry.dagster_event is not None
            and record.event_log_entry.dagster_event.event_type_value == "STEP_START"]
