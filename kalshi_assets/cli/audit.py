"""`kalshi-assets audit verify|query`: the handlers, and their parser (`register`, at the end).

`add_verify_arguments(parser)` declares verify's options, `--strict` and the anchors among them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kalshi_assets.audit.anchor import ANCHOR_ENV, PUBLIC_KEY_ENV, load_public_keys
from kalshi_assets.audit.query import query_log
from kalshi_assets.audit.verify import verify_log
from kalshi_assets.times import parse_utc


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `audit verify` (the CLI registers them on its `verify` subparser)."""
    parser.add_argument("directory", metavar="DIR", help="audit log directory (e.g. data/audit)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 also when no anchor outside the directory vouches for the log"
    )
    parser.add_argument(
        "--public-key", action="append", metavar="PEM", help=f"Ed25519 public key to check signatures with "
        f"(repeatable, for a key rotation; default ${PUBLIC_KEY_ENV})",
    )
    parser.add_argument(
        "--anchor-file", metavar="PATH", help=f"published checkpoints to compare with (default ${ANCHOR_ENV})"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="processes that check segments (default: one per segment, up to "
        "twice the CPUs, for a log of several MiB; 1: this process only); the report is the same",
    )


def run_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Verify DIR; prints a summary and one line per problem. Exit 0 if intact, 1 if damaged (or,
    with --strict, unanchored), 2 if there is no log or an option is unusable."""
    stream = out or sys.stdout
    strict = getattr(args, "strict", False)
    try:
        keys = getattr(args, "public_key", None)
        public_keys = load_public_keys(keys, audit_directory=Path(args.directory)) if keys else None
        report = verify_log(
            args.directory, public_keys=public_keys, anchor_file=getattr(args, "anchor_file", None),
            workers=getattr(args, "workers", None),
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = not report.ok or (strict and not report.anchored)
    if args.json:
        print(json.dumps({**report.to_dict(), "strict": strict}, indent=2), file=stream)
        return 1 if failed else 0
    status = "OK" if report.ok else f"DAMAGED ({len(report.problems)} problems)"
    span = "empty" if report.first_seq is None else f"seq {report.first_seq}..{report.last_seq}"
    # Never a plain "OK": the first line always says what vouches for it, or that nothing does.
    print(
        f"{status}: {report.total_entries} entries, {span}, {report.segments} segments, "
        f"checkpoint at seq {report.checkpoint_seq}, {report.elapsed_seconds:.2f}s; anchor: {report.anchor}",
        file=stream,
    )
    if strict and not report.anchored:
        print("STRICT: no anchor outside the log directory (give --public-key and/or --anchor-file)", file=stream)
    if not report.ok:
        print(f"first bad seq: {report.first_bad_seq}", file=stream)
    for problem in report.problems:
        print(f"PROBLEM {problem.describe()}", file=stream)
    for note in report.notes:
        print(f"note: {note}", file=stream)
    return 1 if failed else 0


def run_query(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print matching records as JSON lines (the record's fields, as written)."""
    stream = out or sys.stdout
    try:
        since = None if args.since is None else parse_utc(args.since)
        until = None if args.until is None else parse_utc(args.until)
        records = query_log(
            args.directory, event_type=args.type, user_id=args.user, start=since, end=until, limit=args.limit
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """audit verify | audit query"""
    from kalshi_assets.cli import HelpFormatter, Parser, add_command

    audit = subparsers.add_parser(
        "audit", help="verify or query a tamper-evident audit log", formatter_class=HelpFormatter,
        description="Verify or query a tamper-evident audit log (kalshi_assets/audit).",
        epilog="example:\n  kalshi-assets audit verify data/audit", parents=list(parents),
    )
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND", parser_class=Parser)
    verify = add_command(
        audit_commands, "verify", "check the chain; exit 0 intact, 1 damaged (each problem named) or, with --strict, unanchored; 2 no log",
        "kalshi-assets audit verify data/audit --strict --public-key ~/.kalshi/audit.pub.pem", run_verify, parents,
    )
    add_verify_arguments(verify)
    query = add_command(
        audit_commands, "query", "print matching records, one JSON object per line (exit 2 on a bad argument)",
        "kalshi-assets audit query data/audit --type ORDER --since 2026-11-01 --limit 20", run_query, parents,
    )
    query.add_argument("directory", metavar="DIR", help="audit log directory (e.g. data/audit)")
    query.add_argument("--type", help="event type, e.g. ORDER (default: every type)")
    query.add_argument("--user", help="user id (default: every user)")
    query.add_argument("--since", help="UTC start, inclusive: an ISO 8601 date or time (default: the first record)")
    query.add_argument("--until", help="UTC end, exclusive: an ISO 8601 date or time (default: the last record)")
    query.add_argument("--limit", type=int, help="at most this many records (default: all)")
