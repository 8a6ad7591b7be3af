"""A small warehouse for the read-service tests: two events, a ladder, snapshots, outcomes, a promotion.

Rows go into the real schema (schema.sql); columns a test does not care about get a plain value of
their type, so the rows fit whatever NOT NULL columns the other stages' tables carry.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kalshi_assets.warehouse import db

CPI = "KXCPI-26SEP"
FED = "KXFED-26OCT"
RELEASE = datetime(2026, 10, 12, 12, 30)


def _filler(data_type: str) -> Any:
    kind = data_type.upper()
    if kind.startswith(("VARCHAR", "TEXT")):
        return "x"
    if kind.startswith("TIMESTAMP"):
        return datetime(2026, 1, 1)
    if kind.startswith("DATE"):
        return datetime(2026, 1, 1).date()
    if kind.startswith("BOOLEAN"):
        return False
    if kind.endswith("[]"):
        return []
    return 0


def insert_row(con: duckdb.DuckDBPyConnection, table: str, values: dict[str, Any]) -> None:
    """Insert one row: the given values, and a filler for every other NOT NULL column."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    row = dict(values)
    for name, data_type, nullable in columns:
        if name not in row and nullable == "NO":
            row[name] = _filler(data_type)
    names = [db.checked_identifier(n) for n in row]
    sql = f"INSERT INTO {db.checked_identifier(table)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    con.execute(sql, list(row.values()))


def build(path: Path) -> Path:
    """The warehouse file at `path` (schema from schema.sql) holding a few known rows."""
    con = db.connect(path)
    try:
        insert_row(con, "kalshi_series", {"series_ticker": "KXCPI", "event_type": "CPI", "ingested_at": RELEASE})
        insert_row(con, "kalshi_series", {"series_ticker": "KXFED", "event_type": "FOMC", "ingested_at": RELEASE})
        insert_row(con, "kalshi_events", {"event_ticker": CPI, "series_ticker": "KXCPI", "event_type": "CPI",
                                          "title": "CPI 26SEP", "strike_date": RELEASE, "ingested_at": RELEASE})
        insert_row(con, "kalshi_events", {"event_ticker": FED, "series_ticker": "KXFED", "event_type": "FOMC",
                                          "title": "Fed 26OCT", "strike_date": datetime(2026, 10, 28, 18),
                                          "ingested_at": RELEASE})
        for i, strike in enumerate((0.2, 0.3, 0.4)):
            insert_row(con, "kalshi_markets", {
                "market_ticker": f"{CPI}-T{strike}", "event_ticker": CPI, "strike_type": "greater",
                "floor_strike": strike, "open_time": datetime(2026, 9, 1), "close_time": RELEASE,
                "result": "yes" if i < 2 else "no", "ingested_at": RELEASE,
            })
        for day in (1, 2, 3):
            insert_row(con, "distribution_snapshots", {
                "event_ticker": CPI, "snapshot_ts": datetime(2026, 10, day, 12), "status": "ok",
                "release_time": RELEASE, "series_ticker": "KXCPI", "mean": 0.3 + day / 100, "median": 0.3,
            })
        insert_row(con, "outcomes_first_print", {"event_ticker": CPI, "value": 0.35, "release_time": RELEASE,
                                                 "source": "demo", "recorded_at": RELEASE, "row_hash": "h"})
        for vintage, (when, value) in enumerate(((RELEASE, 0.35), (datetime(2026, 11, 12, 12, 30), 0.4)), 1):
            insert_row(con, "outcomes_revisions", {"event_ticker": CPI, "vintage_time": when, "source": "demo",
                                                   "vintage": vintage, "value": value, "recorded_at": when})
        insert_row(con, "promotion_decisions", {"candidate": "edge>=0.05", "promoted": True,
                                                "decided_at": datetime(2026, 11, 1)})
        insert_row(con, "promotion_decisions", {"candidate": "edge>=0.10", "promoted": False,
                                                "decided_at": datetime(2026, 11, 2)})
    finally:
        con.close()
    return path


def row_counts(path: Path) -> dict[str, int]:
    with db.connection(path, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        counts = {}
        for table in tables:
            sql = "SELECT count(*) FROM " + db.checked_identifier(table)
            counts[table] = con.execute(sql).fetchone()[0]
        return counts


def build_audit_log(directory: Path) -> Path:
    """An audit log holding real breaker transitions (closed -> open -> half_open -> closed) from an
    audited breaker registry, and five API calls: two answered, one 500, one 429, one unanswered."""
    from kalshi_assets.audit import AuditLog
    from kalshi_assets.trading.audit_hooks import audited_breaker_registry

    clock = [0.0]
    with AuditLog(directory) as log:
        registry = audited_breaker_registry(log, "pipeline", failure_threshold=2, recovery_timeout_s=10, success_threshold=1,
                                            clock=lambda: clock[0])
        breaker = registry.get("kalshi")

        def fail() -> None:
            raise ConnectionError("connection reset")

        for _ in range(2):
            try:
                breaker.call(fail)
            except ConnectionError:
                pass
        clock[0] = 11.0
        breaker.call(lambda: None)  # the probe succeeds: half_open -> closed
        for status in (200, 200, 500, 429, None):
            log.log_api_call("pipeline", method="GET", path="/markets", status_code=status, duration_ms=12.5,
                             error=None if status == 200 else "failed")
    return directory


def damage_audit_log(directory: Path) -> None:
    """Flip one byte inside the second record: verify must name it."""
    segment = sorted(directory.glob("segment-*.jsonl"))[0]
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"GET"', b'"PUT"') if b'"GET"' in lines[1] else lines[1][:-2] + b"X\n"
    segment.write_bytes(b"".join(lines))
