"""Materialize the whole graph in order, the way `make demo` does: the main job of the project.

Three runs, because a partition range and unpartitioned assets do not mix in one run: first the
unpartitioned assets that partitioned ones read (series, events, markets), then every partitioned
asset over the range (single-run backfill), then everything downstream. Each run is a run of a job the
code location defines (`STAGE_JOBS`, added by automation.automate), created with the origin the UI gives
the location of workspace.yaml, so the UI opens and re-executes it like a run it launched itself.

Before it starts, the runner releases runs whose process died (defs/dead_runs.py). Each run executes in
a worker thread so that SIGINT and SIGTERM reach this process at once, even while Dagster waits for a
pool slot another run holds: the run is then marked failed and its slots freed. Every Dagster event goes to `on_event` (the demo writes them to a file), and the progress of
each stage (partitions done, rows written) to `on_progress`.
"""

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

# Private Dagster APIs, each because no public one exists in Dagster 1.13:
# - the range tags of a single-run backfill (what `dagster asset materialize --partition-range` sets);
# - execute_run: run a run created beforehand (dg.execute_job creates its own run, without the origin
#   that lets the UI re-execute it, and without a run id to listen to before it starts);
# - the origin classes the webserver gives a workspace.yaml `python_module` location.
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import execute_run
from dagster._core.instance.ref import InstanceRef  # an instance of a home with overrides (defs/event_log.py)
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from kalshi_assets.defs.dead_runs import release_dead_runs
from kalshi_assets.defs.event_log import batched_event_log
from kalshi_assets.defs.metadata import WRITER_POOL
from kalshi_assets.defs.partitions import daily_partitions

LOCATION_MODULE = "kalshi_assets.definitions"
LOCATION_ATTRIBUTE = "defs"  # the Definitions object of LOCATION_MODULE
LOCATION_NAME = "kalshi_assets"  # workspace.yaml's location_name (and pyproject's code_location_name)
STAGE_JOBS: dict[str, str] = {
    "upstream": "refresh_upstream",
    "partitioned": "backfill_partitions",
    "downstream": "refresh_downstream",
}
STAGE_JOB_DESCRIPTIONS: dict[str, str] = {
    "upstream": "The unpartitioned assets the partitioned ones read (series, events, markets).",
    "partitioned": "Every partitioned asset over a range of days in one run (single-run backfill).",
    "downstream": "Every unpartitioned asset downstream of the partitioned ones (run after a backfill).",
}
# The console logger of a run stays quiet: every event reaches `on_event` (and the instance's event log).
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
INIT_LOCK = ".kalshi_assets_init.lock"
# A home whose dagster.yaml leaves storage at Dagster's SQLite default gets the batched event log.
DEFAULT_SQLITE_STORAGE = ("dagster._core.storage.sqlite_storage", "DagsterSqliteStorage")


# ------------------------------------------------------------------------------------------- plan


def plan_stages(defs: dg.Definitions) -> list[tuple[str, list[dg.AssetKey]]]:
    """(stage name, asset keys) in execution order."""
    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    partitioned = {key for key in keys if graph.get(key).partitions_def is not None}
    upstream_of_partitioned: set[dg.AssetKey] = set()
    for key in partitioned:
        upstream_of_partitioned |= _ancestors(graph, key)
    first = sorted((k for k in keys if k in upstream_of_partitioned and k not in partitioned), key=str)
    rest = sorted((k for k in keys if k not in partitioned and k not in first), key=str)
    return [("upstream", first), ("partitioned", sorted(partitioned, key=str)), ("downstream", rest)]


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    stack = list(graph.get(key).parent_keys)
    while stack:
        parent = stack.pop()
        if parent not in seen:
            seen.add(parent)
            stack.extend(graph.get(parent).parent_keys)
    return seen


def stage_jobs(defs: dg.Definitions) -> list:
    """One job per stage, for the code location (the demo's runs are runs of these jobs)."""
    return [
        dg.define_asset_job(STAGE_JOBS[name], selection=dg.AssetSelection.assets(*keys),
                            description=STAGE_JOB_DESCRIPTIONS[name])
        for name, keys in plan_stages(defs)
        if keys
    ]


def last_complete_day(source_now: date) -> str:
    """The last daily partition that the source has fully seen."""
    last = daily_partitions.get_last_partition_key()
    cap = (source_now - timedelta(days=1)).isoformat()
    return min(last, cap) if last else cap


