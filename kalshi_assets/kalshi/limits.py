"""Kalshi's caps on one request, in one place: the client, the API source and the demo server read them.

From Kalshi's OpenAPI document (tests/fixtures/kalshi/openapi-v3.13.0.yaml) unless said otherwise.
"""

from __future__ import annotations

# GET /markets/candlesticks: at most 100 tickers per request and 10,000 candles per answer across them.
BATCH_CANDLE_TICKERS = 100
BATCH_CANDLES = 10_000
# One market's candle routes, live (/series/{s}/markets/{t}/candlesticks) and historical
# (/historical/markets/{t}/candlesticks): the OpenAPI document states no cap; third parties report a
# 400 beyond 5,000 candles per request, so requests are cut there (208 days of hourly candles).
MARKET_CANDLES = 5_000
CANDLE_INTERVALS_MINUTES = (1, 60, 1440)

# Largest page sizes (`limit`).
EVENTS_PAGE_LIMIT = 200
MARKETS_PAGE_LIMIT = 1000  # /markets and /historical/markets
TRADES_PAGE_LIMIT = 1000  # /markets/trades and /historical/trades
ORDERS_PAGE_LIMIT = 1000

MAX_FORECAST_PERCENTILES = 10
MAX_ORDERBOOK_DEPTH = 100


def candles_in_window(start_ts: int, end_ts: int, period_interval: int) -> int:
    """How many candles of `period_interval` minutes can end in [start_ts, end_ts] (an upper bound)."""
    return max(0, (end_ts - start_ts) // (period_interval * 60) + 1)


def time_windows(start_ts: int, end_ts: int, period_interval: int, max_candles: int) -> list[tuple[int, int]]:
    """[start_ts, end_ts] cut into consecutive inclusive windows of at most `max_candles` candles each."""
    span = (max_candles - 1) * period_interval * 60
    windows, cursor = [], start_ts
    while True:
        windows.append((cursor, min(end_ts, cursor + span)))
        if cursor + span >= end_ts:
            return windows
        cursor += span + 1
