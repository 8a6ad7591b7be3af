"""Wall time of the main job (`kalshi-assets demo`) beside the Dagster floor, and peak memory at scale.

    .venv/bin/python benchmarks/bench_pipeline.py [--scales 1 10] [--floor-repeats 2]

Every measurement runs in a fresh child process with its own warehouse and its own DAGSTER_HOME holding
this repository's dagster.yaml (what `make demo` uses), so its wall time includes Python's start and
imports and its peak resident memory is its own:
- the floor: 15 trivial chained assets materialized in process on such an instance (best of
  --floor-repeats), measured in the same run as the main job;
- the main job at each scale: the whole graph, as `kalshi-assets demo` runs it.
Target (issue 16): main job at default size (scale 1) / floor <= 8; whole-graph peak RSS at scale 10
<= 1,536 MiB. The load average is printed with the figures: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
FLOOR_ASSETS = 15
TARGET_RATIO = 8.0
TARGET_PEAK_MIB = 1536
PEAK = "import resource, sys; print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
FLOOR_CODE = f"""
import dagster as dg

def chained(n):
    assets = []
    for i in range(n):
        deps = [assets[-1]] if assets else []

        @dg.asset(name=f"step_{{i}}", deps=deps)
        def step() -> None:
            return None

        assets.append(step)
    return assets

result = dg.materialize(chained({FLOOR_ASSETS}), instance=dg.DagsterInstance.get())
assert result.success
{PEAK}
"""
COUNTS = {
    "kalshi_events": "SELECT count(*) FROM kalshi_events",
    "kalshi_markets": "SELECT count(*) FROM kalshi_markets",
    "kalshi_quotes": "SELECT count(*) FROM kalshi_quotes",
    "distribution_snapshots": "SELECT count(*) FROM distribution_snapshots",
}
# The demo samples its own resident memory every 0.2 s (steps run in process), so the peak can be given to
# the step that was running when it was reached (from the STEP_START lines of the demo's event log).
DEMO_CODE = f"""
import json, os, sys, threading, time
samples = []
def sample():
    page = os.sysconf("SC_PAGE_SIZE")
    while True:
        with open("/proc/self/statm") as statm:
            samples.append((time.time(), int(statm.read().split()[1]) * page / 2**20))
        time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()
from kalshi_assets.cli import main
status = main(['demo'])
json.dump(samples, open(os.environ["BENCH_RSS_SAMPLES"], "w"))
{PEAK}
sys.exit(status)
"""


def _environment(workdir: Path, scale: int | None = None) -> dict[str, str]:
    """A fresh DAGSTER_HOME with the repository's dagster.yaml, and (for the demo) its own warehouse."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KALSHI_"))}
    env.update(DAGSTER_HOME=str(home), KALSHI_WAREHOUSE=str(workdir / "warehouse.duckdb"),
               KALSHI_AUDIT_DIR=str(workdir / "audit"))
    if scale is not None:
        env["KALSHI_DEMO_SCALE"] = str(scale)
    return env


def _run(code: str, env: dict[str, str], what: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of `python -c code` in a child process."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
        raise SystemExit(f"{what} failed ({done.returncode})")
    peak_kb = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")))
    return wall, peak_kb / 1024


def measure_floor(workdir: Path) -> tuple[float, float]:
    return _run(FLOOR_CODE, _environment(workdir), "the floor")


def step_peaks(samples: list[tuple[float, float]], log_dir: Path) -> list[tuple[str, float]]:
    """Each step's highest resident-memory sample (MiB) while it was the latest step started, highest first
    (from the demo's event log; steps run one at a time in the demo's process)."""
    starts = _step_starts(log_dir)
    peaks: dict[str, float] = {}
    for when, rss in samples:
        running = [step for started, step in starts if started <= when]
        step = running[-1] if running else "(before the first step)"
        peaks[step] = max(rss, peaks.get(step, 0.0))
    return sorted(peaks.items(), key=lambda item: -item[1])


def _step_starts(log_dir: Path) -> list[tuple[float, str]]:
    starts = []
    for log in log_dir.glob("demo-*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) > 6 and parts[6] == "STEP_START:":
                stamp = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                starts.append((stamp.timestamp(), parts[5]))
    # By time only, so steps started in the same second keep the event log's order (the log stamps whole seconds).
    return sorted(starts, key=lambda start: start[0])


def peak_step(samples: list[tuple[float, float]], log_dir: Path) -> tuple[str, float]:
    """(step running at the highest resident-memory sample, that sample in MiB) from the demo's event log."""
    return step_peaks(samples, log_dir)[0] if samples else ("-", 0.0)


def measure_demo(scale: int, workdir: Path) -> dict:
    env = _environment(workdir, scale)
    env["BENCH_RSS_SAMPLES"] = str(workdir / "rss.json")
    wall, peak = _run(DEMO_CODE, env, f"the demo at scale {scale}")
    samples = json.loads((workdir / "rss.json").read_text())
    step, sampled_peak = peak_step(samples, workdir / "logs")
    highest = step_peaks(samples, workdir / "logs")[:6]
    with duckdb.connect(env["KALSHI_WAREHOUSE"], read_only=True) as con:
        count = {table: con.execute(sql).fetchone()[0] for table, sql in COUNTS.items()}
    return {"scale": scale, "wall_s": wall, "peak_rss_mib": peak, "peak_step": step, "sampled_peak_mib": sampled_peak,
            "highest_steps": highest,
            **count,
            "file_mib": Path(env["KALSHI_WAREHOUSE"]).stat().st_size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--floor-repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        floors = [measure_floor(Path(tmp) / f"floor{i}") for i in range(args.floor_repeats)]
        floor_s = min(wall for wall, _ in floors)
        print(f"floor: {FLOOR_ASSETS} trivial chained assets in process, best of {len(floors)}: {floor_s:.2f} s "
              f"(all: {', '.join(f'{wall:.2f}' for wall, _ in floors)})", flush=True)
        rows = []
        for scale in args.scales:
            rows.append(measure_demo(scale, Path(tmp) / f"scale{scale}"))
            r = rows[-1]
            print(f"main job, scale {scale}: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, reached during "
                  f"step {r['peak_step']} (sampled {r['sampled_peak_mib']:.0f} MiB)", flush=True)
            print("  highest sampled RSS by step (MiB): "
                  + ", ".join(f"{name} {mib:.0f}" for name, mib in r["highest_steps"]), flush=True)
    print(f"{'scale':>5} {'wall s':>8} {'x floor':>8} {'peak RSS MiB':>13} {'events':>7} {'markets':>8} "
          f"{'quotes':>10} {'snapshots':>10} {'file MiB':>9}")
    for r in rows:
        print(f"{r['scale']:>5} {r['wall_s']:>8.1f} {r['wall_s'] / floor_s:>8.1f} {r['peak_rss_mib']:>13.0f} "
              f"{r['kalshi_events']:>7} {r['kalshi_markets']:>8} {r['kalshi_quotes']:>10,} "
              f"{r['distribution_snapshots']:>10,} {r['file_mib']:>9.1f}")
    for r in rows:
        if r["scale"] == 1:
            print(f"main job / floor at default size: {r['wall_s']:.1f} s / {floor_s:.2f} s = "
                  f"{r['wall_s'] / floor_s:.1f}x (target <= {TARGET_RATIO:.0f}x)")
        if r["scale"] == 10:
            print(f"whole-graph peak RSS at scale 10: {r['peak_rss_mib']:.0f} MiB (target <= {TARGET_PEAK_MIB:,} MiB)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
