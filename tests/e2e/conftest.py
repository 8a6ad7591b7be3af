"""End-to-end helpers: the real `dagster` programs against a temporary instance and warehouse.

Each test gets a DAGSTER_HOME holding a copy of the repository's dagster.yaml, its own warehouse file and
audit directory, and runs the programs from the repository root (where workspace.yaml is).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULE = "kalshi_assets.definitions"


@dataclass(frozen=True)
class Stage:
    home: Path
    warehouse: Path
    audit: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv (dagster, dagster-daemon, ...) from the repository root; fail loudly."""
        command = [str(BIN / args[0]), *args[1:]]
        done = subprocess.run(command, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
                        f"\n--- stderr\n{done.stderr[-6000:]}")
        return done

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        """Start a long-running program in its own process group (so it and its children stop together)."""
        handle = log.open("w")
        return subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=REPO, env=self.env, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)


def make_stage(root: Path) -> Stage:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KALSHI_"))}
    env.update(
        DAGSTER_HOME=str(home),
        KALSHI_WAREHOUSE=str(root / "warehouse.duckdb"),
        KALSHI_AUDIT_DIR=str(root / "audit"),
        PYTHONUNBUFFERED="1",
    )
    return Stage(home=home, warehouse=root / "warehouse.duckdb", audit=root / "audit", env=env)


@pytest.fixture()
def stage(tmp_path: Path) -> Stage:
    return make_stage(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, grace_s: float = 15) -> None:
    """Interrupt the process group we started, then kill it if it lingers."""
    import signal

    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(grace_s)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.5, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    tail = log.read_text()[-6000:] if log is not None and log.exists() else ""
    pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}\n{tail}")


def iter_lines(path: Path, start_marker: str, end_marker: str) -> Iterator[str]:
    lines = path.read_text().splitlines()
    inside = False
    for line in lines:
        if start_marker in line:
            inside = True
            continue
        if end_marker in line and inside:
            return
        if inside:
            yield line


def comma_list(keys: Sequence) -> str:
    return ",".join(sorted(k.to_user_string() for k in keys))


# --- one demo, shared by the tests that look at what it left (tests/e2e/test_demo_runs.py, test_ui_lineage.py)

# A week of partitions: the whole history the demo then covers (KALSHI_UI_HISTORY_START=2024-10-01 for all).
DEMO_HISTORY_START = os.environ.get("KALSHI_UI_HISTORY_START", "2026-10-25")


@dataclass(frozen=True)
class DemoRun:
    stage: Stage
    done: subprocess.CompletedProcess[str]
    run_ids: tuple[str, ...]  # the demo's own runs (later tests may add more to the instance)


def demo_stage(root: Path) -> Stage:
    stage = make_stage(root)
    stage.env.update(KALSHI_HISTORY_START=DEMO_HISTORY_START, FRESHNESS_DAEMON_INTERVAL_SECONDS="5")
    return stage


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`kalshi-assets demo` over the whole (short) history, as a user runs it."""
    import dagster as dg

    stage = demo_stage(tmp_path_factory.mktemp("demo"))
    done = subprocess.run([str(BIN / "kalshi-assets"), "demo"], cwd=REPO, env=stage.env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(stage.home)) as instance:
        run_ids = tuple(r.run_id for r in instance.get_runs())
    return DemoRun(stage, done, run_ids)
