"""Handlers of `kalshi-assets audit verify|query` (the parser lives in kalshi_assets/cli.py).

`add_verify_arguments(parser)` declares verify's options, `--strict` and the anchors among them;
the CLI's registrar calls it on the `verify` subparser.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from kalshi_assets.audit.anchor import ANCHOR_ENV, PUBLIC_KEY_ENV, load_public_keys
from kalshi_assets.audit.query import parse_utc, query_log
from kalshi_assets.audit.verify import verify_log


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `audit verify` (the CLI registers them on its `verify` subparser)."""
    parser.add_argument("directory", metavar="DIR", help="audit log directory")
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


def run_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Verify DIR; prints a summary and one line per problem. Exit 0 if intact, 1 if damaged (or,
    with --strict, unanchored), 2 if there is no log or an option is unusable."""
    stream = out or sys.stdout
    strict = getattr(args, "strict", False)
    try:
        keys = getattr(args, "public_key", None)
        public_keys = load_public_keys(keys, audit_directory=Path(args.directory)) if keys else None
        report = verify_log(args.directory, public_keys=public_keys, anchor_file=getattr(args, "anchor_file", None))
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
