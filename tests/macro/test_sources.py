"""Outcome sources: vintage rows, ticker reference periods, and ALFRED vintages mapped to events."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kalshi_assets.macro.alfred import AlfredClient
from kalshi_assets.macro.sources import (
    AlfredVintageSource,
    EventRef,
    SourceError,
    fred_series_from_catalog,
    fred_spec_for_series,
    naive_utc,
    reference_period_from_ticker,
    vintage_from_mapping,
    vintage_time_from_realtime_start,
)
from tests.macro.fake_fred import TEST_KEY, FakeFredServer, FakeFredState, Period

d = date.fromisoformat


def test_reference_periods_from_tickers() -> None:
    assert reference_period_from_ticker("KXCPI-26SEP") == d("2026-09-01")
    assert reference_period_from_ticker("KXGDP-26Q3") == d("2026-07-01")
    assert reference_period_from_ticker("KXPAYROLLSR2-25DEC") == d("2025-12-01")
    for bad in ("KXCPI", "KXCPI-26XYZ", "KXGDP-26Q5"):
        with pytest.raises(SourceError):
            reference_period_from_ticker(bad)


def test_vintage_rows_parse_and_reject_bad_input() -> None:
    row = {
        "event_ticker": "KXGDP-26Q2",
        "series_ticker": "KXGDP",
        "reference_period": "2026-04-01",
        "vintage_time": "2026-07-30T12:30:00Z",
        "vintage": "v10",
        "value": 2.4,
    }
    record = vintage_from_mapping(row, "demo")
    assert (record.vintage, record.vintage_time, record.reference_period) == (
        10,
        datetime(2026, 7, 30, 12, 30),
        d("2026-04-01"),
    )
    for broken in (
        {**row, "value": None},
        {**row, "vintage": 0},
        {**row, "vintage_time": "soon"},
        {**row, "value": float("nan")},
        {**row, "reference_period": "Q2"},
    ):
        with pytest.raises(SourceError):
            vintage_from_mapping(broken, "demo")
    assert naive_utc("2026-11-01T01:00:00+01:00") == datetime(2026, 11, 1)


def test_fred_series_by_ticker_old_name_and_replica() -> None:
    catalog_series = fred_series_from_catalog()
    assert fred_spec_for_series("KXCPI", catalog_series).series_id == "CPIAUCSL"
    assert fred_spec_for_series("PAYROLLS").series_id == "PAYEMS"
    assert fred_spec_for_series("KXGDPR3").series_id == "A191RL1Q225SBEA"
    assert fred_spec_for_series("KXFEDDECISION") is None
    payrolls = fred_spec_for_series("KXPAYROLLS")
    assert (payrolls.units, payrolls.scale, payrolls.decimals) == ("chg", 1000.0, 0)
    assert fred_spec_for_series("KXFED").meeting_effective_next_day is True


def test_alfred_vintage_times_never_run_ahead_of_the_day() -> None:
    release = datetime(2026, 8, 7, 12, 30)
    assert vintage_time_from_realtime_start(d("2026-08-07"), release) == release
    assert vintage_time_from_realtime_start(d("2026-09-04"), release) == datetime(2026, 9, 5)
    assert vintage_time_from_realtime_start(d("2026-09-04"), None) == datetime(2026, 9, 5)


def test_alfred_source_maps_series_vintages_to_events(
    fred_server: FakeFredServer, fred_state: FakeFredState
) -> None:
    fred_state.series["DFEDTARU"] = [Period(d("2026-10-29"), d("2026-10-29"), d("9999-12-31"), "4.00")]
    source = AlfredVintageSource(AlfredClient(TEST_KEY, base_url=fred_server.url), window_days=30)
    events = [
        EventRef("KXPAYROLLS-26JUL", "KXPAYROLLS", datetime(2026, 8, 7, 12, 30)),
        EventRef("KXPAYROLLS-26AUG", "KXPAYROLLS", datetime(2026, 9, 4, 12, 30)),
        EventRef("KXFED-26OCT", "KXFED", datetime(2026, 10, 28, 18, 0)),
        EventRef("KXWEATHER-26SEP", "KXWEATHER", None),
        EventRef("KXFEDDECISION-26OCT", "KXFEDDECISION", datetime(2026, 10, 28, 18, 0)),
    ]
    records = source.vintages(events)
    july = [(r.vintage, r.vintage_time, r.value) for r in records if r.event_ticker == "KXPAYROLLS-26JUL"]
    assert july == [
        (1, datetime(2026, 8, 7, 12, 30), 73000.0),  # thousands -> jobs, first print at the release
        (2, datetime(2026, 9, 5), 79000.0),
        (3, datetime(2026, 10, 3), 81000.0),
    ]
    august = [(r.vintage, r.value) for r in records if r.event_ticker == "KXPAYROLLS-26AUG"]
    assert august == [(1, 22000.0)] and source.skipped_missing == 1  # the "." vintage is not a print
    fed = [(r.reference_period, r.value) for r in records if r.event_ticker == "KXFED-26OCT"]
    assert fed == [(d("2026-10-28"), 4.0)]  # the meeting's rate, read the day after it took effect
    assert source.unmapped_events == ["KXWEATHER-26SEP", "KXFEDDECISION-26OCT"]
    assert {r.source for r in records} == {"alfred"}
    assert all(q["units"] == "chg" for q in fred_state.requests if q["series_id"] == "PAYEMS")
