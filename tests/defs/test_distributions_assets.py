"""distribution_snapshots and kalshi_forecast_percentiles on the demo warehouse (2026-09-01..2026-10-31)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from kalshi_assets.analytics.snapshot_schema import SNAPSHOT_SCHEMA
from kalshi_assets.defs import distributions as stage
from kalshi_assets.defs import ingest_percentiles
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from kalshi_assets.kalshi import forecasts
from kalshi_assets.warehouse import db
from kalshi_assets.warehouse import distributions as store
from tests.partition_range import partition_range_tags

RANGE = ("2026-09-02", "2026-10-31")  # day 1 of the ingested window is the lookback of day 2
BLOCKING_CHECKS = {
    "distribution_snapshots_full_schema",
    "distribution_probabilities_in_unit_interval",
    "distribution_survival_non_increasing",
    "distribution_masses_sum_to_one",
    "distribution_no_snapshot_after_release",
}


def _resources(path: Path, **settings) -> dict:
    return {
        "warehouse": WarehouseResource(path=str(path)),
        "market_data": MarketDataResource(),
        "settings": SettingsResource(**settings),
    }


def run_stage(path: Path, start: str, end: str, assets=None, **settings) -> dg.ExecuteInProcessResult:
    assets = assets or [ingest_percentiles.kalshi_forecast_percentiles, stage.distribution_snapshots]
    defs = dg.Definitions(
        assets=assets,
        asset_checks=stage.defs.asset_checks,
        resources=_resources(path, **settings),
        jobs=[dg.define_asset_job("distributions", selection=assets)],
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("distributions").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(start, end),
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def materialized(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("distributions") / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, path)
    result = run_stage(path, *RANGE)
    assert result.success
    return path, result


def _read(path: Path, sql: str, params=None) -> pd.DataFrame:
    with db.connection(path, read_only=True) as con:
        return con.execute(sql, params or []).df()


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    # A single-run range reports one materialization per partition, each with that day's rows; the run's
    # metadata (schema, preview, summaries) rides on the newest one, which the UI shows as the latest.
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    assert events
    return {k: getattr(v, "value", v) for k, v in events[-1].materialization.metadata.items()}


def test_single_run_backfill_and_every_check_passes(materialized) -> None:
    _, result = materialized
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert BLOCKING_CHECKS | {"distribution_quality_low_is_rare"} == set(evaluations)
    for name, evaluation in evaluations.items():
        assert evaluation.passed, (name, evaluation.metadata)
    specs = [spec for checks in stage.defs.asset_checks for spec in checks.check_specs]
    assert {spec.name for spec in specs if spec.blocking} == BLOCKING_CHECKS


def test_one_bin_check_runs_alone_and_reports_only_itself(materialized, tmp_path: Path) -> None:
    """The three bin checks share one pass over the bins (issue 16); each can still be run alone."""
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(materialized[0], path)
    key = dg.AssetCheckKey(dg.AssetKey("distribution_snapshots"), "distribution_survival_non_increasing")
    defs = dg.Definitions(
        assets=[stage.distribution_snapshots], asset_checks=stage.defs.asset_checks,
        resources=_resources(path), jobs=[dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))],
    )
    result = defs.resolve_job_def("one_check").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert [(e.asset_check_key, e.passed) for e in result.get_asset_check_evaluations()] == [(key, True)]


def test_one_row_per_event_hour_from_listing_to_release(materialized) -> None:
    path, _ = materialized
    rows = _read(path, "SELECT event_ticker, snapshot_ts, release_time FROM distribution_snapshots")
    events = _read(path, "SELECT event_ticker, open_time, release_time FROM event_release")
    start, end = pd.Timestamp(RANGE[0]), pd.Timestamp(RANGE[1]) + pd.Timedelta(days=1)
    expected = []
    for e in events.itertuples():
        first = e.open_time.ceil("h")
        hours = pd.date_range(max(first, start), min(e.release_time, end), freq="h", inclusive="left")
        expected.extend((e.event_ticker, h) for h in hours if h < e.release_time)
    assert sorted(zip(rows.event_ticker, rows.snapshot_ts, strict=True)) == sorted(expected)
    assert (rows["snapshot_ts"] < rows["release_time"]).all()


def test_quality_and_first_print_metadata(materialized) -> None:
    path, result = materialized
    meta = _metadata(result, "distribution_snapshots")
    assert meta["quality_low_share"] < 0.05  # a small minority on the demo data
    assert meta["events_scored_1d_before_release"] >= 5
    errors = meta["median_error_1d_before_release"]
    assert {"KXCPI", "KXFED", "KXU3"} <= set(errors)
    assert errors["KXCPI"] < 0.2 and errors["KXFED"] < 0.25  # a day out the market knows the value well
    assert meta["median_error_1d_before_release_in_sd"] < 2.0
    table = _read(path, "SELECT count(*) AS n, count(*) FILTER (WHERE quality_low) AS low FROM distribution_snapshots")
    assert meta["table_rows"] == table.loc[0, "n"]


def test_table_matches_the_analytics_schema(materialized) -> None:
    path, _ = materialized
    types = dict(_read(path, "SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'distribution_snapshots'").itertuples(index=False))
    assert tuple(types) == store.SNAPSHOT_TABLE_COLUMNS
    sql_type = {"f": "DOUBLE", "i": "BIGINT", "b": "BOOLEAN", "O": "VARCHAR"}
    for name, kind in SNAPSHOT_SCHEMA:
        assert types[name] == sql_type[kind], name
    bins = _read(path, "SELECT column_name FROM information_schema.columns WHERE table_name = 'distribution_snapshot_bins'")
    assert tuple(bins["column_name"]) == store.BIN_TABLE_COLUMNS


def test_kalshi_percentiles_and_the_median_gap(materialized) -> None:
    path, _ = materialized
    pct = _read(path, "SELECT * FROM kalshi_forecast_percentiles")
    assert set(pct["percentile"]) == set(forecasts.FORECAST_PERCENTILES)
    assert not pct.duplicated(["event_ticker", "ts", "percentile"]).any()
    assert pct["ts"].min() >= pd.Timestamp(RANGE[0])
    snaps = _read(path, "SELECT event_ticker, snapshot_ts, median, kalshi_median, kalshi_median_ts, "
                        "median_minus_kalshi, status FROM distribution_snapshots")
    ok = snaps[snaps["status"] == "ok"]
    assert ok["kalshi_median"].notna().mean() > 0.95
    np.testing.assert_allclose(ok["median_minus_kalshi"], ok["median"] - ok["kalshi_median"])
    assert (snaps["kalshi_median_ts"].dropna() <= snaps.loc[snaps["kalshi_median_ts"].notna(), "snapshot_ts"]).all()
    # Kalshi's value as of the snapshot is its median at the latest point at or before it.
    row = ok.iloc[len(ok) // 2]
    expected = pct[(pct.event_ticker == row.event_ticker) & (pct.percentile == 5000) & (pct.ts <= row.snapshot_ts)]
    assert row.kalshi_median == pytest.approx(expected.sort_values("ts").iloc[-1].raw_value)


def test_asof_rungs_match_a_manual_lookup(materialized) -> None:
    path, _ = materialized
    start, end = datetime(2026, 9, 20), datetime(2026, 9, 21)
    with db.connection(path, read_only=True) as con:
        inputs = store.load_snapshot_inputs(con, start, end)
        quotes = con.execute("SELECT market_ticker, event_ticker, ts, CAST(yes_bid AS DOUBLE) AS yes_bid, "
                             "CAST(yes_ask AS DOUBLE) AS yes_ask, CAST(last_price AS DOUBLE) AS last_price "
                             "FROM kalshi_quotes WHERE ts < ? ORDER BY ts", [end]).df()
        markets = con.execute("SELECT market_ticker, event_ticker, floor_strike, cap_strike, open_time "
                              "FROM kalshi_markets").df()
    rungs = inputs.rungs.join(inputs.snapshots[["event_ticker", "snapshot_ts"]], on="snapshot_id")
    rng = np.random.default_rng(3)
    trades_compared = 0
    for i in rng.choice(len(inputs.snapshots), size=12, replace=False):
        snap = inputs.snapshots.iloc[i]
        ladder = markets[(markets.event_ticker == snap.event_ticker) & (markets.open_time <= snap.snapshot_ts)]
        mine = rungs[rungs.snapshot_id == i]
        assert len(mine) == len(ladder)
        for _, rung in mine.iterrows():
            ticker = ladder[np.isclose(ladder.floor_strike.fillna(1e18), np.nan_to_num(rung.floor_strike, nan=1e18))
                            & np.isclose(ladder.cap_strike.fillna(1e18), np.nan_to_num(rung.cap_strike, nan=1e18))]
            assert len(ticker) == 1
            q = quotes[(quotes.market_ticker == ticker.iloc[0].market_ticker) & (quotes.ts <= snap.snapshot_ts)]
            latest = q.iloc[-1]
            assert rung.quote_age_hours == pytest.approx((snap.snapshot_ts - latest.ts).total_seconds() / 3600)
            assert (np.isnan(rung.yes_bid) and np.isnan(latest.yes_bid)) or rung.yes_bid == latest.yes_bid
            traded = q.dropna(subset=["last_price"])
            if len(traded):
                trades_compared += 1
                assert rung.last_price == traded.iloc[-1].last_price
                assert rung.last_trade_age_hours == pytest.approx(
                    (snap.snapshot_ts - traded.iloc[-1].ts).total_seconds() / 3600)
            else:
                assert np.isnan(rung.last_price)
    assert trades_compared > 0  # the last-trade lookup was exercised, not skipped


def test_quotes_after_a_snapshot_never_change_it(warehouse_copy: Path) -> None:
    start, end = datetime(2026, 9, 10), datetime(2026, 9, 11)
    cut = datetime(2026, 9, 10, 12)
    with db.connection(warehouse_copy) as con:
        before = store.load_snapshot_inputs(con, start, end)
        con.execute("UPDATE kalshi_quotes SET yes_bid = 0.01, yes_ask = 0.02, last_price = 0.015 WHERE ts > ?", [cut])
        after = store.load_snapshot_inputs(con, start, end)
    early = before.snapshots.index[before.snapshots.snapshot_ts <= cut]
    late = before.snapshots.index[before.snapshots.snapshot_ts > cut]
    pd.testing.assert_frame_equal(before.rungs[before.rungs.snapshot_id.isin(early)],
                                  after.rungs[after.rungs.snapshot_id.isin(early)])
    changed = before.rungs[before.rungs.snapshot_id.isin(late)]["yes_ask"].to_numpy()
    assert not np.allclose(np.nan_to_num(changed), np.nan_to_num(after.rungs[after.rungs.snapshot_id.isin(late)]["yes_ask"]))


def test_markets_join_events_by_exact_ticker_only(warehouse_copy: Path) -> None:
    start, end = datetime(2026, 9, 2), datetime(2026, 9, 3)
    with db.connection(warehouse_copy) as con:
        base = store.load_snapshot_inputs(con, start, end)
        now = datetime(2026, 9, 1)
        for ticker, event in (("KXCPI-26AUG-T9.9", "KXCPI-26AUGX"),     # an event that does not exist
                              ("KXCPI-26AUG-T8.8", "KXU3-26AUG")):      # an AUG-looking ticker of another event
            con.execute("INSERT INTO kalshi_markets (market_ticker, event_ticker, strike_type, floor_strike, "
                        "open_time, close_time, ingested_at) SELECT ?, ?, 'greater', ?, ?, close_time, ? "
                        "FROM kalshi_markets WHERE event_ticker = ? LIMIT 1",
                        [ticker, event, float(ticker.rsplit("T", 1)[1]), now, now, event])
        after = store.load_snapshot_inputs(con, start, end)

    def per_event(inputs: store.SnapshotInputs) -> pd.Series:
        return inputs.rungs.groupby("snapshot_id").size().groupby(inputs.snapshots.event_ticker).max()

    before_counts, after_counts = per_event(base), per_event(after)
    assert after_counts["KXCPI-26AUG"] == before_counts["KXCPI-26AUG"]
    assert after_counts["KXU3-26AUG"] == before_counts["KXU3-26AUG"] + 1
    assert "KXCPI-26AUGX" not in set(after.snapshots.event_ticker)


def test_replaying_a_partition_gives_the_same_rows(warehouse_copy: Path) -> None:
    first = run_stage(warehouse_copy, "2026-09-15", "2026-09-15")
    frame_1 = _read(warehouse_copy, "SELECT * EXCLUDE (run_id) FROM distribution_snapshots ORDER BY ALL")
    bins_1 = _read(warehouse_copy, "SELECT * FROM distribution_snapshot_bins ORDER BY ALL")
    second = run_stage(warehouse_copy, "2026-09-15", "2026-09-15")
    assert first.success and second.success
    pd.testing.assert_frame_equal(frame_1, _read(warehouse_copy, "SELECT * EXCLUDE (run_id) FROM distribution_snapshots "
                                                                  "ORDER BY ALL"))
    pd.testing.assert_frame_equal(bins_1, _read(warehouse_copy, "SELECT * FROM distribution_snapshot_bins ORDER BY ALL"))
    assert frame_1["snapshot_ts"].dt.normalize().eq(pd.Timestamp("2026-09-15")).all()


def test_stale_quotes_are_left_out(warehouse_copy: Path) -> None:
    # One CPI rung stops quoting at 03:00: 6 hours later its quote is stale.
    with db.connection(warehouse_copy) as con:
        ticker = con.execute("SELECT market_ticker FROM kalshi_markets WHERE event_ticker = 'KXCPI-26SEP' "
                             "ORDER BY floor_strike LIMIT 1 OFFSET 2").fetchone()[0]
        con.execute("DELETE FROM kalshi_quotes WHERE market_ticker = ? AND ts > ? AND ts < ?",
                    [ticker, datetime(2026, 10, 1, 3), datetime(2026, 10, 2)])
    assert run_stage(warehouse_copy, "2026-10-01", "2026-10-01", assets=[stage.distribution_snapshots]).success
    rows = _read(warehouse_copy, "SELECT snapshot_ts, n_excluded_stale, n_quotes_used FROM distribution_snapshots "
                                 "WHERE event_ticker = 'KXCPI-26SEP' ORDER BY snapshot_ts").set_index("snapshot_ts")
    hour = rows.index.hour
    assert (rows.loc[hour <= 9, "n_excluded_stale"] == 0).all()
    assert (rows.loc[hour >= 10, "n_excluded_stale"] == 1).all()


def test_staleness_beyond_the_lookback_is_refused(warehouse_copy: Path) -> None:
    result = run_stage(warehouse_copy, "2026-10-01", "2026-10-01", assets=[stage.distribution_snapshots],
                       max_staleness_hours=48.0)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "max_staleness_hours" in str(failure.step_failure_data.error)
    assert _read(warehouse_copy, "SELECT count(*) AS n FROM distribution_snapshots").loc[0, "n"] == 0


def _check(name: str, path: Path) -> dg.AssetCheckResult:
    """The named check's result, invoked directly on `path` (the three bin checks share one function)."""
    context, warehouse = dg.build_asset_check_context(), WarehouseResource(path=str(path))
    if name in {spec.name for spec in stage.BIN_CHECK_SPECS}:
        results = {result.check_name: result for result in stage.distribution_bin_checks(context, warehouse=warehouse)}
        return results[name]
    return getattr(stage, name)(context, warehouse=warehouse)


