"""Audit log throughput: durable appends per second under each fsync policy, and verify speed.

    .venv/bin/python benchmarks/bench_audit.py [--seconds 3] [--verify-records 100000] [--dir PATH]

Every figure comes from this one run, on the file system of --dir (default: the system temp dir).
"Concurrent writers" are threads of one process sharing one AuditLog (group commit happens among
them); one extra line shows 4 processes x 4 threads on one directory, which share the chain through
the flock but each run their own group commit. Target: batch with 16 writers >= 10x "always".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kalshi_assets.audit import AuditLog, verify_log  # noqa: E402
from kalshi_assets.audit import log as log_module  # noqa: E402

ORDER_PAYLOAD = {
    "client_order_id": "0b7e6f7c-3f5e-4f21-9d0c-6c1f3f1f2a11",
    "ticker": "KXCPIYOY-26DEC-T3.0",
    "side": "yes",
    "action": "buy",
    "count": 10,
    "price_cents": 42,
    "order_type": "limit",
    "status": "submitted",
    "details": {"strategy": "calibrated-cdf", "edge_bps": 310, "fold": "2026-10"},
}


class SyncCounter:
    """Counts segment syncs, to report how many records each group commit carried."""

    def __init__(self) -> None:
        self.count = 0
        self._real = log_module._SegmentHandle.sync
        counter = self

        def counting_sync(handle: log_module._SegmentHandle) -> None:
            counter.count += 1
            counter._real(handle)

        log_module._SegmentHandle.sync = counting_sync  # type: ignore[method-assign]


def measure(directory: Path, policy: str, writers: int, seconds: float, syncs: SyncCounter) -> tuple[float, float]:
    """(appends per second, records per segment sync) with `writers` threads for `seconds`."""
    log = AuditLog(directory, fsync=policy)  # type: ignore[arg-type]
    log.append("ORDER", "warmup", ORDER_PAYLOAD)
    counts = [0] * writers
    start_barrier = threading.Barrier(writers + 1)
    deadline = 0.0

    def writer(index: int) -> None:
        start_barrier.wait()
        n = 0
        while time.perf_counter() < deadline:
            log.append("ORDER", f"writer-{index}", ORDER_PAYLOAD)
            n += 1
        counts[index] = n

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    syncs_before = syncs.count
    began = time.perf_counter()
    deadline = began + seconds
    start_barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    log.close()
    total = sum(counts)
    synced = syncs.count - syncs_before
    return total / elapsed, (total / synced if synced else float("nan"))


_PROCESS_WRITER = """
import sys, threading, time
from kalshi_assets.audit import AuditLog
directory, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
payload = {payload!r}
log = AuditLog(directory, fsync="batch")
counts = [0] * threads
deadline = time.perf_counter() + seconds
def run(i):
    n = 0
    while time.perf_counter() < deadline:
        log.append("ORDER", f"p-{{i}}", payload)
        n += 1
    counts[i] = n
ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
log.close()
print(sum(counts))
"""


def measure_processes(directory: Path, processes: int, threads: int, seconds: float) -> float:
    AuditLog(directory).close()  # create the directory and key before the race
    code = _PROCESS_WRITER.format(payload=ORDER_PAYLOAD)
    began = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(directory), str(threads), str(seconds)],
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        for _ in range(processes)
    ]
    total = sum(int(child.communicate()[0]) for child in children)
    elapsed = time.perf_counter() - began  # includes interpreter start-up: a conservative figure
    report = verify_log(directory)
    if not report.ok or report.total_entries != total:
        raise SystemExit(f"multi-process run left a bad log: {report.problems[:3]} {report.total_entries} != {total}")
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each append measurement")
    parser.add_argument("--verify-records", type=int, default=100_000, help="log size for the verify figure")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: system temp dir)")
    args = parser.parse_args()
    os.environ.pop("KALSHI_AUDIT_HMAC_KEY", None)
    syncs = SyncCounter()
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=args.dir) as tmp:
        root = Path(tmp)
        print(f"audit log benchmark: {args.seconds:.1f} s per case, directory {root}, {os.cpu_count()} CPUs")
        print("writers are threads of one process sharing one AuditLog")
        results: dict[str, float] = {}
        cases = [("always", 1), ("batch", 1), ("batch", 4), ("batch", 16), ("off", 1)]
        for policy, writers in cases:
            rate, per_sync = measure(root / f"{policy}-{writers}", policy, writers, args.seconds, syncs)
            results[f"{policy}-{writers}"] = rate
            grouping = "" if policy == "off" else f"  ({per_sync:.1f} records per fsync)"
            print(f"  {policy:<6} {writers:>2} writer{'s' if writers > 1 else ' '}: {rate:>9,.0f} appends/s{grouping}")
        ratio = results["batch-16"] / results["always-1"]
        verdict = "meets" if ratio >= 10 else "MISSES"
        print(f"  batch 16 / always = {ratio:.1f}x ({verdict} the 10x target)")
        rate = measure_processes(root / "processes", processes=4, threads=4, seconds=args.seconds)
        print(f"  batch, 4 processes x 4 threads on one directory: {rate:,.0f} appends/s (verified gap-free)")

        verify_dir = root / "verify"
        with AuditLog(verify_dir, fsync="off") as log:
            for i in range(args.verify_records):
                log.append("ORDER", f"u{i % 7}", ORDER_PAYLOAD)
        size = sum(p.stat().st_size for p in verify_dir.glob("segment-*"))
        began = time.perf_counter()
        report = verify_log(verify_dir)
        elapsed = time.perf_counter() - began
        assert report.ok and report.total_entries == args.verify_records
        print(
            f"  verify: {report.total_entries / elapsed:,.0f} records/s "
            f"({report.total_entries:,} records, {report.segments} segments, {size / 1e6:.1f} MB on disk)"
        )


if __name__ == "__main__":
    main()
