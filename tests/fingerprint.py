"""Fingerprints of the demo exchange's output and of ingested tables, to show that a change left them as
they were (the constants in tests/demo/test_demo_fingerprint.py were taken from the code before the
historical tier, the catalog and the module split)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb


def _digest(items: Any) -> str:
    hasher = hashlib.sha256()
    for item in items:
        hasher.update(json.dumps(item, sort_keys=True, separators=(",", ":")).encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def exchange_fingerprints(exchange: Any, events: list[str] | None = None) -> dict[str, str]:
    """sha256 of every wire object the simulation produces, tier-agnostic: series, events, markets,
    all hourly candles of each market, and the published vintages."""
    tickers = events if events is not None else exchange.event_tickers()
    markets = [market for ticker in tickers for market in exchange.markets(event_ticker=ticker)]
    return {
        "series": _digest(exchange.series_list()),
        "events": _digest(exchange.event(ticker) for ticker in tickers),
        "markets": _digest(markets),
        "candles": _digest(exchange.candlesticks(m["ticker"], 0, 2**40) for m in markets),
        "vintages": _digest(exchange.vintages()),
    }


def trade_fingerprint(exchange: Any, market_tickers: list[str]) -> str:
    return _digest(exchange.trades(ticker) for ticker in market_tickers)


# Every column but the fetch stamp.
TABLES = {
    "kalshi_series": "SELECT * EXCLUDE (ingested_at) FROM kalshi_series ORDER BY ALL",
    "kalshi_events": "SELECT * EXCLUDE (ingested_at) FROM kalshi_events ORDER BY ALL",
    "kalshi_markets": "SELECT * EXCLUDE (ingested_at) FROM kalshi_markets ORDER BY ALL",
    "kalshi_quotes": "SELECT * FROM kalshi_quotes ORDER BY ALL",
}


def table_fingerprints(path: Path) -> dict[str, str]:
    """sha256 of each ingest table's rows in a fixed order (values as their repr)."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for table, sql in TABLES.items():
            hasher = hashlib.sha256()
            for row in con.execute(sql).fetchall():
                hasher.update(repr(row).encode())
            out[table] = hasher.hexdigest()
    return out
