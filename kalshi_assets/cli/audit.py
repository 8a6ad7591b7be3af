"""Handlers of `kalshi-assets audit verify|query` (the parser lives in kalshi_assets/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from kalshi_assets.audit.query import parse_utc, query_log
from kalshi_assets.audit.verify import verify_log


def run_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Verify DIR; prints a summary and one line per problem. Exit 0 if intact, 1 if damaged, 2 if no log."""
    stream = out or sys.stdout
    try:
        report = verify_log(args.directory)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2), file=stream)
    else:
        status = "OK" if report.ok else f"DAMAGED ({len(report.problems)} problems)"
        span = "empty" if report.first_seq is None else f"seq {report.first_seq}..{report.last_seq}"
        print(
            f"{status}: {report.total_entries} entries, {span}, {report.segments} segments, "
            f"checkpoint at seq {report.checkpoint_seq}, {report.elapsed_seconds:.2f}s",
            file=stream,
        )
        if not report.ok:
            print(f"first bad seq: {report.first_bad_seq}", file=stream)
        for problem in report.problems:
            print(f"PROBLEM {problem.describe()}", file=stream)
        for note in report.notes:
            print(f"note: {note}", file=stream)
    return 0 if report.ok else 1


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
