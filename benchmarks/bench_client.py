"""Kalshi client throughput against the loopback demo server, versus the configured rate limit, and the
cost of auditing every API call during ingestion.

    .venv/bin/python benchmarks/bench_client.py [--seconds 10] [--threads 4] [--tiers basic advanced premier]
    .venv/bin/python benchmarks/bench_client.py --audit-only [--repeats 3]

The demo server runs as a separate process (`kalshi-assets demo-server`) enforcing the same tier as
the client, so the figures are what a client configured for a tier achieves against an exchange
enforcing it. Each request is a signed GET (reads bucket) or a signed order POST (writes bucket).
Printed per run: requests completed, requests/s achieved, the limit, achieved / limit, and how many
429s the server answered (target: 0 under the limit; the client would retry them, so they are
counted from the client's on_request hook). "Client capacity" first measures the client alone with
no limit on either side: far above every tier means the client is not the bottleneck (target:
achieved >= 95% of the limit).

"Ingest with auditing" runs the API source's ingest work (every event's markets from both tiers, then
a quarter of hourly candles) over signed HTTP against a server without limits, alternately without
and with the audit recorder (one API_CALL per request, group-committed with AuditLog.append_many
under fsync=batch), and prints requests/s of each and their ratio (target: with >= 0.9 x without).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kalshi_assets.audit import verify_log  # noqa: E402
from kalshi_assets.demo.exchange import DemoExchange  # noqa: E402
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair  # noqa: E402
from kalshi_assets.kalshi import (  # noqa: E402
    BreakerRegistry,
    KalshiClient,
    RateLimiter,
    RateLimitTier,
)
from kalshi_assets.kalshi.ratelimit import resolve_tier  # noqa: E402


def start_server(extra_args: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "kalshi_assets.cli", "demo-server", "--port", "0", *extra_args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = process.stdout.readline() if process.stdout else ""
    if "serving at " not in line:
        process.kill()
        raise RuntimeError(f"demo server did not start: {line!r}")
    return process, line.split("serving at ", 1)[1].split()[0]


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(
    base_url: str, limiter: RateLimiter, seconds: float, threads: int, kind: str, ticker: str
) -> tuple[int, float, float, Counter[int | None]]:
    """(requests completed, elapsed seconds, sustained requests/s, answers by status) of `threads`
    workers for `seconds`. Sustained excludes the first second, which holds the client's burst."""
    statuses: Counter[int | None] = Counter()
    lock = threading.Lock()

    def on_request(method: str, path: str, status: int | None, elapsed_ms: float, code: str | None) -> None:
        with lock:
            statuses[status] += 1

    client = KalshiClient(
        base_url,
        DEMO_API_KEY_ID,
        private_key_pem=demo_key_pair()[0],
        rate_limiter=limiter,
        breaker_registry=BreakerRegistry(failure_threshold=1_000_000),
        on_request=on_request,
        pool_maxsize=max(threads, 4),
    )
    call: Callable[[], object]
    if kind == "read":
        call = client.get_exchange_status
    else:

        def call() -> object:
            return client.place_order(ticker, "yes", "buy", 1, yes_price_dollars="0.01")

    call()  # warm the connection and the server's caches outside the measurement
    statuses.clear()
    finished: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            call()
            finished[index].append(time.perf_counter())

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    client.close()
    times = [t - started for per_worker in finished for t in per_worker]
    after_burst = [t for t in times if t >= 1.0]
    sustained = len(after_burst) / (elapsed - 1.0) if elapsed > 1.0 else float("nan")
    return len(times), elapsed, sustained, statuses


def ingest_once(base_url: str, audit_dir: Path | None) -> tuple[int, float, int]:
    """(requests, seconds, audit records) of one ingest pass: markets of every event, then 92 days of candles."""
    from kalshi_assets.audit import AuditLog
    from kalshi_assets.kalshi import ingest as fetch
    from kalshi_assets.kalshi.call_audit import ApiCallAuditor
    from kalshi_assets.kalshi.source import ApiMarketData

    requests_made = 0

    def count(*_args: object) -> None:
        nonlocal requests_made
        requests_made += 1

    log = AuditLog(audit_dir, fsync="batch") if audit_dir is not None else None
    auditor = ApiCallAuditor(lambda: log, "bench") if log is not None else None

    def on_request(*call: object) -> None:
        count()
        if auditor is not None:
            auditor.on_request(*call)  # type: ignore[arg-type]

    client = KalshiClient(base_url, DEMO_API_KEY_ID, private_key_pem=demo_key_pair()[0],
                          rate_limiter=RateLimiter(RateLimitTier("unlimited", 1_000_000, 1_000_000)),
                          breaker_registry=BreakerRegistry(), on_request=on_request)
    source = ApiMarketData(client)
    started = time.perf_counter()
    events = [e["event_ticker"] for s in source.series() for e in source.events(s["ticker"])]
    markets = fetch.fetch_markets(source, events).frame
    window = (datetime(2026, 5, 1), datetime(2026, 8, 1))
    open_then = markets[(markets["open_time"] < window[1]) & (markets["close_time"] >= window[0])]
    fetch.fetch_quotes(source, open_then, *window)
    if auditor is not None:
        auditor.close()  # the end of the step: the last batch is written inside the measurement
    elapsed = time.perf_counter() - started
    client.close()
    written = 0
    if log is not None:
        log.close()
        report = verify_log(audit_dir)
        assert report.ok, report.problems[:3]
        written = report.total_entries
    return requests_made, elapsed, written


