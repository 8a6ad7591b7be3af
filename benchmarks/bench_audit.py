"""Audit log throughput against the raw disk: appends/s under each fsync policy, append_many, verify.

    .venv/bin/python benchmarks/bench_audit.py [--seconds 2] [--repeat 3] [--verify-records 100000] [--dir PATH]

Every figure comes from one run, on the file system of --dir (default: the system temp dir). Each
repeat measures the raw disk ceilings first, in the same directory, with lines the size of the
benchmark's records, then each policy; the table gives the median over repeats of each figure and
of each ratio (a ratio is taken within one repeat, so load from other processes mostly cancels).

Raw ceilings (plain Python loops on one file, no audit code):
  write+fsync / record     os.write + os.fdatasync per line (what "always" pays per append)
  write+fsync / 16 records 16 os.write + one os.fdatasync (what group commit of 16 can reach)
  write, no fsync          os.write per line ("off")
Floors of a chained multi-process JSON log in Python (what "off" cannot avoid, no audit code):
  msgspec encode + sha256 + os.write                  per record
  ... + flock/unlock of a lock file + stat of the file  per record (the cross-process chain's price)
Targets (issue 16): always/ceiling >= 0.8; batch with 16 writer threads / per-16 ceiling >= 0.5;
off >= 100k appends/s; verify >= 200k records/s, near json.loads: json.loads and msgspec's decode
over the same log's lines are printed beside it (one process each), verify in one process too (verify
checks segments in forked worker processes when the log is big enough), and verify's peak Python
memory in one process (tracemalloc).
"Writers" are threads of one process sharing one AuditLog (group commit happens among them); one
more line shows 4 processes x 4 threads on one directory (verified gap-free).
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kalshi_assets.audit import AuditLog, verify_log  # noqa: E402
from kalshi_assets.audit import log as log_module  # noqa: E402
from kalshi_assets.audit.encoding import encode_sorted_keys  # noqa: E402
from kalshi_assets.audit.segments import list_segments  # noqa: E402

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
        real = log_module._SegmentHandle.sync
        counter = self

        def counting_sync(handle: log_module._SegmentHandle) -> None:
            counter.count += 1
            real(handle)

        log_module._SegmentHandle.sync = counting_sync  # type: ignore[method-assign]


def _sample_line(directory: Path) -> bytes:
    with AuditLog(directory, fsync="off") as log:
        log.append("ORDER", "writer-0", ORDER_PAYLOAD)
    return next(directory.glob("segment-*.jsonl")).read_bytes()


def raw_ceiling(path: Path, line: bytes, per_sync: int | None, seconds: float) -> float:
    """Records/s of a plain write loop: fdatasync after every `per_sync` lines (None: never)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        n = 0
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            for _ in range(per_sync or 256):
                os.write(fd, line)
            n += per_sync or 256
            if per_sync:
                os.fdatasync(fd)
        return n / (time.perf_counter() - began)
    finally:
        os.close(fd)
        path.unlink()


def python_floor(directory: Path, seconds: float, *, lock_and_stat: bool) -> float:
    """Records/s of the least a chained JSON log written from Python does per record: encode the
    payload (msgspec), hash the line (sha256), one os.write; with `lock_and_stat`, also take and
    release an flock and stat the file, as a log shared by processes must (no fsync)."""
    path, lock_path = directory / "floor.jsonl", directory / "floor.lock"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        n = 0
        prev = b"0" * 64
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            for _ in range(256):
                if lock_and_stat:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX)
                    os.stat(path)
                body = encode_sorted_keys(ORDER_PAYLOAD) + prev
                prev = hashlib.sha256(body).hexdigest().encode()
                os.write(fd, body + prev + b"\n")
                if lock_and_stat:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
            n += 256
        return n / (time.perf_counter() - began)
    finally:
        os.close(fd)
        os.close(lock_fd)
        path.unlink()
        lock_path.unlink()


def log_lines(directory: Path, limit: int) -> list[bytes]:
    """Up to `limit` lines of the log in `directory`, as stored (for the parse-speed comparisons)."""
    lines: list[bytes] = []
    for segment in list_segments(directory):
        opener = gzip.open if segment.compressed else open
        with opener(segment.path, "rb") as handle:
            lines.extend(line.rstrip(b"\n") for line in handle)
        if len(lines) >= limit:
            break
    return lines[:limit]