def partition_range(source_now: datetime, start: str | None, end: str | None) -> tuple[str, str]:
    """The days to materialize: [start, end] within the daily partitions, checked."""
    first = daily_partitions.get_first_partition_key()
    start = start or first
    end = end or last_complete_day(source_now.date())
    for name, value in (("start", start), ("end", end)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"--{name} must be a day as YYYY-MM-DD, got {value!r}") from None
        if not daily_partitions.has_partition_key(value):
            raise ValueError(f"--{name} {value} is not a daily partition (they run from {first} to "
                             f"{daily_partitions.get_last_partition_key()})")
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return start, end


def source_now(defs: dg.Definitions) -> datetime:
    """The market-data source's now, from the resource as a run resolves it (EnvVar secrets included)."""
    with dg.build_resources({"market_data": defs.resources["market_data"]}) as resources:
        return resources.market_data.get_source().now()


# -------------------------------------------------------------------------------------- progress


@dataclass
class StageProgress:
    """What one stage has done so far (counted from its run's events)."""

    name: str
    job_name: str
    unit: str  # "assets" or "partitions"
    total: int
    done: int = 0
    rows: int = 0
    step: str = ""
    run_id: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass
class CheckTally:
    passed: int = 0
    failed: list[str] = field(default_factory=list)


class MaterializeError(RuntimeError):
    """A stage's run failed: the message is one line naming the run, the step and the cause."""

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunInterrupted(RuntimeError):
    """SIGINT or SIGTERM arrived while a run executed: it was marked failed and its slots freed."""


def format_event(entry: dg.EventLogEntry) -> str:
    """One line per Dagster event, like Dagster's console logger."""
    stamp = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
    kind = entry.dagster_event_type.value if entry.dagster_event_type else "LOG"
    level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(entry.level, str(entry.level))
    message = " ".join(entry.message.split())
    return f"{stamp} {level:<7} {entry.job_name} {entry.run_id[:8]} {entry.step_key or '-'} {kind}: {message}"


def failure_summary(error) -> str:
    """The innermost cause of a serialized error, on one line."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    first = (error.message or error.cls_name or "error").strip().splitlines()
    return first[0] if first else (error.cls_name or "error")


def _rows_of(materialization: dg.AssetMaterialization) -> int:
    metadata = materialization.metadata
    key = "dagster/row_count" if materialization.partition is not None else "rows_written"
    value = metadata.get(key) or metadata.get("dagster/row_count")
    return int(value.value) if value is not None and isinstance(value.value, int | float) else 0


class _EventListener:
    """Turns a run's events into progress, check counts, a failure message and event-log lines."""

    def __init__(self, progress: StageProgress, checks: CheckTally, on_event: Callable[[str], None],
                 on_progress: Callable[[StageProgress], None], log: Callable[[str], None]) -> None:
        self.progress, self.checks = progress, checks
        self.on_event, self.on_progress, self.log = on_event, on_progress, log
        self.failure: str | None = None
        self.waiting_for_pool = False

    def __call__(self, entry: dg.EventLogEntry) -> None:
        self.on_event(format_event(entry))
        event = entry.dagster_event
        if event is None:
            return
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            self.progress.step = entry.step_key or ""
            self.waiting_for_pool = False
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self.progress.done += 1
            self.progress.rows += _rows_of(event.event_specific_data.materialization)
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                self.checks.passed += 1
            else:
                self.checks.failed.append(evaluation.asset_check_key.to_user_string())
        elif kind == dg.DagsterEventType.STEP_FAILURE and self.failure is None:
            self.failure = f"step {entry.step_key} failed: {failure_summary(event.event_specific_data.error)}"
        elif kind == dg.DagsterEventType.RUN_FAILURE and self.failure is None:
            self.failure = entry.message
        elif kind == dg.DagsterEventType.ENGINE_EVENT and "blocked by limit for pool" in (entry.message or ""):
            if not self.waiting_for_pool:
                self.log(f"{entry.step_key} waits for the {WRITER_POOL} pool, held by another run "
                         "(Ctrl-C or SIGTERM stops waiting; `kalshi-assets release-runs` frees a dead run's slot)")
            self.waiting_for_pool = True
        self.on_progress(self.progress)