@pytest.mark.parametrize("corruption, check", [
    ("UPDATE distribution_snapshot_bins SET mass = mass * 2 WHERE bin_index = 1", "distribution_masses_sum_to_one"),
    ("UPDATE distribution_snapshot_bins SET survival_upper = 1.0 WHERE bin_index = 2",
     "distribution_survival_non_increasing"),
    ("UPDATE distribution_snapshot_bins SET mass = 1.5 WHERE bin_index = 0", "distribution_probabilities_in_unit_interval"),
    ("UPDATE kalshi_events SET strike_date = TIMESTAMP '2026-09-20' WHERE event_ticker = 'KXCPI-26SEP'",
     "distribution_no_snapshot_after_release"),
    ("UPDATE distribution_snapshots SET mean = 1.0 WHERE status <> 'ok'", "distribution_snapshots_full_schema"),
    ("UPDATE distribution_snapshots SET quality_low = false WHERE status <> 'ok'", "distribution_snapshots_full_schema"),
])
def test_checks_catch_corrupted_rows(materialized, tmp_path: Path, corruption: str, check: str) -> None:
    path = tmp_path / "corrupt.duckdb"
    shutil.copyfile(materialized[0], path)
    assert _check(check, path).passed
    with duckdb.connect(str(path)) as con:
        con.execute(corruption)
    assert not _check(check, path).passed


