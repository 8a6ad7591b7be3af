"""Wall time and peak memory of the main job (`kalshi-assets demo`) at demo scale 1 and 10.

Each size runs in a fresh child process (its own warehouse, ephemeral Dagster instance), so the peak
resident memory reported is that run's alone. Usage: python benchmarks/bench_pipeline.py [--scales 1 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def run_demo(scale: int, workdir: Path) -> dict:
    warehouse = workdir / f"scale{scale}.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(KALSHI_WAREHOUSE=str(warehouse), KALSHI_DEMO_SCALE=str(scale), KALSHI_AUDIT_DIR=str(workdir / "audit"))
    code = (
        "import resource, sys; from kalshi_assets.cli import main; status = main(['demo']); "
        "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(status)"
    )
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
        raise SystemExit(f"scale {scale}: the demo run failed ({done.returncode})")
    peak_kb = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        quotes = con.execute("SELECT count(*) FROM kalshi_quotes").fetchone()[0]
        markets = con.execute("SELECT count(*) FROM kalshi_markets").fetchone()[0]
        events = con.execute("SELECT count(*) FROM kalshi_events").fetchone()[0]
    return {"scale": scale, "wall_s": wall, "peak_rss_mib": peak_kb / 1024, "events": events, "markets": markets,
            "quotes": quotes, "file_mib": warehouse.stat().st_size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        rows = [run_demo(scale, Path(tmp)) for scale in args.scales]
    print(f"{'scale':>5} {'wall s':>8} {'peak RSS MiB':>13} {'events':>7} {'markets':>8} {'quotes':>10} "
          f"{'quotes/s':>9} {'file MiB':>9}")
    for r in rows:
        print(f"{r['scale']:>5} {r['wall_s']:>8.1f} {r['peak_rss_mib']:>13.0f} {r['events']:>7} {r['markets']:>8} "
              f"{r['quotes']:>10,} {r['quotes'] / r['wall_s']:>9,.0f} {r['file_mib']:>9.1f}")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            print(f"scale {r['scale']} / scale {base['scale']}: time x{r['wall_s'] / base['wall_s']:.1f}, "
                  f"quotes x{r['quotes'] / base['quotes']:.1f}, memory x{r['peak_rss_mib'] / base['peak_rss_mib']:.1f}")
    print(f"(children's max RSS overall: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
