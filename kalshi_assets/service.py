"""Read-only query API over the warehouse: what a notebook, a dashboard or `kalshi-assets` reads.

    from kalshi_assets import service
    service.get_events(event_type="CPI", limit=10)
    service.get_distributions("KXCPI-26OCT", start="2026-10-01")

Every read opens a read-only DuckDB connection, runs parameterized SQL (kalshi_assets/warehouse/service.py)
and closes the connection before returning, so no reader keeps the file from the next materialization. On the
lake backend ($KALSHI_WAREHOUSE=ducklake:postgres:...) a read never waits for a writer: it reads the last
committed snapshot.
Records are plain dicts (datetimes naive UTC, money as Decimal). A stage that has not run yet reads as
no rows; input of the wrong kind raises ValueError naming the argument.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kalshi_assets import settings
from kalshi_assets.times import parse_utc
from kalshi_assets.warehouse import db
from kalshi_assets.warehouse import service as sql

Record = dict[str, Any]

DEFAULT_LIMIT = 100
MAX_LIMIT = 100_000
OUTCOME_MODES: tuple[str, ...] = ("first_print", "latest", "revisions")
MAX_TEXT = 200  # longer than any Kalshi ticker or event type; a longer argument is not one


# --- argument checks --------------------------------------------------------------------------------


def _text(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{name} is longer than {MAX_TEXT} characters")
    return value


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"limit must be an integer, got {value!r}")
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def _instant(name: str, value: Any) -> datetime | None:
    """A naive UTC datetime from None, a date, a datetime (naive = UTC) or ISO 8601 text."""
    return None if value is None else parse_utc(value, name)


def _warehouse(path: str | Path | None) -> db.Location:
    """The warehouse to read: `path` (a DuckDB file or a `ducklake:postgres:...` lake), else $KALSHI_WAREHOUSE."""
    return db.location(path if path is not None else os.environ.get("KALSHI_WAREHOUSE", settings.warehouse_path()))


def _clean(value: Any) -> Any:
    # NaN (DuckDB DOUBLE 'nan') is not JSON and means "no value" in this warehouse.
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(columns: list[str], rows: Iterable[tuple[Any, ...]]) -> list[Record]:
    return [{name: _clean(value) for name, value in zip(columns, row, strict=True)} for row in rows]


def _read(path: str | Path | None, read: Any, *args: Any) -> list[Record]:
    with db.connection(_warehouse(path), read_only=True) as con:
        columns, rows = read(con, *args)
    return _records(columns, rows)


# --- reads ----------------------------------------------------------------------------------------


def get_events(
    event_type: str | None = None, limit: int = DEFAULT_LIMIT, *, warehouse: str | Path | None = None
) -> list[Record]:
    """Events (newest release first) with release time and ladder size; `event_type` e.g. "CPI", "FOMC"."""
    return _read(warehouse, sql.events, _text("event_type", event_type, optional=True), _limit(limit))


def get_markets(event_ticker: str, *, warehouse: str | Path | None = None) -> list[Record]:
    """The markets (the ladder) of one event, by strike."""
    return _read(warehouse, sql.markets, _text("event_ticker", event_ticker))


def get_distributions(
    event_ticker: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    *,
    limit: int = MAX_LIMIT,
    warehouse: str | Path | None = None,
) -> list[Record]:
    """Implied-distribution snapshots of one event with snapshot time in [start, end) (UTC), oldest first."""
    ticker = _text("event_ticker", event_ticker)
    start_at, end_at = _instant("start", start), _instant("end", end)
    if start_at is not None and end_at is not None and end_at < start_at:
        raise ValueError(f"end ({end_at}) is before start ({start_at})")
    return _read(warehouse, sql.distributions, ticker, start_at, end_at, _limit(limit))


def get_outcomes(event_ticker: str, mode: str = "first_print", *, warehouse: str | Path | None = None) -> list[Record]:
    """What an event printed: mode "first_print" (what Kalshi settles on), "latest" (newest vintage)
    or "revisions" (every vintage, in order)."""
    ticker = _text("event_ticker", event_ticker)
    if mode not in OUTCOME_MODES:
        raise ValueError(f"mode must be one of {', '.join(OUTCOME_MODES)}; got {mode!r}")
    return _read(warehouse, sql.outcomes, ticker, mode)


def get_promotions(limit: int = DEFAULT_LIMIT, *, warehouse: str | Path | None = None) -> list[Record]:
    """Promotion decisions (gates and verdicts), newest first."""
    return _read(warehouse, sql.promotions, _limit(limit))


# --- status: the warehouse, the audit log's health and the circuit breakers ------------------------


def warehouse_status(warehouse: str | Path | None = None) -> Record:
    where = _warehouse(warehouse)
    empty = {"path": str(where), "tables": [], "quotes_from": None, "quotes_to": None}
    if not where.is_lake and not where.file.exists():
        return {**empty, "exists": False}
    try:
        with db.connection(where, read_only=True) as con:
            counts = sql.table_counts(con)
            first, last = sql.quote_range(con)
    except db.WarehouseBusyError as error:
        # A materialization is writing the file: say so instead of failing the whole status.
        return {**empty, "exists": True, "busy": str(error)}
    except FileNotFoundError:  # a lake nothing was written to yet
        return {**empty, "exists": False}
    size = {"data_path": where.data_path} if where.is_lake else {"size_bytes": where.file.stat().st_size}
    return {
        "path": str(where),
        "exists": True,
        **size,
        "tables": [{"name": name, "kind": kind, "rows": rows} for name, kind, rows in counts],
        "quotes_from": first,
        "quotes_to": last,
    }


def audit_directory(directory: str | Path | None = None, warehouse: str | Path | None = None) -> Path:
    """The audit log's directory: the given one, else $KALSHI_AUDIT_DIR, else audit/ beside the warehouse."""
    from kalshi_assets.audit import default_audit_directory

    return Path(directory) if directory is not None else default_audit_directory(warehouse=warehouse)


