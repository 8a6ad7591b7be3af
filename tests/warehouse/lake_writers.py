"""Writer processes for tests/warehouse/test_lake_backend.py (module level, so spawned processes import it).

Each writer runs the project's own `writes.replace_window` on the lake. To force two writers to overlap,
the writer pauses inside its transaction, after its rows are inserted and before the commit, at the first
attempt only: `overlap` waits for every writer to get there; `hold` waits until the test says go. The
pause wraps `writes._insert_all`; nothing else is replaced. Conflicts DuckLake reports are counted by
wrapping `db.is_write_conflict`.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pandas as pd


def quotes(day: str, n: int, writer: str) -> pd.DataFrame:
    """`n` hourly quotes of the day; yes_bid tells which writer wrote them."""
    return pd.DataFrame({
        "market_ticker": "M1", "event_ticker": "E1",
        "ts": pd.date_range(f"{day} 00:00", periods=n, freq="min"),
        "yes_bid": float(writer[-1]) / 10, "yes_ask": 0.9, "last_price": None, "volume": 1.0, "open_interest": 2.0,
    })


def replace_day(target: str, env: dict[str, str], day: str, n: int, writer: str, barrier=None, written=None,
                go=None, results=None) -> None:
    os.environ.update(env)
    from kalshi_assets.warehouse import db, writes

    conflicts = []
    is_conflict = db.is_write_conflict

    def counting(error) -> bool:
        found = is_conflict(error)
        conflicts.append(found)
        return found

    db.is_write_conflict = counting
    insert_all = writes._insert_all
    paused = []

    def pausing(con, table, frame, columns, *stored_keys) -> None:
        insert_all(con, table, frame, columns, *stored_keys)
        if not paused:
            paused.append(True)
            if written is not None:
                written.set()
            if barrier is not None:
                barrier.wait(60)
            if go is not None:
                go.wait(60)

    writes._insert_all = pausing
    try:
        start = datetime.fromisoformat(day)
        with db.connection(target) as con:
            rows = writes.replace_window(con, "kalshi_quotes", quotes(day, n, writer), "ts", start,
                                         start + timedelta(days=1))
        results.put((writer, "committed", rows, sum(conflicts)))
    except BaseException as error:  # noqa: BLE001 - reported to the test, which fails with it
        results.put((writer, f"failed: {type(error).__name__}: {error}", 0, sum(conflicts)))
