"""Runs whose process died must not hold the `duckdb_writer` pool.

A run killed with SIGKILL (or an OOM kill, a closed laptop) stays STARTED in the instance and keeps the
concurrency slot its step had claimed: every later writer waits for that slot forever, and Dagster's
`free_slots_after_run_end_seconds` never applies because the run never ends.

- `release_dead_runs` (called by `kalshi-assets demo` before it starts, and by
  `kalshi-assets release-runs`) finds STARTED runs whose process is gone, marks them failed and frees
  their slots; slots held by runs that have ended, or that no longer exist, are freed too.
- `ProcessCheckingRunLauncher` (dagster.yaml's run_launcher) lets the run monitoring of `dagster dev`
  ask the same question, so the daemon marks such runs failed and frees their slots on its own.

Whether a run's process lives is read from the pid of its RUN_START event (the process that executes
the run) and, on Linux, that process's start time (a recycled pid started later is not the run). The
instance is local (SQLite under DAGSTER_HOME), so the pid is a pid of this machine.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

# Private Dagster API: the run launcher's health-check protocol (RunLauncher.check_run_worker_health and
# its result types) has no public import path in Dagster 1.13.
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

ENDED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
PID_START_SLACK_S = 2.0  # process start times are in clock ticks; allow for rounding


@dataclass(frozen=True)
class ReleasedRun:
    run_id: str
    job_name: str | None
    pid: int | None
    reason: str
    pools: tuple[str, ...]

    def describe(self) -> str:
        pools = f"; freed its slots in {', '.join(self.pools)}" if self.pools else ""
        return f"run {self.run_id} ({self.job_name or 'no such run'}): {self.reason}{pools}"


def run_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int | None, float | None]:
    """(pid, start timestamp) of the process that started the run, from its RUN_START event."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records:
        return None, None
    entry = records[0].event_log_entry
    event = entry.dagster_event
    return (event.pid if event is not None else None), entry.timestamp


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _process_started_at(pid: int) -> float | None:
    """When the process started (Linux /proc), or None where that cannot be read."""
    boot = _boot_time()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if boot is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces; it ends with ")"
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime in ticks


def process_alive(pid: int, not_started_after: float | None = None) -> bool:
    """True when `pid` is a live process that started no later than `not_started_after` (a timestamp)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    if not_started_after is None:
        return True
    started = _process_started_at(pid)
    return started is None or started <= not_started_after + PID_START_SLACK_S


def run_process_is_gone(instance: dg.DagsterInstance, run_id: str) -> tuple[bool, int | None]:
    """(gone, pid): gone only when the run's process is known and no longer lives."""
    pid, started_at = run_process(instance, run_id)
    if pid is None:
        return False, None
    return not process_alive(pid, started_at), pid


def _slot_holders(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """run id -> pools in which it holds a slot or waits for one."""
    storage = instance.event_log_storage
    holders: dict[str, set[str]] = {}
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for run_id in {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}:
            holders.setdefault(run_id, set()).add(pool)
    return holders


def release_dead_runs(
    instance: dg.DagsterInstance, log: Callable[[str], None] = print, force_run_ids: tuple[str, ...] = ()
) -> list[ReleasedRun]:
    """Mark STARTED runs whose process is gone as failed and free every slot held by a run that is not
    running (dead, ended, or unknown to the instance). `force_run_ids` are released without the process
    check (for a run started on another machine). Logs one line per run released."""
    holders = _slot_holders(instance)
    started = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    candidates = {record.dagster_run.run_id for record in started} | set(holders) | set(force_run_ids)
    released = []
    for run_id in sorted(candidates):
        run = instance.get_run_by_id(run_id)
        pid = None
        if run is None:
            reason = "unknown to the instance"
        elif run.status in ENDED:
            reason = f"already {run.status.value}"
        elif run_id in force_run_ids:
            reason = "released on request"
        else:
            gone, pid = run_process_is_gone(instance, run_id)
            if not gone:
                continue
            reason = f"its process {pid} is gone"
        if run is not None and run.status not in ENDED:
            instance.report_run_failed(
                run, f"kalshi_assets: marked failed because {reason} (a killed run must not hold the writer pool)"
            )
        pools = tuple(sorted(holders.get(run_id, ())))
        if pools:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        if run is None and not pools:
            continue
        entry = ReleasedRun(run_id, run.job_name if run else None, pid, reason, pools)
        log(f"released {entry.describe()}")
        released.append(entry)
    return released


class ProcessCheckingRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher that can also tell the run monitoring whether a run's process
    lives (dagster.yaml: run_launcher). With run_monitoring enabled, `dagster dev`'s daemon marks a run
    whose process vanished as failed, and frees its pool slots `free_slots_after_run_end_seconds` later."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        gone, pid = run_process_is_gone(self._instance, run.run_id)
        if gone:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process {pid} is gone")
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run has not started a process yet")
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is alive")
