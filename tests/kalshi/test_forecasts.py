"""kalshi/forecasts.py: the forecast percentile history of events, as the warehouse table's rows."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from kalshi_assets.kalshi import forecasts
from kalshi_assets.kalshi.parse import WireFormatError
from kalshi_assets.warehouse import distributions as store


def test_forecast_columns_are_the_tables_columns() -> None:
    assert forecasts.FORECAST_COLUMNS == store.PERCENTILE_COLUMNS


class _FakeSource:
    """A market-data source whose forecast history is given (only that method is used)."""

    def __init__(self, points: list[dict]) -> None:
        self.points = points
        self.calls: list[tuple] = []

    def forecast_percentile_history(self, series_ticker, event_ticker, percentiles, start_ts, end_ts, period_interval):
        self.calls.append((series_ticker, event_ticker, tuple(percentiles), start_ts, end_ts, period_interval))
        return self.points


def _point(event: str, ts: datetime, value: float) -> dict:
    return {"event_ticker": event, "end_period_ts": int(pd.Timestamp(ts, tz="UTC").timestamp()), "period_interval": 60,
            "percentile_points": [{"percentile": 5000, "raw_numerical_forecast": value, "numerical_forecast": value}]}


def test_percentile_fetch_keeps_the_window_and_rejects_foreign_points() -> None:
    start, end = datetime(2026, 10, 1), datetime(2026, 10, 2)
    events = pd.DataFrame({"event_ticker": ["KXCPI-26SEP"], "series_ticker": ["KXCPI"]})
    source = _FakeSource([_point("KXCPI-26SEP", start, 0.3), _point("KXCPI-26SEP", end, 0.4)])
    frame = forecasts.fetch_forecast_percentiles(source, events, start, end)
    assert list(frame["ts"]) == [pd.Timestamp(start)] and frame.loc[0, "raw_value"] == 0.3
    series, event, percentiles, start_ts, end_ts, interval = source.calls[0]
    assert (series, event, interval) == ("KXCPI", "KXCPI-26SEP", 60) and len(percentiles) <= 10
    assert end_ts - start_ts == 24 * 3600  # (start - 1 s, end - 1 s]
    with pytest.raises(WireFormatError, match="KXCPI-26OCT"):
        forecasts.fetch_forecast_percentiles(_FakeSource([_point("KXCPI-26OCT", start, 0.3)]), events, start, end)


class _PerEventSource(_FakeSource):
    """A forecast history per event."""

    def __init__(self, by_event: dict[str, list[dict]]) -> None:
        super().__init__([])
        self.by_event = by_event

    def forecast_percentile_history(self, series_ticker, event_ticker, percentiles, start_ts, end_ts, period_interval):
        return self.by_event[event_ticker]


def test_events_parsed_by_columns_and_point_by_point_join_in_their_order() -> None:
    """A percentile sent as 5000.0 is refused by the column parser (it wants JSON integers) and read by the
    point parser: the chunk's frame holds both events' rows, in the events' order, typed alike."""
    start, end = datetime(2026, 10, 1), datetime(2026, 10, 2)
    as_float = _point("KXFED-26OCT", start, 4.1)
    as_float["percentile_points"][0]["percentile"] = 5000.0
    by_event = {"KXCPI-26SEP": [_point("KXCPI-26SEP", start, 0.3)], "KXFED-26OCT": [as_float],
                "KXGDP-26Q3": [], "KXU3-26SEP": [_point("KXU3-26SEP", start + pd.Timedelta(hours=1), 4.4)]}
    events = pd.DataFrame({"event_ticker": list(by_event), "series_ticker": ["KXCPI", "KXFED", "KXGDP", "KXU3"]})
    frame = forecasts.fetch_forecast_percentiles(_PerEventSource(by_event), events, start, end)
    assert list(frame["event_ticker"]) == ["KXCPI-26SEP", "KXFED-26OCT", "KXU3-26SEP"]
    assert list(frame["series_ticker"]) == ["KXCPI", "KXFED", "KXU3"]
    assert list(frame["ts"]) == [pd.Timestamp(start)] * 2 + [pd.Timestamp(start) + pd.Timedelta(hours=1)]
    assert list(frame["percentile"]) == [5000] * 3 and list(frame["raw_value"]) == [0.3, 4.1, 4.4]
    assert str(frame["ts"].dtype) == "datetime64[ns]"
