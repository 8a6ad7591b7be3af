"""The demo exchange's vintages as an outcome source, and extra vintages appended on top."""

from __future__ import annotations

from datetime import datetime

import pytest

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.macro.demo_source import DemoVintageSource
from kalshi_assets.macro.sources import SourceError


@pytest.fixture(scope="module")
def exchange() -> DemoExchange:
    return DemoExchange(seed=7, scale=1)


def test_demo_vintages_are_records_known_by_now(exchange: DemoExchange) -> None:
    source = DemoVintageSource(exchange)
    records = source.vintages()
    assert len(records) == len(exchange.vintages()) > 0
    assert source.now() == datetime(2026, 11, 1)
    assert all(r.vintage_time <= source.now() and r.source == "demo" for r in records)
    firsts = {r.event_ticker for r in records if r.vintage == 1}
    assert firsts == {r.event_ticker for r in records}  # every event has its first print
    revised_series = {r.series_ticker for r in records if r.vintage > 1}
    assert revised_series <= {"KXGDP", "KXPAYROLLS"}


def test_extra_vintage_is_completed_from_the_events_history(exchange: DemoExchange) -> None:
    cpi = next(r for r in DemoVintageSource(exchange).vintages() if r.series_ticker == "KXCPI")
    extra = {
        "event_ticker": cpi.event_ticker,
        "vintage_time": "2026-10-31T00:00:00Z",
        "value": cpi.value + 0.1,
    }
    records = DemoVintageSource(exchange, extra_vintages=[extra]).vintages()
    added = [r for r in records if r.event_ticker == cpi.event_ticker and r.vintage > 1]
    assert len(added) == 1
    assert (added[0].vintage, added[0].series_ticker, added[0].reference_period) == (
        2,
        "KXCPI",
        cpi.reference_period,
    )
    assert added[0].vintage_time == datetime(2026, 10, 31)


def test_bad_extra_vintages_are_refused(exchange: DemoExchange) -> None:
    cpi = next(r for r in DemoVintageSource(exchange).vintages() if r.series_ticker == "KXCPI")
    future = {"event_ticker": cpi.event_ticker, "vintage_time": "2026-11-02T00:00:00Z", "value": 1.0}
    with pytest.raises(SourceError, match="after the demo's now"):
        DemoVintageSource(exchange, extra_vintages=[future]).vintages()
    unknown = {"event_ticker": "KXNOPE-26SEP", "vintage_time": "2026-10-01T00:00:00Z", "value": 1.0}
    with pytest.raises(SourceError, match="unknown demo event"):
        DemoVintageSource(exchange, extra_vintages=[unknown]).vintages()
