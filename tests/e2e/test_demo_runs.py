"""`kalshi-assets demo` as a user runs it, against a temporary DAGSTER_HOME and warehouse.

- A clean run prints at most 60 lines (progress included), names its event log (which holds every event
  of its runs) and its pictures, and its runs are runs of the code location's jobs with the origin the UI
  re-executes.
- A run killed with SIGKILL while a step holds the writer pool does not jam the next one: the rerun on the
  same home releases the dead run (marked failed, slot freed), finishes, and leaves the rows of a clean run.
  `--verbose` streams every Dagster event of the rerun, straight to the terminal.
- A demo whose step waits for the pool (a live run holds it) answers SIGTERM at once: the waiting run is
  marked failed and its place in the pool given back.
- Two first commands at once on a brand-new DAGSTER_HOME both work (the instance is created once).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.definitions import defs
from kalshi_assets.defs.dead_runs import ProcessCheckingRunLauncher
from kalshi_assets.defs.runner import LOCATION_NAME, STAGE_JOBS
from tests.e2e.conftest import BIN, REPO, DemoRun, Stage, demo_stage, make_stage, wait_for
from tests.e2e.test_cli_backfill import fingerprint

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEMO = [str(BIN / "kalshi-assets"), "demo"]  # the whole history of the demo stage (conftest.DEMO_HISTORY_START)


def demo(stage: Stage, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*DEMO, *extra], cwd=REPO, env=stage.env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"demo exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def instance_of(stage: Stage) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(stage.home))


def event_log_file(stage: Stage) -> Path:
    (path,) = sorted((stage.warehouse.parent / "logs").glob("demo-*.log"))[-1:]
    return path


def test_a_clean_demo_is_quiet_and_says_where_everything_is(demo_run: DemoRun) -> None:
    stage, done = demo_run.stage, demo_run.done
    lines = done.stdout.splitlines()
    assert len(lines) <= 60, done.stdout
    assert done.stderr == "", done.stderr  # no BetaWarning, no library warning, no Dagster console log
    for name, job in STAGE_JOBS.items():
        assert any(line.startswith(name) and "rows" in line for line in lines), (job, done.stdout)
    checks = next(line for line in lines if line.startswith("Done in"))
    passed, total = (int(n) for n in checks.split("succeeded, ")[1].split(" checks")[0].split(" of "))
    assert passed == total > 0
    log = event_log_file(stage)
    assert any(line.startswith("Event log") and log.name in line for line in lines)
    (pictures,) = [line for line in lines if line.startswith("Pictures")]
    drawn = [Path(stage.warehouse.parent / name.strip()) for name in pictures.split(None, 1)[1].split(",")]
    assert "none drawn" in pictures or all(p.exists() and p.suffix == ".png" for p in drawn), pictures

    with instance_of(stage) as instance:
        runs = [instance.get_run_by_id(run_id) for run_id in demo_run.run_ids]
        assert sorted(r.job_name for r in runs) == sorted(STAGE_JOBS.values())
        for run in runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert defs.resolve_job_def(run.job_name) is not None  # a job of the code location
            origin = run.remote_job_origin
            assert origin is not None and origin.location_name == LOCATION_NAME  # the UI can re-execute it
            assert origin.repository_origin.repository_name == "__repository__"
        events = sum(len(instance.all_logs(r.run_id)) for r in runs)
    logged = [line for line in log.read_text().splitlines() if " WARNING python " not in line]
    assert len(logged) == events  # every event of the three runs is in the file


def _step_started(stage: Stage, job: str) -> bool:
    logs = sorted((stage.warehouse.parent / "logs").glob("demo-*.log"))
    return bool(logs) and any(f" {job} " in line and "STEP_START" in line for line in logs[-1].read_text().splitlines())


def _kill_while_a_step_holds_the_pool(process: subprocess.Popen, stage: Stage) -> None:
    """SIGKILL the demo while a partitioned step holds the writer slot.

    Seeing STEP_START is not enough: a step can finish between the look and the kill, and between two steps
    no slot is held (one CI run in several killed there). The demo is stopped first, the pool read while
    nothing moves, and the demo killed only if a slot is held; otherwise it goes on and we look again.
    """
    def killed_holding_the_pool() -> bool:
        if not _step_started(stage, STAGE_JOBS["partitioned"]):
            return False
        os.killpg(process.pid, signal.SIGSTOP)
        with instance_of(stage) as instance:
            held = instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots
        if held:
            os.killpg(process.pid, signal.SIGKILL)
            return True
        os.killpg(process.pid, signal.SIGCONT)
        return False

    try:
        wait_for(killed_holding_the_pool, 240, "a partitioned step holding the pool", interval_s=0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_a_killed_run_does_not_jam_the_pool_and_the_rerun_matches_a_clean_run(demo_run: DemoRun,
                                                                              tmp_path: Path) -> None:
    clean_stage = demo_run.stage
    stage = demo_stage(tmp_path)
    process = subprocess.Popen(DEMO, cwd=REPO, env=stage.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    _kill_while_a_step_holds_the_pool(process, stage)

    with instance_of(stage) as instance:
        before = {r.run_id for r in instance.get_runs()}
        (killed,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
        held = instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots
        assert [slot.run_id for slot in held] == [killed.run_id]  # the jam: a dead run holds the only slot
        launcher = ProcessCheckingRunLauncher()
        launcher.register_instance(instance)
        assert launcher.check_run_worker_health(killed).status.value == "FAILED"  # what dagster dev's monitor sees

    rerun = demo(stage, "--verbose")
    assert f"released run {killed.run_id}" in rerun.stdout
    with instance_of(stage) as instance:
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots
        reruns = [r for r in instance.get_runs() if r.run_id not in before]
        assert sorted(r.job_name for r in reruns) == sorted(STAGE_JOBS.values())
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in reruns)
        streamed = [e for r in reruns for e in instance.all_logs(r.run_id)]
    # --verbose printed every event of the rerun's three runs
    printed = [line for line in rerun.stdout.splitlines() if " DEBUG " in line or " INFO " in line
               or " ERROR " in line or " WARNING " in line]
    assert len(streamed) > 50 and len([p for p in printed if " python " not in p]) >= len(streamed)
    # ... straight to the terminal: not through the output Dagster captures for each run (the runs' stdout in
    # the UI), which reaches the terminal through a `tail -F` that Dagster stops when the run ends
    captured = [path for r in reruns for path in stage.home.glob(f"storage/{r.run_id}/compute_logs/*.out")]
    assert len(captured) == len(reruns)
    assert not [path for path in captured if "STEP_START" in path.read_text()]
    assert fingerprint(stage.warehouse) == fingerprint(clean_stage.warehouse)


HOLDER = textwrap.dedent("""
    import sys, threading
    import dagster as dg

    release = threading.Event()

    @dg.op(pool="duckdb_writer")
    def hold_the_pool():
        print("holding", flush=True)
        release.wait(120)

    @dg.job(executor_def=dg.in_process_executor)
    def holder():
        hold_the_pool()

    threading.Thread(target=lambda: (sys.stdin.readline(), release.set()), daemon=True).start()
    holder.execute_in_process(instance=dg.DagsterInstance.get())
