"""A short run of the real `dagster-daemon` against a temporary DAGSTER_HOME launches the scheduled run.

The schedule's stored state is dated a few minutes before its latest tick (00:30 UTC today, or
yesterday before then), so the daemon's first iteration finds that tick due, exactly as after a restart,
and launches `daily_ingest` for the UTC day before it. The monitor sensor (on by default) records its
observations in the same instance. A test that runs across 00:30 UTC also sees the next tick's run (a clean
CI run at 00:29 failed waiting on it): the due run is followed by its partition.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

# Private Dagster API, no public one exists: starting a schedule's instigator state in an instance and
# loading a workspace the way the daemon does (what `dagster schedule start` does inside its CLI).
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from kalshi_assets.defs.keys import KALSHI_API_BREAKERS as BREAKERS_KEY
from tests.e2e.conftest import REPO, Stage, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCHEDULE = "daily_ingest_schedule"


def latest_tick(now: datetime) -> datetime:
    tick = now.replace(hour=0, minute=30, second=0, microsecond=0)
    return tick if tick <= now else tick - timedelta(days=1)


def start_schedule_before(instance: dg.DagsterInstance, when: datetime) -> None:
    """Store the schedule as running since `when` (what `dagster schedule start` then a wait would leave)."""
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")])) as workspace:
        location = workspace.create_request_context().get_code_location("kalshi_assets")
        (repository,) = location.get_repositories().values()
        schedule = repository.get_schedule(SCHEDULE)
        instance.add_instigator_state(
            InstigatorState(
                schedule.get_remote_origin(),
                InstigatorType.SCHEDULE,
                InstigatorStatus.RUNNING,
                ScheduleInstigatorData(schedule.cron_schedule, when.timestamp()),
            )
        )


def test_the_daemon_launches_the_scheduled_ingest_for_the_day_that_closed(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in stage.env.items():
        if name.startswith(("DAGSTER_", "KALSHI_")):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    tick = latest_tick(datetime.now(UTC))
    expected_partition = (tick - timedelta(days=1)).strftime("%Y-%m-%d")

    # The demo's partitions end with its history (2026-10-31); open them up to the tick's day here, so the
    # schedule has a partition to target (and the code location the daemon loads sees the same).
    stage.env["KALSHI_HISTORY_END"] = tick.strftime("%Y-%m-%d")
    monkeypatch.setenv("KALSHI_HISTORY_END", stage.env["KALSHI_HISTORY_END"])
    with dg.DagsterInstance.from_config(str(stage.home)) as instance:
        start_schedule_before(instance, tick - timedelta(minutes=5))
        log = tmp_path / "daemon.log"
        scheduled = dg.RunsFilter(tags={"dagster/schedule_name": SCHEDULE})
        due = dg.RunsFilter(tags={"dagster/schedule_name": SCHEDULE, "dagster/partition": expected_partition})
        daemon = stage.start("dagster-daemon", "run", "-w", "workspace.yaml", log=log)
        try:
            def scheduled_run():
                runs = instance.get_runs(due)
                return runs[0] if runs and runs[0].is_finished else None

            run = wait_for(scheduled_run, 150, "the scheduled run to finish", interval_s=1, log=log)
            assert run.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-6000:]
            assert run.job_name == "daily_ingest"
            assert run.tags["dagster/partition"] == expected_partition
            materialized = {
                e.dagster_event.asset_key.to_user_string()
                for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            }
            assert {"kalshi_series", "kalshi_events", "kalshi_markets", "kalshi_quotes"} <= materialized
            assert len(instance.get_runs(due)) == 1  # the due tick is launched once
            # Another run only when the clock passed the next tick (00:30 UTC) during the test: that tick's own.
            later = {r.tags.get("dagster/partition") for r in instance.get_runs(scheduled)} - {expected_partition}
            crossed = datetime.now(UTC) >= tick + timedelta(days=1)
            assert later <= ({tick.date().isoformat()} if crossed else set()), later

            # The monitor sensor is on by default: its observations are in the instance too.
            wait_for(lambda: instance.fetch_observations(BREAKERS_KEY, limit=1).records, 60,
                     "the pipeline_monitor observation", log=log)
        finally:
            stop(daemon)
            # A run the next tick launched meanwhile (only when the test crossed 00:30 UTC) goes on in its
            # own process: let it end before the temporary home goes. Never fails: that is not this test's.
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline and any(
                r.status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
                for r in instance.get_runs(scheduled)
            ):
                time.sleep(1)
    assert stage.warehouse.exists()
