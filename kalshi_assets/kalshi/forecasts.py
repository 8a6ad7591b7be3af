"""Fetch Kalshi's forecast percentile history of events and parse it into a frame shaped like the
warehouse's kalshi_forecast_percentiles table.

Everything is parsed and checked before anything is returned (like kalshi/ingest.py): a point of
another event raises naming both, and the caller writes nothing.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from kalshi_assets.kalshi import parse
from kalshi_assets.kalshi.columns import FORECAST_ROW_COLUMNS, forecast_percentile_columns
from kalshi_assets.kalshi.source import MarketDataSource

# Percentiles asked of Kalshi (at most 10 per call): the quantiles the snapshots report.
FORECAST_PERCENTILES: tuple[int, ...] = (500, 1000, 2500, 5000, 7500, 9000, 9500)
FORECAST_COLUMNS: tuple[str, ...] = (
    "event_ticker", "series_ticker", "ts", "percentile", "value", "raw_value", "ingested_at"
)


def fetch_forecast_percentiles(
    source: MarketDataSource, events: pd.DataFrame, start: datetime, end: datetime
) -> pd.DataFrame:
    """Kalshi's hourly forecast percentiles of each event (event_ticker, series_ticker) for ts in
    [start, end), naive UTC; one row per (event, ts, percentile), the last one when a point repeats."""
    start_ts = int(start.replace(tzinfo=UTC).timestamp())
    end_ts = int(end.replace(tzinfo=UTC).timestamp())
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    # Each event's rows as columns (no wire object outlives its event), joined into one frame at the end:
    # a frame per event cost more than parsing its points.
    pieces: dict[str, list] = {column: [] for column in FORECAST_ROW_COLUMNS}
    for event in events.itertuples(index=False):
        # The API's start is exclusive and its end inclusive: asking (start - 1 s, end - 1 s] keeps each
        # point in exactly one daily partition, like the candles.
        points = source.forecast_percentile_history(
            event.series_ticker, event.event_ticker, list(FORECAST_PERCENTILES), start_ts - 1, end_ts - 1, 60
        )
        parsed = forecast_percentile_columns(points, event.event_ticker, event.series_ticker)
        if parsed is None:
            rows = pd.DataFrame(_point_by_point(points, event), columns=FORECAST_ROW_COLUMNS)
            parsed = {column: rows[column].to_numpy() for column in FORECAST_ROW_COLUMNS}
        if len(parsed["ts"]):
            for column, values in parsed.items():
                pieces[column].append(values)
    frame = pd.DataFrame({column: _joined(column, parts) for column, parts in pieces.items()}, columns=FORECAST_ROW_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, cache=False).dt.tz_localize(None)  # cache: see writes.py
    frame["ingested_at"] = ingested_at
    inside = (frame["ts"] >= pd.Timestamp(start)) & (frame["ts"] < pd.Timestamp(end))
    return frame[inside].drop_duplicates(["event_ticker", "ts", "percentile"], keep="last").reset_index(drop=True)


_TEXT_COLUMNS = frozenset({"event_ticker", "series_ticker"})


def _joined(column: str, parts: list) -> list | np.ndarray:
    """The events' values of one column, end to end: text as one list, numbers and times as one array."""
    if not parts:
        return np.array([], dtype=object)  # as a frame of no rows has them
    if column in _TEXT_COLUMNS:
        return list(itertools.chain.from_iterable(parts))
    return np.concatenate(parts)


def _point_by_point(points: list, event: Any) -> list[dict[str, Any]]:
    """The rows of an event's points parsed one at a time, raising naming the first malformed one."""
    rows: list[dict[str, Any]] = []
    for point in points:
        if point.get("event_ticker") != event.event_ticker:
            raise parse.WireFormatError(
                f"forecast history for {event.event_ticker} returned a point of {point.get('event_ticker')!r}"
            )
        rows.extend(parse.parse_forecast_percentiles(point, event.series_ticker))
    return rows
