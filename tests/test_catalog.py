"""The series catalog: one TOML file, overridable by $KALSHI_SERIES_CATALOG, checked when loaded; a series
added there alone flows through the whole graph."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets import settings
from kalshi_assets.catalog import CATALOG_ENV, PACKAGED_CATALOG, CatalogError, load_catalog
from kalshi_assets.defs import distributions, ingest, ingest_percentiles, outcomes
from kalshi_assets.defs.research import backtests, features, folds, promotion, scoring
from kalshi_assets.defs.resources import (
    MacroResource,
    MarketDataResource,
    SettingsResource,
    WarehouseResource,
)
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.macro.sources import fred_spec_for_series
from tests.defs.ingest_runs import ingest_metadata, ingest_partitions, table_rows
from tests.partition_range import partition_range_tags

# A series that exists nowhere in the code: only in the catalog file the test writes.
NEW_SERIES = "KXWIDGETS"
NEW_ENTRY = f"""
[series.{NEW_SERIES}]
title = "Widget output index, month over month"
event_type = "WIDGETS"
purge_class = "CPI"
unit = "%"
decimals = 1
value_grid = 0.1
strike_type = "greater"
release = {{ schedule = "jobs", local_time = "10:00", timezone = "Europe/London" }}

[series.{NEW_SERIES}.demo]
frequency = "monthly"
open_days = 20
prior_sd = 0.5
final_sd = 0.2
strike_step = 0.2
rungs_below = 3
rungs_above = 3
liquidity = 30.0
source = {{ name = "Widget Statistics Office", url = "https://widgets.invalid/" }}
process = {{ kind = "normal", mean = 1.0, sd = 0.6 }}
"""


def write_catalog(path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    text = PACKAGED_CATALOG.read_text()
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    path.write_text(text + extra)
    return path


def test_the_packaged_catalog_holds_what_the_code_used_to() -> None:
    catalog = load_catalog()
    assert catalog.default_series == ("KXCPI", "KXU3", "KXPAYROLLS", "KXGDP", "KXFED", "KXFEDDECISION")
    assert [e.ticker for e in catalog.demo_series()] == list(catalog.default_series)
    assert {t: settings.event_type_for_series(t) for t in ("KXCPI", "CPI", "FED", "KXFEDDECISION", "U3", "KXGDPR4")} == {
        "KXCPI": "CPI", "CPI": "CPI", "FED": "FOMC", "KXFEDDECISION": "FOMC", "U3": "UNEMPLOYMENT", "KXGDPR4": "GDP"}
    assert settings.event_type_for_series("KXHIGHNY") is None
    assert {t: settings.value_grid_for_series(t) for t in ("KXCPI", "PAYROLLS", "KXFEDR2", "KXFEDDECISION")} == {
        "KXCPI": 0.1, "PAYROLLS": 1000.0, "KXFEDR2": 0.25, "KXFEDDECISION": None}
    assert {t: settings.purge_window_days(t) for t in settings.EVENT_TYPES} == {
        "CPI": 3, "FOMC": 1, "UNEMPLOYMENT": 2, "GDP": 3, "PAYROLLS": 2}
    assert settings.purge_window_days("CPI", {"CPI": 5}) == 5
    fed = catalog.require("KXFED").release
    assert fed.at(datetime(2026, 7, 29).date()) == datetime(2026, 7, 29, 18, 0, tzinfo=UTC)  # 14:00 EDT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[series.KXU3]\ntitle", "[series.KXU3]\nheadline"), "series.KXU3]: unknown field(s) headline"),
        (('purge_class = "GDP"', 'purge_class = "QUARTERLY"'), "'QUARTERLY' is not a key of [purge_classes]"),
        (('timezone = "America/New_York" }\nmacro = { source = "fred", series_id = "UNRATE"',
          'timezone = "Mars/Olympus" }\nmacro = { source = "fred", series_id = "UNRATE"'), "unknown time zone"),
        (('aliases = ["U3"]', 'aliases = ["CPI"]'), "'CPI' names both series KXCPI and KXU3"),
        (('purge_class = "FOMC"\nunit = "bps"', 'purge_class = "CPI"\nunit = "bps"'),
         "share event type 'FOMC' but name purge classes"),
        (('"KXFED", "KXFEDDECISION"]', '"KXFED", "KXFEDDECISION", "KXCPIYOY"]'), "'KXCPIYOY' used by the pipeline"),
        (("strike_type = \"between\"", "strike_type = \"sideways\""), "strike_type: must be one of greater, between"),
    ],
    ids=["unknown field", "purge class", "time zone", "alias twice", "one event type two purges",
         "default series missing", "strike type"],
)
def test_a_malformed_catalog_is_an_error_naming_the_series_and_field(tmp_path: Path, change, message: str) -> None:
    path = write_catalog(tmp_path / "catalog.toml", replace=change)
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_a_series_used_but_missing_from_the_catalog_fails_the_code_location_at_load(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "catalog.toml", replace=('"KXFED", "KXFEDDECISION"]', '"KXFED", "KXCPIYOY"]'))
    env = {**os.environ, CATALOG_ENV: str(path), "KALSHI_WAREHOUSE": str(tmp_path / "w.duckdb")}
    done = subprocess.run([sys.executable, "-c", "import kalshi_assets.definitions"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "CatalogError" in done.stderr and "'KXCPIYOY'" in done.stderr and "add a [series.<TICKER>] table" in done.stderr


def test_ingesting_a_series_the_catalog_lacks_is_refused_by_name_before_anything_is_written(tmp_path: Path) -> None:
    """Never a NULL event type: the exchange lists a series (here the catalog-only one, through a demo
    built from a richer catalog) that the pipeline's catalog lacks."""
    richer = load_catalog(write_catalog(tmp_path / "richer.toml", extra=NEW_ENTRY))

    class RicherDemo(MarketDataResource):
        def get_source(self):
            from kalshi_assets.demo.source import DemoMarketData

            return DemoMarketData(DemoExchange(catalog=richer))

    result = dg.materialize([ingest.kalshi_series], raise_on_error=False, resources={
        "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")), "market_data": RicherDemo()})
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert f"'{NEW_SERIES}'" in (error.cause.message if error.cause else error.message)
    assert not (tmp_path / "w.duckdb").exists(), "refused before the warehouse was touched"