def test_snapshots_read_the_previous_day_of_quotes() -> None:
    deps = {dep.asset_key.to_user_string(): dep for dep in stage.distribution_snapshots.specs_by_key[
        dg.AssetKey("distribution_snapshots")].deps}
    mapping = deps["kalshi_quotes"].partition_mapping
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset == -1
    assert store.QUOTE_LOOKBACK <= timedelta(days=1)


def test_bin_checks_count_every_window_of_the_table(materialized, tmp_path: Path) -> None:
    """The bin checks read a month at a time (issue 16): their counts are the whole table's."""
    path = tmp_path / "corrupt.duckdb"
    shutil.copyfile(materialized[0], path)
    with db.connection(path) as con:
        first, last = store.snapshot_time_range(con)
        assert last - first > store.CHECK_WINDOW  # more than one window to add up
        con.execute("UPDATE distribution_snapshot_bins SET mass = 1.5 WHERE bin_index = 0")
        corrupted = con.execute("SELECT count(*) FROM distribution_snapshot_bins b JOIN distribution_snapshots s "
                                "USING (event_ticker, snapshot_ts) WHERE b.bin_index = 0").fetchone()[0]
        assert corrupted > 0
        counts = store.bin_checks(con)
    assert counts["probability_outside_unit"] == corrupted
    assert counts["masses_not_summing_to_one"] == corrupted  # one corrupted bin per snapshot
