"""The demo's output and the in-process ingest tables are the same as before the historical tier, the
series catalog and the module split: every digest below was taken by running the code of commit 5583b48
(tests/fingerprint.py says how each is computed). New tables (kalshi_trades) are not part of them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kalshi_assets.demo.exchange import DemoExchange
from tests.fingerprint import exchange_fingerprints, table_fingerprints

WHOLE_HISTORY = {
    "series": "c9809d20cc56c833d37bad623f522af790b055f5a6f7d5163eaf3a31bed1c595",
    "events": "aa59f6cb1b1ddfcbb6d03a6fa567795154adf012339801bba56e7c5a7d180430",
    "markets": "2190191565d2fab30d1d3cb9842db983c48a7a3fce43e468866bd8a379fa7981",
    "vintages": "df5f2abc27a497e081d9d0dda933810af7688efd11782c0e9877fc2915eb39bb",
}
# Events of September and October 2026 plus two under the old tickers (FED-24DEC, CPI-24NOV).
SUBSET = {
    "candles": "bea544f8a523f22d9bc016aff0f62ce0050ca4dedb83e7fe9fce407b08658e5d",
    # Trade ids are a vectorized hash since issue 16 (the SHA-1 uuid5 per print before): every other field
    # of every trade is the code of commit 5583b48's, which "trades_without_ids" was taken from (713fe85).
    "trades": "15652eb77d1ea1045f69a51cbd82265911dec4a0720f396b7f7f8319545e8ccd",
    "trades_without_ids": "89f75d8ae5560a8d1e1f1de2031091348bd866f1fa961a08f16a22cb62dbfc72",
    "orderbooks": "cc34c9022fbb2f35b9b85bfc6ff8570bb307c92895776a477de62582ab1a62d0",
    "forecasts": "83d92585836d650a189f2b0ce1b74c653d29103289a75804b22a39bf872a98c6",
}
# The four ingest tables of the session's `ingested_warehouse` (2026-09-01..2026-10-31, in process).
INGESTED_WINDOW = {
    "kalshi_series": "53df18915dfb185bb12b1759e7d0752317eaaad2bb321e5b491c7b146fbcb4f0",
    "kalshi_events": "6ccaf5ca152c101a06aafaa96eb0b89d01f376ee4cf783e48140ba5c554d679e",
    "kalshi_markets": "4127f6999f3fbea4c675a3cc1cffcaa83a1ed973067d770032c82881dd95bba6",
    "kalshi_quotes": "f16e3a1da634add637f9a9e0bbe2f48b63e3c63c492093a73cb81286ec02b409",
}
# The same tables over the whole history (2024-10-01..2026-10-31); checked by tests/defs/test_ingest_api.py.
INGESTED_WHOLE_HISTORY = {
    **{name: INGESTED_WINDOW[name] for name in ("kalshi_series", "kalshi_events", "kalshi_markets")},
    "kalshi_quotes": "d0ec1ecb60598adb02bc2f24326efbfad17d4ea25ab6e4caa272706716e10858",
}


def _digest(items) -> str:
    hasher = hashlib.sha256()
    for item in items:
        hasher.update(json.dumps(item, sort_keys=True, separators=(",", ":")).encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def test_the_simulated_history_is_unchanged() -> None:
    exchange = DemoExchange(seed=7)
    found = exchange_fingerprints(exchange)
    assert {name: found[name] for name in WHOLE_HISTORY} == WHOLE_HISTORY

    events = [e for e in exchange.event_tickers() if e.endswith(("26SEP", "26OCT", "26Q3"))
              or e in ("FED-24DEC", "CPI-24NOV")]
    markets = [m for e in events for m in exchange.markets(event_ticker=e)]
    assert (len(events), len(markets)) == (13, 88)
    assert {
        "candles": _digest(exchange.candlesticks(m["ticker"], 0, 2**40) for m in markets),
        "trades": _digest(exchange.trades(m["ticker"]) for m in markets[::10]),
        "trades_without_ids": _digest([{k: v for k, v in t.items() if k != "trade_id"}
                                       for t in exchange.trades(m["ticker"])] for m in markets[::10]),
        "orderbooks": _digest(exchange.orderbook(m["ticker"]) for m in markets),
        "forecasts": _digest(exchange.forecast_percentile_history(e, [500, 5000, 9500], 0, 2**40, 1440)
                             for e in events),
    } == SUBSET


def test_in_process_ingest_tables_are_unchanged(ingested_warehouse: Path) -> None:
    assert table_fingerprints(ingested_warehouse) == INGESTED_WINDOW