WINDOW = ("2026-07-01", "2026-10-31")
SNAPSHOTS = ("2026-07-02", "2026-10-31")


@pytest.mark.slow
def test_a_series_added_only_in_the_catalog_flows_to_the_research_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CATALOG_ENV, str(write_catalog(tmp_path / "catalog.toml", extra=NEW_ENTRY)))
    assert settings.event_type_for_series(NEW_SERIES) == "WIDGETS" and fred_spec_for_series(NEW_SERIES) is None
    path = tmp_path / "warehouse.duckdb"
    market_data = MarketDataResource(series=["KXCPI", "KXU3", NEW_SERIES])
    assert ingest_metadata(path, market_data).success
    assert ingest_partitions(path, *WINDOW, market_data, assets=(ingest.kalshi_quotes,)).success
    resources = {"warehouse": WarehouseResource(path=str(path)), "market_data": market_data,
                 "settings": SettingsResource(), "macro": MacroResource()}
    snapshot_assets = [ingest_percentiles.kalshi_forecast_percentiles, distributions.distribution_snapshots]
    defs = dg.Definitions(assets=snapshot_assets, resources=resources, executor=dg.in_process_executor,
                          jobs=[dg.define_asset_job("snapshots", selection=snapshot_assets)])
    assert defs.resolve_job_def("snapshots").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(SNAPSHOTS[0], SNAPSHOTS[1]),
    ).success
    assert dg.materialize([outcomes.outcomes_first_print, outcomes.outcomes_revisions, outcomes.outcomes_latest,
                           outcomes.event_labels], resources=resources).success
    research_assets = [features.event_features, folds.walkforward_folds, backtests.walkforward_results,
                       folds.cpcv_splits, backtests.cpcv_paths, promotion.promotion_decisions, scoring.implied_forecast_scores]
    assert dg.materialize(research_assets, resources=resources, run_config={"ops": {"walkforward_folds": {
        "config": {"n_test_events": 2, "min_train_events": 4}}}}).success

    def count(sql: str) -> int:
        return table_rows(path, sql)[0][0]

    assert table_rows(path, f"SELECT event_type FROM kalshi_series WHERE series_ticker = '{NEW_SERIES}'") == [
        ("WIDGETS",)]
    events = count(f"SELECT count(*) FROM kalshi_events WHERE series_ticker = '{NEW_SERIES}' AND event_type = 'WIDGETS'")
    assert events >= 4
    assert count(f"SELECT count(*) FROM kalshi_quotes WHERE market_ticker LIKE '{NEW_SERIES}-%'") > 1000
    assert count(f"SELECT count(*) FROM distribution_snapshots WHERE series_ticker = '{NEW_SERIES}' "
                 "AND status = 'ok'") > 20
    assert count(f"SELECT count(*) FROM outcomes_first_print WHERE event_ticker LIKE '{NEW_SERIES}-%'") >= 3
    assert count("SELECT count(*) FROM event_features WHERE event_type = 'WIDGETS'") > 0
    assert count("SELECT count(*) FROM event_features WHERE event_type IS NULL OR event_type = 'None'") == 0
    assert count("SELECT count(*) FROM implied_forecast_scores WHERE event_type = 'WIDGETS'") > 0
    # The release-time rule of the catalog entry: 10:00 London (09:00 UTC in summer).
    releases = table_rows(path, f"SELECT DISTINCT hour(strike_date) FROM kalshi_events WHERE series_ticker = "
                                f"'{NEW_SERIES}' AND month(strike_date) BETWEEN 5 AND 9")
    assert releases == [(9,)]
