"""`kalshi-assets doctor`: read-only checks of the configured exchange (the checks: kalshi/doctor.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence

from kalshi_assets.cli import add_command


def run_doctor(args: argparse.Namespace) -> int:
    from kalshi_assets.catalog import load_catalog
    from kalshi_assets.definitions import market_data_from_environment
    from kalshi_assets.kalshi.doctor import diagnose, render

    # Resolving the resource's config turns its EnvVars into values, as Dagster does at run time.
    with market_data_from_environment().process_config_and_initialize_cm() as market_data:
        client, source = market_data.read_only_client()
        tier = f"{market_data.read_rate_per_s:g} reads/s" if market_data.source == "api" else None
        report = diagnose(client, load_catalog(), source=source, tracked_series=market_data.tracked_series() or (),
                          configured_tier=tier)
    print(json.dumps(dataclasses.asdict(report), indent=2) if args.json else "\n".join(render(report)))
    return report.exit_status


def register(subparsers: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """doctor"""
    parser = add_command(
        subparsers, "doctor",
        "read-only checks of the configured exchange: status, cutoffs, clock skew, key, rate tier, series; exit 1 "
        "on any problem",
        "kalshi-assets doctor --json\nKALSHI_SOURCE=api kalshi-assets doctor",
        run_doctor, parents,
        description="Read-only checks of the exchange the environment configures (KALSHI_SOURCE, KALSHI_BASE_URL,\n"
                    "KALSHI_API_KEY_ID, ...): exchange status, the three historical cutoffs, clock skew from the\n"
                    "server's Date header, whether the key authenticates and the rate tier, which catalog series\n"
                    "the exchange knows. Never prints a secret; exit 1 on any problem.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