# ----------------------------------------------------------------------------------------- runs


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin the webserver gives a job of workspace.yaml's location: the UI finds the run's job in
    the loaded location and can re-execute it."""
    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=LOCATION_MODULE,
                                  working_directory=os.getcwd())
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=LOCATION_NAME)
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(code_location_origin=location, repository_name=SINGLETON_REPOSITORY_NAME),
        job_name=job_name,
    )


@contextlib.contextmanager
def _signals_raise_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in this (main) thread, like SIGINT, for the duration."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # Unblocked too: a parent whose threads block them passes that mask on to its children.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _execute(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], listener: _EventListener) -> bool:
    """Create the run, listen to it, execute it in a worker thread; interrupts mark it failed."""
    recon_job = ReconstructableRepository.for_module(
        LOCATION_MODULE, LOCATION_ATTRIBUTE, os.getcwd()
    ).get_reconstructable_job(job_name)
    run = instance.create_run_for_job(
        job_def=recon_job.get_definition(),
        run_config=QUIET_CONSOLE,
        tags=tags,
        remote_job_origin=remote_job_origin(job_name),
        job_code_origin=recon_job.get_python_origin(),
    )
    listener.progress.run_id = run.run_id
    instance.add_event_listener(run.run_id, listener)
    for entry in instance.all_logs(run.run_id):  # what creating the run logged (materializations planned)
        listener(entry)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["success"] = execute_run(recon_job, run, instance).success
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error

    worker = threading.Thread(target=work, name=f"run-{run.run_id[:8]}", daemon=True)
    try:
        with _signals_raise_interrupt():
            worker.start()
            while worker.is_alive():
                worker.join(0.2)
    except KeyboardInterrupt as interrupt:
        reason = str(interrupt) or "SIGINT"
        where = "while waiting for the writer pool" if listener.waiting_for_pool else f"during {listener.progress.step}"
        instance.report_run_failed(run, f"kalshi_assets: interrupted by {reason} {where}")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        raise RunInterrupted(f"interrupted by {reason} {where}; run {run.run_id} marked failed, its slots freed") from None
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return bool(outcome.get("success"))


def materialize_all(
    instance: dg.DagsterInstance,
    start: str | None = None,
    end: str | None = None,
    *,
    on_event: Callable[[str], None] = lambda line: None,
    on_progress: Callable[[StageProgress], None] = lambda progress: None,
    log: Callable[[str], None] = print,
) -> tuple[list[StageProgress], CheckTally]:
    """Run the whole graph of the code location; raises MaterializeError on the first failed run
    (blocking checks included) and RunInterrupted on SIGINT/SIGTERM."""
    from kalshi_assets.definitions import defs

    first, last = partition_range(source_now(defs), start, end)
    release_dead_runs(instance, log)
    days = len(daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last)))
    stages = [
        StageProgress(name, STAGE_JOBS[name], "partitions" if name == "partitioned" else "assets",
                      len(keys) * (days if name == "partitioned" else 1))
        for name, keys in plan_stages(defs)
        if keys
    ]
    checks = CheckTally()
    for progress in stages:
        on_progress(progress)
    for progress in stages:
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last} if (
            progress.name == "partitioned") else {}
        progress.started = time.monotonic()
        listener = _EventListener(progress, checks, on_event, on_progress, log)
        succeeded = _execute(instance, progress.job_name, tags, listener)
        progress.finished, progress.step = time.monotonic(), ""
        on_progress(progress)
        if not succeeded:
            cause = listener.failure or "the run failed"
            raise MaterializeError(f"{progress.job_name} (run {progress.run_id}): {cause}", progress.run_id)
    return stages, checks


# -------------------------------------------------------------------------------------- instance


def instance_for_cli() -> dg.DagsterInstance:
    """The instance under $DAGSTER_HOME when set (so the UI shows the runs), else an ephemeral one.

    When the home's dagster.yaml leaves storage at Dagster's SQLite default, the instance has one
    override: its SQLite event log is
    BatchedSqliteEventLogStorage (defs/event_log.py) on the same files, so the main job's per-partition
    events cost a transaction per batch; the UI and the daemon read them with Dagster's own storage.
    A brand-new home is initialized once, under a file lock: Dagster creates its SQLite storages on
    first use, and two first commands at once would both create them ("table runs already exists").
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    directory = Path(home)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / INIT_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ref = InstanceRef.from_dir(str(directory))
            if (ref.storage_data.module_name, ref.storage_data.class_name) == DEFAULT_SQLITE_STORAGE:
                ref = InstanceRef.from_dir(str(directory), overrides=batched_event_log(directory))
            return dg.DagsterInstance.from_ref(ref)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