def lines_per_second(parse: Callable[[bytes], object], lines: list[bytes]) -> float:
    began = time.perf_counter()
    for line in lines:
        parse(line)
    return len(lines) / (time.perf_counter() - began)


def measure(
    directory: Path, policy: str, writers: int, seconds: float, syncs: SyncCounter, batch: int = 1
) -> tuple[float, float]:
    """(records per second, records per segment sync) with `writers` threads for `seconds`."""
    log = AuditLog(directory, fsync=policy)  # type: ignore[arg-type]
    log.append("ORDER", "warmup", ORDER_PAYLOAD)
    counts = [0] * writers
    start_barrier = threading.Barrier(writers + 1)
    deadline = 0.0

    def writer(index: int) -> None:
        start_barrier.wait()
        n = 0
        user = f"writer-{index}"
        entries = [("ORDER", user, ORDER_PAYLOAD)] * batch
        while time.perf_counter() < deadline:
            if batch == 1:
                log.append("ORDER", user, ORDER_PAYLOAD)
            else:
                log.append_many(entries)
            n += batch
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


_CEILING_OF = {"always": 1, "batch": 16, "off": None}


def one_repeat(
    root: Path, seconds: float, syncs: SyncCounter, verify_dir: Path, verify_lines: list[bytes], line: bytes
) -> dict[str, float]:
    """Every figure once. Each policy runs between two measurements of its ceiling (averaged), so a
    disk that other processes slow down for a while slows both sides of the ratio alike."""
    fig: dict[str, float] = {}
    cases = [("always", 1, 1), ("batch", 1, 1), ("batch", 4, 1), ("batch", 16, 1), ("off", 1, 1)]
    if hasattr(AuditLog, "append_many"):  # absent before it was added: lets this script measure old code too
        cases += [("batch", 1, 16), ("off", 1, 16)]
    for policy, writers, batch in cases:
        name = f"{policy}_{writers}" + (f"_many{batch}" if batch > 1 else "")
        per_sync = 1 if (policy, writers, batch) == ("batch", 1, 1) else _CEILING_OF[policy]
        before = raw_ceiling(root / "raw", line, per_sync, seconds / 2)
        directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        fig[name], fig[f"{name}_per_sync"] = measure(directory, policy, writers, seconds, syncs, batch)
        ceiling = (before + raw_ceiling(root / "raw", line, per_sync, seconds / 2)) / 2
        fig[f"{name}_ceiling"] = ceiling
        fig[f"{name}_ratio"] = fig[name] / ceiling
    fig["floor_write"] = python_floor(root, min(seconds, 1.0), lock_and_stat=False)
    fig["floor_locked"] = python_floor(root, min(seconds, 1.0), lock_and_stat=True)
    fig["off_floor_ratio"] = fig["off_1"] / fig["floor_locked"]
    began = time.perf_counter()
    report = verify_log(verify_dir, workers=1)
    fig["verify_1"] = report.total_entries / (time.perf_counter() - began)
    assert report.ok, report.problems[:3]
    began = time.perf_counter()
    report = verify_log(verify_dir)  # worker processes as verify chooses them
    fig["verify"] = report.total_entries / (time.perf_counter() - began)
    fig["verify_workers"] = report.workers
    assert report.ok, report.problems[:3]
    fig["json_loads"] = lines_per_second(json.loads, verify_lines)
    fig["msgspec_decode"] = lines_per_second(msgspec.json.decode, verify_lines)
    fig["verify_json_ratio"] = fig["verify"] / fig["json_loads"]
    fig["verify_msgspec_ratio"] = fig["verify"] / fig["msgspec_decode"]
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; the table shows medians")
    parser.add_argument("--verify-records", type=int, default=100_000, help="log size for the verify figure")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: system temp dir)")
    args = parser.parse_args()
    for name in ("KALSHI_AUDIT_HMAC_KEY", "KALSHI_AUDIT_SIGNING_KEY", "KALSHI_AUDIT_ANCHOR", "KALSHI_AUDIT_PUBLIC_KEY"):
        os.environ.pop(name, None)
    syncs = SyncCounter()
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=args.dir) as tmp:
        root = Path(tmp)
        load_before = os.getloadavg()
        print(f"audit log benchmark: {args.seconds:.1f} s per case, {args.repeat} repeats, directory {root}, "
              f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
        line = _sample_line(root / "sample")
        verify_dir = root / "verify"
        with AuditLog(verify_dir, fsync="off") as log:
            for i in range(args.verify_records):
                log.append("ORDER", f"u{i % 7}", ORDER_PAYLOAD)
        verify_lines = log_lines(verify_dir, 50_000)
        repeats = []
        for index in range(args.repeat):
            repeats.append(one_repeat(root, args.seconds, syncs, verify_dir, verify_lines, line))
            load = os.getloadavg()
            print(f"  repeat {index + 1}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
                  f"off {repeats[-1]['off_1']:,.0f}/s, verify {repeats[-1]['verify']:,.0f}/s, "
                  f"always/ceiling {repeats[-1]['always_1_ratio']:.2f}", flush=True)
        median = {key: statistics.median(r[key] for r in repeats) for key in repeats[0]}
        _print_table(median, len(line), args.verify_records)
        _print_verify_memory(verify_dir)
        rate = measure_processes(root / "processes", processes=4, threads=4, seconds=args.seconds)
        print(f"  batch, 4 processes x 4 threads on one directory: {rate:,.0f} appends/s (verified gap-free)")
        load_after = os.getloadavg()
        print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


def _print_table(m: dict[str, float], line_size: int, verify_records: int) -> None:
    ceilings = {1: "raw write+fsync / record", 16: "raw write+fsync / 16 rec", None: "raw write, no fsync"}
    print(f"median of repeats; records of {line_size} bytes; ceiling = mean of the raw loop just before and after")
    print(f"  {'case':<34} {'appends/s':>10}  {'matching raw ceiling':<26} {'records/s':>10}  ratio")
    rows = [
        ("always, 1 writer", "always_1", 1, "(target >= 0.8)"),
        ("batch, 1 writer", "batch_1", 1, ""),
        ("batch, 4 writer threads", "batch_4", 16, ""),
        ("batch, 16 writer threads", "batch_16", 16, "(target >= 0.5)"),
        ("off, 1 writer", "off_1", None, "(target >= 100k appends/s)"),
        ("append_many x16, batch, 1 writer", "batch_1_many16", 16, ""),
        ("append_many x16, off, 1 writer", "off_1_many16", None, ""),
    ]
    for label, key, per_sync, target in rows:
        if key not in m:
            continue
        grouping = "" if key.startswith("off") else f"  {m[key + '_per_sync']:.1f} records per fsync"
        print(
            f"  {label:<34} {m[key]:>10,.0f}  {ceilings[per_sync]:<26} {m[key + '_ceiling']:>10,.0f}  "
            f"{m[key + '_ratio']:5.2f} {target}{grouping}"
        )
    print(f"  python floors, no fsync: msgspec encode+sha256+os.write {m['floor_write']:,.0f} records/s; "
          f"+ flock+stat {m['floor_locked']:,.0f} records/s; off / locked floor = {m['off_floor_ratio']:.2f}")
    print(f"  verify: {m['verify']:,.0f} records/s over {verify_records:,} records with {m['verify_workers']:.0f} "
          f"worker processes (target >= 200k/s), {m['verify_1']:,.0f} records/s in one process; over the same "
          f"lines json.loads alone {m['json_loads']:,.0f}/s, msgspec decode alone {m['msgspec_decode']:,.0f}/s "
          f"(one process each); verify / json.loads = {m['verify_json_ratio']:.2f}, verify / msgspec decode = "
          f"{m['verify_msgspec_ratio']:.2f}")


def _print_verify_memory(verify_dir: Path) -> None:
    """verify streams: its peak Python memory stays near its block size, whatever the log's size (measured
    in one process; each worker process streams its segments the same way)."""
    size = sum(segment.path.stat().st_size for segment in list_segments(verify_dir))
    tracemalloc.start()
    report = verify_log(verify_dir, workers=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    lines = sum(len(line) + 1 for line in log_lines(verify_dir, report.total_entries))
    print(f"  verify peak Python memory in one process (tracemalloc): {peak / 2**20:.1f} MiB for {report.total_entries:,} records "
          f"({lines / 2**20:.1f} MiB of lines, {size / 2**20:.1f} MiB stored with gzip)")


if __name__ == "__main__":
    main()
