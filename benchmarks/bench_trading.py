"""Order routing throughput: orders per second through the router (store, risk, broker, audit).

    .venv/bin/python benchmarks/bench_trading.py [--orders 2000] [--dir PATH]

Three paths, each printed with its orders/s and audit records written:
  paper+memory    PaperBroker, in-memory order store, audit log fsync=batch (one durable record a step)
  paper+duckdb    PaperBroker, the warehouse order store (pending row, then completion and fills)
  risk rejections every order over the notional limit: RISK_VIOLATION records only, no broker call
Every figure comes from this one run, on the file system of --dir (default: the system temp dir).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kalshi_assets.audit import AuditLog  # noqa: E402
from kalshi_assets.trading import (  # noqa: E402
    MemoryOrderStore,
    Order,
    OrderBook,
    OrderRouter,
    PaperBroker,
    RiskManager,
    StaticBooks,
)
from kalshi_assets.warehouse import db  # noqa: E402
from kalshi_assets.warehouse.trading import WarehouseOrderStore  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _orders(n: int, count: int) -> list[Order]:
    start = NOW - timedelta(hours=1)
    return [
        Order.create("bench", "KXCPI-26OCT", f"KXCPI-26OCT-T{i % 50}", "yes", "buy", count, "0.52",
                     start + timedelta(microseconds=i))  # fmt: skip
        for i in range(n)
    ]


def _books() -> StaticBooks:
    deep = OrderBook.from_levels([("0.4600", "1000000")], [("0.4800", "1000000"), ("0.4900", "1000000")])
    return StaticBooks({f"KXCPI-26OCT-T{i}": deep for i in range(50)})


def _run(name: str, router: OrderRouter, orders: list[Order], log: AuditLog) -> None:
    before = log.last_seq
    began = time.perf_counter()
    results = router.route_all(orders)
    elapsed = time.perf_counter() - began
    statuses = {s: sum(r.status == s for r in results) for s in ("filled", "rejected")}
    print(f"{name:<16} {len(orders):>6} orders in {elapsed:6.2f} s = {len(orders) / elapsed:8.0f} orders/s  "
          f"{statuses}  audit records {log.last_seq - before}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        with AuditLog(root / "audit", fsync="batch") as log:
            risk = RiskManager(max_position_per_market=10**9, max_daily_loss=10**9, clock=lambda: NOW)
            router = OrderRouter(PaperBroker(_books(), now=lambda: NOW), risk, log, store=MemoryOrderStore())
            _run("paper+memory", router, _orders(args.orders, 10), log)

            with db.connection(root / "w.duckdb") as con:
                risk = RiskManager(max_position_per_market=10**9, max_daily_loss=10**9, clock=lambda: NOW)
                router = OrderRouter(PaperBroker(_books(), now=lambda: NOW), risk, log, store=WarehouseOrderStore(con))
                _run("paper+duckdb", router, _orders(args.orders, 11), log)

            risk = RiskManager(max_position_per_market=10**9, max_daily_loss=10**9, clock=lambda: NOW)
            router = OrderRouter(PaperBroker(_books(), now=lambda: NOW), risk, log, store=MemoryOrderStore())
            _run("risk rejections", router, _orders(args.orders, 5000), log)  # $2,600 each: over $500
            print(f"audit log verifies: {log.verify().ok}")


if __name__ == "__main__":
    main()
