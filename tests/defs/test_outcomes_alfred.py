"""The outcomes assets with the ALFRED source, against a loopback FRED server and the demo's events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.defs import outcomes
from kalshi_assets.defs.resources import MacroResource, WarehouseResource
from kalshi_assets.warehouse import db
from tests.macro.fake_fred import LATEST, TEST_KEY, FakeFredServer, FakeFredState, Period

d = date.fromisoformat


@pytest.fixture()
def fred() -> Iterator[FakeFredServer]:
    state = FakeFredState(
        api_key=TEST_KEY,
        series={
            # Payrolls change for August 2026 in thousands: printed on the demo's release day, then revised.
            "PAYEMS": [
                Period(d("2026-08-01"), d("2026-09-04"), d("2026-10-01"), "54.0"),
                Period(d("2026-08-01"), d("2026-10-02"), LATEST, "61.0"),
            ],
            # August unemployment: FRED says 3.9 where the demo (and Kalshi's settlement) said 3.8.
            "UNRATE": [Period(d("2026-08-01"), d("2026-09-04"), LATEST, "3.9")],
            "CPIAUCSL": [],
            "A191RL1Q225SBEA": [],
            "DFEDTARU": [],
        },
    )
    with FakeFredServer(state) as server:
        yield server


def test_alfred_source_through_the_resource(
    warehouse_copy: Path, fred: FakeFredServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRED_API_KEY", TEST_KEY)
    macro = MacroResource(source="alfred", fred_api_key=dg.EnvVar("FRED_API_KEY"), fred_base_url=fred.url)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [outcomes.outcomes_first_print, outcomes.outcomes_revisions, *outcomes.defs.asset_checks],
        resources={"warehouse": WarehouseResource(path=str(warehouse_copy)), "macro": macro},
        instance=instance,
        selection=[outcomes.outcomes_first_print, outcomes.outcomes_revisions],
        raise_on_error=False,
    )
    assert result.success
    with db.connection(warehouse_copy) as con:
        revisions = con.execute(
            "SELECT event_ticker, vintage_time, vintage, value, source FROM outcomes_revisions ORDER BY 1, 2"
        ).fetchall()
        first = dict(con.execute("SELECT event_ticker, source FROM outcomes_first_print").fetchall())
        payrolls = con.execute(
            "SELECT value, release_time FROM outcomes_first_print WHERE event_ticker = 'KXPAYROLLS-26AUG'"
        ).fetchone()
        conflicts = con.execute("SELECT event_ticker, source FROM outcomes_first_print_conflicts").fetchall()
    assert revisions == [
        ("KXPAYROLLS-26AUG", datetime(2026, 9, 4, 12, 30), 1, 54000.0, "alfred"),
        ("KXPAYROLLS-26AUG", datetime(2026, 10, 3), 2, 61000.0, "alfred"),
        ("KXU3-26AUG", datetime(2026, 9, 4, 12, 30), 1, 3.9, "alfred"),
    ]
    assert payrolls == (54000.0, datetime(2026, 9, 4, 12, 30))
    # Events FRED does not cover take Kalshi's settlement as their first print.
    assert first["KXU3-26AUG"] == "alfred" and first["KXCPI-26AUG"] == "kalshi"
    # Kalshi's settlement (3.8) disagrees with the stored ALFRED first print (3.9): kept, recorded, warned.
    assert conflicts == [("KXU3-26AUG", "kalshi")]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["first_print_sources_agree"].passed
    assert evaluations["first_print_is_earliest_vintage"].passed
    assert evaluations["no_vintage_before_release"].passed
    # The key went to the server as FRED requires, and nowhere into the run's logs.
    assert all(q["api_key"] == TEST_KEY for q in fred.state.requests)
    logs = " ".join(
        str(entry.user_message) + str(entry.dagster_event) for entry in instance.all_logs(result.run_id)
    )
    assert TEST_KEY not in logs
