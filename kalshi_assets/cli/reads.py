"""`kalshi-assets events|markets|distributions|outcomes|promotions|status`: the read service on the command line.

A readable table by default, every column as JSON with `--json`. Exit status 0 on success (also when
there are no rows), 2 on bad arguments, 1 when the warehouse cannot be read (or, for `status`, when the
audit log is damaged).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kalshi_assets import service
from kalshi_assets.warehouse.db import WarehouseBusyError

# The columns of the readable table per command (every column with --json); missing ones are skipped.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_ticker", "event_type", "release_time", "n_markets", "title"),
    "markets": ("market_ticker", "strike_type", "floor_strike", "cap_strike", "status", "close_time",
                "yes_bid", "yes_ask", "last_price", "result"),
    "distributions": ("snapshot_ts", "ts", "status", "mean", "std", "q05", "median", "q95", "n_contracts",
                      "quality_score"),
    "outcomes": ("event_ticker", "value", "release_time", "vintage_time", "vintage", "source"),
    "promotions": ("candidate", "promoted", "trades", "sharpe", "psr", "dsr", "max_drawdown", "decided_at",
                   "reasons"),
}
MAX_CELL = 48


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.second == 0 else value.isoformat(sep=" ")
    if isinstance(value, float):
        # Four significant digits, but never scientific notation for values people read (payrolls: 124000).
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_table(records: Sequence[dict[str, Any]], preferred: Sequence[str] = ()) -> str:
    """A plain-text table of the preferred columns that exist (all columns when none do)."""
    if not records:
        return "(no rows)"
    present = [c for c in preferred if c in records[0]] or list(records[0])
    cells = [[format_cell(r.get(c)) for c in present] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(present)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(present, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _emit(records: list[dict[str, Any]], args: argparse.Namespace, command: str) -> None:
    if args.json:
        print(json.dumps(records, default=json_default, indent=1))
    else:
        print(render_table(records, TABLE_COLUMNS.get(command, ())))


def _guarded(read: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        try:
            return read(args)
        except ValueError as error:
            print(f"kalshi-assets {args.command}: {error}", file=sys.stderr)
            return 2
        except (FileNotFoundError, WarehouseBusyError) as error:
            print(f"kalshi-assets {args.command}: {error}", file=sys.stderr)
            return 1

    return handler


def _events(args: argparse.Namespace) -> int:
    _emit(service.get_events(args.type, args.limit, warehouse=args.warehouse), args, "events")
    return 0


def _markets(args: argparse.Namespace) -> int:
    _emit(service.get_markets(args.event_ticker, warehouse=args.warehouse), args, "markets")
    return 0


def _distributions(args: argparse.Namespace) -> int:
    records = service.get_distributions(
        args.event_ticker, args.start, args.end, limit=args.limit, warehouse=args.warehouse
    )
    _emit(records, args, "distributions")
    return 0


def _outcomes(args: argparse.Namespace) -> int:
    _emit(service.get_outcomes(args.event_ticker, args.mode, warehouse=args.warehouse), args, "outcomes")
    return 0


def _promotions(args: argparse.Namespace) -> int:
    _emit(service.get_promotions(args.limit, warehouse=args.warehouse), args, "promotions")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = service.get_status(warehouse=args.warehouse, audit_dir=args.audit_dir)
    if args.json:
        print(json.dumps(status, default=json_default, indent=1))
    else:
        print(render_status(status))
    return 1 if status["audit_log"]["verify_status"] == "damaged" else 0


def render_status(status: dict[str, Any]) -> str:
    lines: list[str] = []
    wh = status["warehouse"]
    if not wh["exists"]:
        lines.append(f"Warehouse   {wh['path']}: not created yet (run `make demo` or materialize in the UI)")
    elif wh.get("busy"):
        lines.append(f"Warehouse   {wh['path']}: busy, a materialization is writing ({wh['busy']})")
    else:
        lines.append(f"Warehouse   {wh['path']} ({wh['size_bytes'] / 1e6:.1f} MB)")
        width = max((len(t["name"]) for t in wh["tables"]), default=0)
        for table in wh["tables"]:
            lines.append(f"  {table['name']:<{width}}  {table['kind']:<5}  {table['rows']:>10,} rows")
        if wh["quotes_to"] is not None:
            lines.append(f"  quotes from {format_cell(wh['quotes_from'])} to {format_cell(wh['quotes_to'])} UTC")
    audit = status["audit_log"]
    if audit["verify_status"] == "absent":
        lines.append(f"Audit log   {audit['directory']}: none yet (nothing has been audited)")
    elif not audit["total_entries"] and audit["verify_status"] == "ok":
        lines.append(f"Audit log   {audit['directory']}: ok, empty (no record yet)")
    else:
        lines.append(
            f"Audit log   {audit['directory']}: {audit['verify_status']}, last seq {audit['last_seq']}, "
            f"{audit['total_entries']} records, checkpoint seq {audit['checkpoint_seq']}"
        )
        for problem in audit["problems"]:
            lines.append(f"  problem: {problem}")
    breakers = status["circuit_breakers"]
    if not breakers["breakers"]:
        lines.append("Breakers    no state change recorded (all closed)")
    for b in breakers["breakers"]:
        lines.append(
            f"Breaker     {b['name']}: {b['state']} since {b['since']}, opened {b['times_opened']}x, "
            f"success rate {format_cell(b['success_rate'])}"
            + (f", last failure: {b['last_failure']}" if b.get("last_failure") else "")
        )
    calls = breakers["api_calls"]
    lines.append(
        f"API calls   {calls['total']} ({calls['ok']} ok, {calls['throttled']} throttled, "
        f"{calls['server_error']} server errors, {calls['no_response']} unanswered); "
        f"failure rate {calls['failure_rate']:.3f}"
    )
    return "\n".join(lines)


def add_read_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the read commands on the `kalshi-assets` parser."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print every column as JSON")
        parser.add_argument("--warehouse", help="DuckDB file (default $KALSHI_WAREHOUSE or data/warehouse.duckdb)")

    events = subparsers.add_parser("events", help="list events, newest release first")
    events.add_argument("--type", help="event type: CPI, FOMC, UNEMPLOYMENT, GDP, PAYROLLS")
    events.add_argument("--limit", type=int, default=service.DEFAULT_LIMIT, help="at most this many")
    common(events)
    events.set_defaults(handler=_guarded(_events))

    markets = subparsers.add_parser("markets", help="the markets (ladder) of one event")
    markets.add_argument("event_ticker", metavar="EVENT")
    common(markets)
    markets.set_defaults(handler=_guarded(_markets))

    dists = subparsers.add_parser("distributions", help="implied-distribution snapshots of one event")
    dists.add_argument("event_ticker", metavar="EVENT")
    dists.add_argument("--start", help="UTC start, inclusive (ISO 8601 date or time)")
    dists.add_argument("--end", help="UTC end, exclusive (ISO 8601 date or time)")
    dists.add_argument("--limit", type=int, default=service.MAX_LIMIT, help="at most this many")
    common(dists)
    dists.set_defaults(handler=_guarded(_distributions))

    outcomes = subparsers.add_parser("outcomes", help="what an event printed: first print, latest, revisions")
    outcomes.add_argument("event_ticker", metavar="EVENT")
    outcomes.add_argument("--mode", default="first_print", choices=service.OUTCOME_MODES)
    common(outcomes)
    outcomes.set_defaults(handler=_guarded(_outcomes))

    promotions = subparsers.add_parser("promotions", help="promotion decisions, newest first")
    promotions.add_argument("--limit", type=int, default=service.DEFAULT_LIMIT, help="at most this many")
    common(promotions)
    promotions.set_defaults(handler=_guarded(_promotions))

    status = subparsers.add_parser("status", help="warehouse tables, audit log health, circuit breakers")
    status.add_argument("--audit-dir", help="audit log directory (default $KALSHI_AUDIT_DIR or audit/ beside the warehouse)")
    common(status)
    status.set_defaults(handler=_guarded(_status))
