"""`kalshi-assets demo-server`: the demo exchange over HTTP on loopback, with Kalshi's API paths."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kalshi_assets.cli import add_command


def run_demo_server(args: argparse.Namespace) -> int:
    from kalshi_assets.demo.exchange import DemoExchange, cutoff_from_environment, parse_cutoff
    from kalshi_assets.demo.server import FaultConfig, ServerRateLimits, serve
    from kalshi_assets.kalshi.ratelimit import resolve_tier

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
    limits = None if args.no_rate_limit else ServerRateLimits(
        tier.reads_per_second, tier.writes_per_second, tier=tier.name
    )
    # serve() itself answers SIGINT and SIGTERM, whatever signal mask this process inherited.
    serve(
        args.host,
        args.port,
        DemoExchange(seed=args.seed, scale=args.scale, historical_cutoff=cutoff),
        faults,
        rate_limits=limits,
        announce=lambda line: print(line, flush=True),
    )
    return 0


def register(subparsers: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """demo-server"""
    parser = add_command(
        subparsers, "demo-server",
        "serve the demo exchange over HTTP on loopback with Kalshi's API paths, signatures and rate limits",
        "kalshi-assets demo-server --port 8765 --no-rate-limit\n"
        "KALSHI_SOURCE=api KALSHI_BASE_URL=http://127.0.0.1:8765/trade-api/v2 kalshi-assets demo",
        run_demo_server, parents,
        description="Serve the demo exchange over HTTP on loopback with Kalshi's API paths. Requests must be\n"
                    "signed with the demo key (kalshi_assets/demo/demo_key.pem); faults can be injected.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=7, help="demo exchange seed")
    parser.add_argument("--scale", type=int, default=1, help="replica series multiplier")
    parser.add_argument(
        "--historical-cutoff", default=None, metavar="UTC_TIME",
        help="markets settled (and trades made) before this ISO time are served only under /historical/* "
        "(default: $KALSHI_DEMO_HISTORICAL_CUTOFF, else 90 days before the demo's end)",
    )
    parser.add_argument("--tier", default="basic", help="rate-limit tier: basic, advanced, premier, prime")
    parser.add_argument("--no-rate-limit", action="store_true", help="answer every request (no 429s)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered with an error")
    parser.add_argument("--error-status", type=int, default=500, help="status of injected errors")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections dropped")
    parser.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of bodies truncated")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="fraction of requests answered 429")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of the fault draws (default: random)")