""")


def test_a_demo_waiting_for_the_pool_answers_sigterm(tmp_path: Path) -> None:
    stage = demo_stage(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=REPO, env=stage.env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        log = tmp_path / "demo.out"
        with log.open("w") as out:
            waiting = subprocess.Popen(DEMO, cwd=REPO, env=stage.env, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: "waits for the duckdb_writer pool" in log.read_text(), 120, "the demo to wait", log=log)
        sent = time.monotonic()
        waiting.send_signal(signal.SIGTERM)
        status = waiting.wait(20)  # before the fix it waited for the slot, ignoring the signal
        assert time.monotonic() - sent < 10
        assert status == 130
        message = [line for line in log.read_text().splitlines() if "interrupted" in line]
        assert len(message) == 1 and "SIGTERM while waiting for the writer pool" in message[0], log.read_text()
        with instance_of(stage) as instance:
            demo_runs = [r for r in instance.get_runs() if r.job_name == STAGE_JOBS["upstream"]]
            assert [r.status for r in demo_runs] == [dg.DagsterRunStatus.FAILURE]
            info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
            assert {s.run_id for s in info.claimed_slots} != {demo_runs[0].run_id}
            assert all(p.run_id != demo_runs[0].run_id for p in info.pending_steps)
    finally:
        holder.communicate("go\n", timeout=60)
    assert holder.returncode == 0


FIRST_COMMAND = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kalshi_assets.defs.runner import instance_for_cli

    barrier, me, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < count:  # every process has imported: now, together
        time.sleep(0.01)
    instance = instance_for_cli()
    print(len(instance.get_runs()))
""")


def test_two_first_commands_on_a_new_home_do_not_race(tmp_path: Path) -> None:
    """Without the lock, one of three such processes failed in 8 of 8 trials ("table runs already exists",
    or an alembic_version table with two heads that breaks the home for good)."""
    for trial in range(1):
        stage = make_stage(tmp_path / f"trial{trial}")
        barrier = tmp_path / f"barrier{trial}"
        barrier.mkdir()
        processes = [subprocess.Popen([sys.executable, "-c", FIRST_COMMAND, str(barrier), str(i), "3"], cwd=REPO,
                                      env=stage.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for i in range(3)]
        results = [p.communicate(timeout=120) for p in processes]
        for process, (out, err) in zip(processes, results, strict=True):
            assert process.returncode == 0 and out.strip() == "0", err[-2000:]