def audit_status(directory: str | Path | None = None, max_problems: int = 10) -> Record:
    """The audit log's verify status, last sequence and first problems ("absent" when there is no log)."""
    from kalshi_assets.audit import verify_log

    root = audit_directory(directory)
    if not root.is_dir():
        return {"directory": str(root), "verify_status": "absent", "last_seq": None, "total_entries": 0,
                "checkpoint_seq": None, "segments": 0, "problem_count": 0, "first_bad_seq": None, "problems": []}
    report = verify_log(root)
    return {
        "directory": str(root),
        "verify_status": "ok" if report.ok else "damaged",
        "last_seq": report.last_seq,
        "total_entries": report.total_entries,
        "checkpoint_seq": report.checkpoint_seq,
        "segments": report.segments,
        "problem_count": len(report.problems),
        "first_bad_seq": report.first_bad_seq,
        "problems": [problem.describe() for problem in report.problems[:max_problems]],
    }


def breaker_status(directory: str | Path | None = None) -> Record:
    """Circuit breakers as the audit log saw them (every process's state changes and API calls), plus
    the breakers of this process when it has any."""
    from kalshi_assets.audit import API_CALL, BREAKER_STATE, query_log
    from kalshi_assets.kalshi.breaker import default_registry

    root = audit_directory(directory)
    changes = query_log(root, event_type=BREAKER_STATE) if root.is_dir() else []
    calls = query_log(root, event_type=API_CALL) if root.is_dir() else []
    return {
        "breakers": summarize_breaker_changes(changes),
        "api_calls": summarize_api_calls(calls),
        "this_process": [stats.as_dict() for stats in default_registry.stats().values()],
    }


def summarize_breaker_changes(records: list[Record]) -> list[Record]:
    """Per breaker: current state (the last change), when, how often it opened, and its counters then."""
    by_name: dict[str, Record] = {}
    for record in records:
        payload = record.get("payload") or {}
        name = str(payload.get("breaker") or "?")
        entry = by_name.setdefault(name, {"name": name, "transitions": 0, "times_opened": 0})
        entry["transitions"] += 1
        if payload.get("to_state") == "open":
            entry["times_opened"] += 1
        details = payload.get("details") or {}
        entry.update(
            state=payload.get("to_state"),
            since=record.get("ts"),
            last_seq=record.get("seq"),
            last_failure=payload.get("reason"),
            calls=details.get("calls"),
            failures=details.get("failures"),
            rejected=details.get("rejected"),
            success_rate=details.get("success_rate"),
        )
    return [by_name[name] for name in sorted(by_name)]


def summarize_api_calls(records: list[Record]) -> Record:
    """API calls by outcome: ok (2xx/3xx), client errors, throttled (429), server errors, no answer."""
    counts = {"total": 0, "ok": 0, "client_error": 0, "throttled": 0, "server_error": 0, "no_response": 0}
    durations: list[float] = []
    last_ts = None
    for record in records:
        payload = record.get("payload") or {}
        status = payload.get("status_code")
        counts["total"] += 1
        if status is None:
            counts["no_response"] += 1
        elif status == 429:
            counts["throttled"] += 1
        elif status >= 500:
            counts["server_error"] += 1
        elif status >= 400:
            counts["client_error"] += 1
        else:
            counts["ok"] += 1
        if isinstance(payload.get("duration_ms"), int | float):
            durations.append(float(payload["duration_ms"]))
        last_ts = record.get("ts") or last_ts
    durations.sort()
    failed = counts["throttled"] + counts["server_error"] + counts["no_response"]
    return {
        **counts,
        "failure_rate": failed / counts["total"] if counts["total"] else 0.0,
        "median_ms": durations[len(durations) // 2] if durations else None,
        "p95_ms": durations[min(len(durations) - 1, int(0.95 * len(durations)))] if durations else None,
        "last_call": last_ts,
    }


def get_status(*, warehouse: str | Path | None = None, audit_dir: str | Path | None = None) -> Record:
    """Everything `kalshi-assets status` shows: warehouse tables, audit log health, circuit breakers."""
    audit = audit_directory(audit_dir, warehouse)
    return {
        "warehouse": warehouse_status(warehouse),
        "audit_log": audit_status(audit),
        "circuit_breakers": breaker_status(audit),
    }
