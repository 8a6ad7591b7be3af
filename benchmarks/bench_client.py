"""Kalshi client throughput against the loopback demo server, versus the configured rate limit.

    .venv/bin/python benchmarks/bench_client.py [--seconds 10] [--threads 4] [--tiers basic advanced premier]

The demo server runs as a separate process (`kalshi-assets demo-server`) enforcing the same tier as
the client, so the figures are what a client configured for a tier achieves against an exchange
enforcing it. Each request is a signed GET (reads bucket) or a signed order POST (writes bucket).
Printed per run: requests completed, requests/s achieved, the limit, achieved / limit, and how many
429s the server answered (target: 0 under the limit; the client would retry them, so they are
counted from the client's on_request hook). "Client capacity" first measures the client alone with
no limit on either side: far above every tier means the client is not the bottleneck (target:
achieved >= 95% of the limit).
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate-limited run")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--tiers", nargs="+", default=["basic", "advanced", "premier"])
    args = parser.parse_args()

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
