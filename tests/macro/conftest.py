"""Fixtures for the macro sources: a loopback FRED server with a small vintage history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tests.macro.fake_fred import LATEST, TEST_KEY, FakeFredServer, FakeFredState, Period


def payrolls_history() -> list[Period]:
    """A PAYEMS-like change series: each month printed, then revised at the next two reports."""
    d = date.fromisoformat
    return [
        Period(d("2026-07-01"), d("2026-08-07"), d("2026-09-03"), "73.0"),
        Period(d("2026-07-01"), d("2026-09-04"), d("2026-10-01"), "79.0"),
        Period(d("2026-07-01"), d("2026-10-02"), LATEST, "81.0"),
        Period(d("2026-08-01"), d("2026-09-04"), d("2026-10-01"), "22.0"),
        Period(d("2026-08-01"), d("2026-10-02"), LATEST, "."),  # withdrawn: FRED's missing value
        Period(d("2026-09-01"), d("2026-10-02"), LATEST, "119.0"),
    ]


@pytest.fixture
def fred_state() -> FakeFredState:
    return FakeFredState(api_key=TEST_KEY, series={"PAYEMS": payrolls_history()})


@pytest.fixture
def fred_server(fred_state: FakeFredState) -> Iterator[FakeFredServer]:
    with FakeFredServer(fred_state) as server:
        yield server
