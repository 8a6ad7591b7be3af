"""`kalshi-assets events|markets|distributions|outcomes|promotions|status`: the read service on the command line.

A table by default (units in the headers, numbers rounded for reading), every column as JSON with `--json`
(numbers as numbers). Exit status 0 on success (also when a stage has not run yet and there are no rows),
1 on any error: an unknown event ticker or type, a bad date, a file that is not a DuckDB warehouse, a
missing or busy warehouse, or (for `status`) a damaged audit log.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kalshi_assets import service, settings
from kalshi_assets.cli import CliError, add_command
from kalshi_assets.cli.output import Column, emit_records, print_json
from kalshi_assets.reports.formatting import display_value
from kalshi_assets.reports.units import value_unit

PRICE = "$/contract"


def _warehouse(args: argparse.Namespace) -> Path:
    return Path(args.warehouse) if args.warehouse else settings.warehouse_path()


def _read(args: argparse.Namespace, read, *arguments: Any, **keywords: Any) -> Any:
    """Call the read service; a file DuckDB cannot read becomes one line naming the file."""
    import duckdb

    path = _warehouse(args)
    try:
        return read(*arguments, warehouse=path, **keywords)
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CliError(f"cannot read {path} as a DuckDB warehouse: {first}") from error
    except IsADirectoryError as error:
        raise CliError(f"{path} is a directory, not a DuckDB warehouse file") from error


def _event(args: argparse.Namespace, ticker: str) -> dict[str, Any]:
    """The event named on the command line, or a one-line error saying there is none (with a hint)."""
    events = _read(args, service.get_events, None, service.MAX_LIMIT)
    for event in events:
        if event["event_ticker"] == ticker:
            return event
    near = [e["event_ticker"] for e in events if e["event_ticker"].upper() == ticker.upper()]
    if near:
        hint = f"; did you mean {near[0]}?"
    elif events:
        hint = "; `kalshi-assets events` lists them"
    else:
        hint = " (no events at all: run `kalshi-assets demo` first)"
    raise CliError(f"no event {ticker!r} in {_warehouse(args)}{hint}")


def _limited(args: argparse.Namespace, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return records[: args.limit], len(records)


# --- the commands ------------------------------------------------------------------------------------


def run_events(args: argparse.Namespace) -> int:
    event_type = args.type.upper() if args.type else None
    if event_type is not None and event_type not in settings.EVENT_TYPES:
        raise CliError(f"unknown event type {args.type!r}; one of {', '.join(settings.EVENT_TYPES)}")
    records, total = _limited(args, _read(args, service.get_events, event_type, service.MAX_LIMIT))
    columns = [Column("event_ticker"), Column("event_type", "type"), Column("release_time", "release (UTC)"),
               Column("n_markets", "markets", numeric=True), Column("title")]
    emit_records(records, columns, as_json=args.json, plain=args.plain, total=total, what="events",
                 more_hint="--limit N shows more")
    return 0


def run_markets(args: argparse.Namespace) -> int:
    event = _event(args, args.event_ticker)
    unit = value_unit(event.get("series_ticker")) or "value"
    records = _read(args, service.get_markets, args.event_ticker)
    columns = [Column("market_ticker"), Column("strike_type"), Column("floor_strike", f"floor ({unit})", True),
               Column("cap_strike", f"cap ({unit})", True), Column("status"), Column("close_time", "close (UTC)"),
               Column("yes_bid", f"bid ({PRICE})", True), Column("yes_ask", f"ask ({PRICE})", True),
               Column("last_price", f"last ({PRICE})", True), Column("volume", "volume (contracts)", True),
               Column("result")]
    emit_records(records, columns, as_json=args.json, plain=args.plain, what="markets")
    return 0


def run_distributions(args: argparse.Namespace) -> int:
    event = _event(args, args.event_ticker)
    unit = value_unit(event.get("series_ticker")) or "value"
    records, total = _limited(
        args, _read(args, service.get_distributions, args.event_ticker, args.start, args.end, limit=service.MAX_LIMIT)
    )
    columns = [Column("snapshot_ts", "snapshot (UTC)"), Column("status"),
               *(Column(name, f"{name} ({unit})", True) for name in ("mean", "std", "q05", "median", "q95")),
               Column("n_contracts", "contracts", True), Column("quality_score", "quality (0-1)", True)]
    emit_records(records, columns, as_json=args.json, plain=args.plain, total=total, what="hourly snapshots",
                 more_hint="--limit N, --start and --end choose others")
    return 0


def run_outcomes(args: argparse.Namespace) -> int:
    event = _event(args, args.event_ticker)
    unit = value_unit(event.get("series_ticker")) or "value"
    records = _read(args, service.get_outcomes, args.event_ticker, args.mode)
    columns = [Column("event_ticker"), Column("value", f"value ({unit})", True),
               Column("release_time", "release (UTC)"), Column("vintage_time", "vintage time (UTC)"),
               Column("vintage", numeric=True), Column("source")]
    emit_records(records, columns, as_json=args.json, plain=args.plain, what="outcomes")
    return 0


def run_promotions(args: argparse.Namespace) -> int:
    records, total = _limited(args, _read(args, service.get_promotions, service.MAX_LIMIT))
    columns = [Column("candidate"), Column("promoted"), Column("trades", numeric=True),
               Column("sharpe", "Sharpe (per trade)", True), Column("psr", "PSR (0-1)", True),
               Column("dsr", "DSR (0-1)", True), Column("max_drawdown", "max drawdown (bankroll)", True),
               Column("decided_at", "decided (UTC)"), Column("reasons")]
    emit_records(records, columns, as_json=args.json, plain=args.plain, total=total, what="decisions",
                 more_hint="--limit N shows more")
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = _read(args, _status, audit_dir=args.audit_dir)
    if args.json:
        print_json(status)
    else:
        print(render_status(status))
    return 1 if status["audit_log"]["verify_status"] == "damaged" else 0


def _status(*, warehouse: Path, audit_dir: str | None) -> dict[str, Any]:
    return service.get_status(warehouse=warehouse, audit_dir=audit_dir)


def render_status(status: dict[str, Any]) -> str:
    lines: list[str] = []
    wh = status["warehouse"]
    if not wh["exists"]:
        lines.append(f"Warehouse   {wh['path']}: not created yet (run `make demo` or materialize in the UI)")
    elif wh.get("busy"):
        lines.append(f"Warehouse   {wh['path']}: busy, a materialization is writing ({wh['busy']})")
    else:
        size = f"{wh['size_bytes'] / 1e6:.1f} MB" if "size_bytes" in wh else f"lake data in {wh['data_path']}"
        lines.append(f"Warehouse   {wh['path']} ({size})")
        width = max((len(t["name"]) for t in wh["tables"]), default=0)
        for table in wh["tables"]:
            lines.append(f"  {table['name']:<{width}}  {table['kind']:<5}  {table['rows']:>10,} rows")
        if wh["quotes_to"] is not None:
            lines.append(f"  quotes from {display_value(wh['quotes_from'])} to {display_value(wh['quotes_to'])} UTC")
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
            f"success rate {display_value(b['success_rate'])}"
            + (f", last failure: {b['last_failure']}" if b.get("last_failure") else "")
        )
    calls = breakers["api_calls"]
    lines.append(
        f"API calls   {calls['total']} ({calls['ok']} ok, {calls['throttled']} throttled, "
        f"{calls['server_error']} server errors, {calls['no_response']} unanswered); "
        f"failure rate {calls['failure_rate']:.3f}"
    )
    return "\n".join(lines)


# --- the parser --------------------------------------------------------------------------------------


def _read_options() -> argparse.ArgumentParser:
    from kalshi_assets.cli import Parser

    parent = Parser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print every column as JSON (numbers as numbers)")
    parent.add_argument("--plain", action="store_true",
                        help="plain aligned text even on a terminal (a pipe always gets plain text)")
    parent.add_argument("--warehouse", metavar="FILE",
                        help="DuckDB file (default: $KALSHI_WAREHOUSE, else data/warehouse.duckdb)")
    return parent


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= service.MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {service.MAX_LIMIT:,}, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """events | markets | distributions | outcomes | promotions | status"""
    common = [*parents, _read_options()]

    events = add_command(subparsers, "events", "list events, newest release first",
                         "kalshi-assets events --type cpi --limit 5", run_events, common)
    events.add_argument("--type", metavar="TYPE",
                        help=f"only this event type, any case: {', '.join(settings.EVENT_TYPES)}")
    events.add_argument("--limit", type=_limit, default=service.DEFAULT_LIMIT, help="show at most this many")

    markets = add_command(subparsers, "markets", "the markets (the ladder) of one event, by strike",
                          "kalshi-assets markets KXCPI-26SEP", run_markets, common)
    markets.add_argument("event_ticker", metavar="EVENT", help="event ticker, exactly (e.g. KXCPI-26SEP)")

    dists = add_command(
        subparsers, "distributions", "hourly implied-distribution snapshots of one event, oldest first",
        "kalshi-assets distributions KXCPI-26SEP --start 2026-10-01 --end 2026-10-12", run_distributions, common,
        description="Hourly implied-distribution snapshots of one event, oldest first, in [--start, --end) UTC.\n"
                    "Moments and quantiles are in the event's unit (docs/METHODS.md section 1).")
    dists.add_argument("event_ticker", metavar="EVENT", help="event ticker, exactly (e.g. KXCPI-26SEP)")
    dists.add_argument("--start", help="UTC start, inclusive: a date or an ISO 8601 time (default: the first)")
    dists.add_argument("--end", help="UTC end, exclusive: a date or an ISO 8601 time (default: the last)")
    dists.add_argument("--limit", type=_limit, default=48, help="show at most this many snapshots")

    outcomes = add_command(
        subparsers, "outcomes", "what an event printed: its first print, its latest vintage, or every revision",
        "kalshi-assets outcomes KXPAYROLLS-26MAY --mode revisions", run_outcomes, common)
    outcomes.add_argument("event_ticker", metavar="EVENT", help="event ticker, exactly (e.g. KXCPI-26SEP)")
    outcomes.add_argument("--mode", default="first_print", choices=service.OUTCOME_MODES,
                          help="first_print (what Kalshi settles on), latest, or revisions")

    promotions = add_command(subparsers, "promotions", "promotion decisions of the research candidates, newest first",
                             "kalshi-assets promotions --limit 3", run_promotions, common)
    promotions.add_argument("--limit", type=_limit, default=service.DEFAULT_LIMIT, help="show at most this many")

    status = add_command(
        subparsers, "status", "warehouse tables, audit log health, circuit breakers (exit 1: audit log damaged)",
        "kalshi-assets status --json", run_status, common)
    status.add_argument("--audit-dir", metavar="DIR",
                        help="audit log directory (default: $KALSHI_AUDIT_DIR, else audit/ beside the warehouse)")