def audit_benchmark(repeats: int) -> None:
    import statistics
    import tempfile

    process, base_url = start_server(["--no-rate-limit"])
    try:
        ingest_once(base_url, None)  # warm the server's caches and the connection pool
        rates: dict[bool, list[float]] = {False: [], True: []}
        with tempfile.TemporaryDirectory() as scratch:
            for run_index in range(repeats):
                for audited in ((False, True) if run_index % 2 == 0 else (True, False)):
                    audit_dir = Path(scratch) / f"audit{run_index}" if audited else None
                    count, elapsed, written = ingest_once(base_url, audit_dir)
                    if audited:
                        assert written == count, f"{written} audit records for {count} requests"
                    rates[audited].append(count / elapsed)
                    print(f"  ingest {'with' if audited else 'without'} auditing: {count} requests in "
                          f"{elapsed:.2f} s = {count / elapsed:,.0f} requests/s"
                          + (f", {written} API_CALL records, chain verified" if audited else ""))
    finally:
        stop_server(process)
    without, with_audit = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"ingest throughput, median of {repeats}: without auditing {without:,.0f} requests/s, with auditing "
          f"{with_audit:,.0f} requests/s; ratio {with_audit / without:.3f} (target >= 0.9)")
    per_record = audit_cost_per_request()
    bound = 1 / (1 + per_record * without)
    print(f"auditing alone costs {per_record * 1e6:.1f} us per request (recorded and group-committed): at "
          f"{without:,.0f} requests/s that bounds the ratio at {bound:.3f}, whatever the machine's noise")


def audit_cost_per_request(records: int = 20_000) -> float:
    """Seconds the auditor adds to one request: on_request for `records` calls plus their group commits."""
    import tempfile

    from kalshi_assets.audit import AuditLog
    from kalshi_assets.kalshi.call_audit import ApiCallAuditor

    with tempfile.TemporaryDirectory() as scratch, AuditLog(Path(scratch), fsync="batch") as log:
        auditor = ApiCallAuditor(lambda: log, "bench")
        started = time.perf_counter()
        for i in range(records):
            auditor.on_request("GET", f"/historical/markets/KXCPI-26MAY-T0.{i % 9}/candlesticks", 200, 12.5, None)
        auditor.close()
        return (time.perf_counter() - started) / records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate-limited run")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--tiers", nargs="+", default=["basic", "advanced", "premier"])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of the ingest-with-auditing pair")
    parser.add_argument("--audit-only", action="store_true", help="run only the ingest-with-auditing benchmark")
    args = parser.parse_args()
    if args.audit_only:
        audit_benchmark(args.repeats)
        return 0

    exchange = DemoExchange()
    ticker = next(m["ticker"] for m in exchange.markets(series_ticker="KXCPI") if m["status"] == "active")

    unlimited = RateLimitTier("unlimited", 1_000_000, 1_000_000)
    process, base_url = start_server(["--no-rate-limit"])
    try:
        count, elapsed, _, _ = run(base_url, RateLimiter(unlimited), 3.0, args.threads, "read", ticker)
    finally:
        stop_server(process)
    print(f"client capacity (no limits, {args.threads} threads, signed GETs): {count / elapsed:,.0f} requests/s")
    print()
    header = (
        f"{'tier':<10}{'bucket':<8}{'requests':>9}{'seconds':>9}{'achieved/s':>12}{'sustained/s':>13}"
        f"{'limit/s':>9}{'sustained/limit':>17}{'429s':>6}"
    )
    print(header)
    print("-" * len(header))
    for tier_name in args.tiers:
        tier = resolve_tier(tier_name)
        process, base_url = start_server(["--tier", tier.name])
        try:
            for kind in ("read", "write"):
                limit = tier.reads_per_second if kind == "read" else tier.writes_per_second
                count, elapsed, sustained, statuses = run(
                    base_url, RateLimiter(tier), args.seconds, args.threads, kind, ticker
                )
                print(
                    f"{tier.name:<10}{kind:<8}{count:>9}{elapsed:>9.2f}{count / elapsed:>12.2f}{sustained:>13.2f}"
                    f"{limit:>9.0f}{sustained / limit:>17.1%}{statuses[429]:>6}"
                )
        finally:
            stop_server(process)
    print()
    print("achieved/s includes the client's initial burst (half a second of tokens); sustained/s is after it.")
    print("target: sustained >= 95% of the limit, 0 answers of 429 under the limit")
    print()
    audit_benchmark(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
