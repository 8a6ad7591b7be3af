"""The `kalshi-assets` console script.

Each area registers its subcommands with a small `_add_<area>_commands(subparsers)` function below;
the handlers call library code and return a process exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kalshi-assets", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in _REGISTRARS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


# --- area registrars (each appends its subcommands) -------------------------------------------

_REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = []


def _add_demo_server_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-server", help="serve the demo exchange over HTTP on loopback with Kalshi's API paths"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    parser.add_argument("--seed", type=int, default=7, help="demo exchange seed")
    parser.add_argument("--scale", type=int, default=1, help="replica series multiplier")
    parser.add_argument(
        "--historical-cutoff", default=None, metavar="UTC_TIME",
        help="markets settled (and trades made) before this ISO time are served only under /historical/*; "
        "default $KALSHI_DEMO_HISTORICAL_CUTOFF, else 90 days before the demo's end",
    )
    parser.add_argument("--tier", default="basic", help="rate-limit tier: basic, advanced, premier, prime")
    parser.add_argument("--no-rate-limit", action="store_true", help="answer every request (no 429s)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 500")
    parser.add_argument("--error-status", type=int, default=500, help="status of injected errors")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections dropped")
    parser.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of bodies truncated")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="fraction of requests answered 429")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of the fault draws")
    parser.set_defaults(handler=_run_demo_server)


def _run_demo_server(args: argparse.Namespace) -> int:
    from kalshi_assets.demo.exchange import DemoExchange, cutoff_from_environment, parse_cutoff
    from kalshi_assets.demo.server import FaultConfig, ServerRateLimits, serve
    from kalshi_assets.kalshi.ratelimit import resolve_tier

    try:
        cutoff = (parse_cutoff(args.historical_cutoff, what="--historical-cutoff") if args.historical_cutoff
                  else cutoff_from_environment())
        faults = FaultConfig(
            error_rate=args.error_rate,
            error_status=args.error_status,
            latency_s=args.latency_ms / 1000.0,
            drop_rate=args.drop_rate,
            truncate_rate=args.truncate_rate,
            throttle_rate=args.throttle_rate,
            seed=args.fault_seed,
        )
        tier = resolve_tier(args.tier)
    except ValueError as exc:
        print(f"demo-server: {exc}", file=sys.stderr)
        return 2
    limits = None if args.no_rate_limit else ServerRateLimits(tier.reads_per_second, tier.writes_per_second,
                                                              tier=tier.name)
    try:
        serve(
            args.host,
            args.port,
            DemoExchange(seed=args.seed, scale=args.scale, historical_cutoff=cutoff),
            faults,
            rate_limits=limits,
            announce=lambda line: print(line, flush=True),
        )
    except (ValueError, OSError) as exc:
        print(f"demo-server: {exc}", file=sys.stderr)
        return 1
    return 0


_REGISTRARS.append(_add_demo_server_commands)


def _add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    from kalshi_assets.audit.commands import run_query, run_verify

    audit = subparsers.add_parser("audit", help="verify or query a tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the chain; exit 1 naming each problem")
    verify.add_argument("directory", metavar="DIR", help="audit log directory")
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")
    verify.set_defaults(handler=run_verify)
    query = audit_commands.add_parser("query", help="print matching records, one JSON object per line")
    query.add_argument("directory", metavar="DIR", help="audit log directory")
    query.add_argument("--type", help="event type, e.g. ORDER")
    query.add_argument("--user", help="user id")
    query.add_argument("--since", help="UTC start, inclusive (ISO 8601 date or time)")
    query.add_argument("--until", help="UTC end, exclusive (ISO 8601 date or time)")
    query.add_argument("--limit", type=int, help="at most this many records")
    query.set_defaults(handler=run_query)


_REGISTRARS.append(_add_audit_commands)


def _add_demo_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="materialize the whole graph on the embedded demo exchange and print what it produced"
    )
    demo.add_argument("--start", help="first daily partition (default: the first one)")
    demo.add_argument("--end", help="last daily partition (default: the last day the source has closed)")
    demo.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    import time

    from kalshi_assets.definitions import defs
    from kalshi_assets.defs.runner import instance_for_cli, materialize_all
    from kalshi_assets.warehouse import db, summary
    from kalshi_assets.warehouse.service import table_counts

    began = time.monotonic()
    warehouse_path = defs.resources["warehouse"].path
    print(f"kalshi_assets demo: materializing the whole graph into {warehouse_path}")
    materialize_all(defs, instance_for_cli(), start=args.start, end=args.end)
    elapsed = time.monotonic() - began
    with db.connection(warehouse_path, read_only=True) as con:
        counts = table_counts(con)
        first, last = summary.quote_time_range(con)
    width = max(len(name) for name, _, _ in counts)
    print(f"\nDone in {elapsed:.1f} s. The warehouse holds:")
    for name, kind, rows in counts:
        print(f"  {name:<{width}}  {kind:<5}  {rows:>10,} rows")
    print(f"\nQuotes from {first} to {last} (UTC).")
    for line in _demo_report_lines(warehouse_path):
        print(line)
    print(f"\nDuckDB file: {warehouse_path}")
    print(f"  open it:   .venv/bin/python -c \"import duckdb; print(duckdb.connect('{warehouse_path}', "
          "read_only=True).sql('SHOW TABLES'))\"")
    print("UI:         make ui   (dagster dev -w workspace.yaml, then http://127.0.0.1:3000)")
    return 0


def _demo_report_lines(warehouse_path: str) -> list[str]:
    """Stage-specific lines for the demo summary (each stage adds its own to DEMO_REPORTS)."""
    from kalshi_assets.warehouse import db

    lines: list[str] = []
    with db.connection(warehouse_path, read_only=True) as con:
        for report in DEMO_REPORTS:
            lines.extend(report(con))
    return lines


# Callables (con) -> list[str] that add stage-specific lines (orders, fills, P&L, promotions) to the summary.
DEMO_REPORTS: list[Callable] = []


def _trading_report(con) -> list[str]:
    from kalshi_assets.warehouse.trading import demo_report_lines

    return demo_report_lines(con)


DEMO_REPORTS.append(_trading_report)


def _research_report(con) -> list[str]:
    from kalshi_assets.warehouse.research import demo_report_lines

    return demo_report_lines(con)


DEMO_REPORTS.append(_research_report)

_REGISTRARS.append(_add_demo_commands)


def _add_doctor_commands(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="read-only checks of the configured exchange: status, cutoffs, clock, key, tier, series"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(handler=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from kalshi_assets.catalog import load_catalog
    from kalshi_assets.definitions import market_data_from_environment
    from kalshi_assets.kalshi.doctor import diagnose, render

    with market_data_from_environment().process_config_and_initialize_cm() as market_data:  # EnvVars resolved
        client, source = market_data.read_only_client()
        tier = f"{market_data.read_rate_per_s:g} reads/s" if market_data.source == "api" else None
        report = diagnose(client, load_catalog(), source=source, tracked_series=market_data.tracked_series() or (),
                          configured_tier=tier)
    print(json.dumps(dataclasses.asdict(report), indent=2) if args.json else "\n".join(render(report)))
    return report.exit_status


_REGISTRARS.append(_add_doctor_commands)


def _add_read_commands(subparsers: argparse._SubParsersAction) -> None:
    # events | markets | distributions | outcomes | promotions | status (kalshi_assets/service_commands.py)
    from kalshi_assets.service_commands import add_read_commands

    add_read_commands(subparsers)


_REGISTRARS.append(_add_read_commands)


if __name__ == "__main__":
    sys.exit(main())
