"""The research assets on the demo warehouse (2026-09-01..2026-10-31): features, folds, CPCV splits and
paths, results, decisions, scores and Kalshi's percentiles."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from kalshi_assets.analytics.purge import intervals_overlap
from kalshi_assets.analytics.walkforward import taker_fee
from kalshi_assets.defs import distributions, ingest_percentiles, outcomes, research
from kalshi_assets.defs.research.features import event_features, features_observed_before_as_of
from kalshi_assets.defs.research.folds import cpcv_splits, splits_purged_and_embargoed
from kalshi_assets.defs.resources import (
    MacroResource,
    MarketDataResource,
    SettingsResource,
    WarehouseResource,
)
from kalshi_assets.warehouse import db
from tests.partition_range import partition_range_tags

SNAPSHOT_RANGE = ("2026-09-02", "2026-10-31")
RESEARCH_ASSETS = list(research.defs.assets)
# The two-month window holds about a dozen settled events: small folds.
SMALL_FOLDS = {"n_test_events": 2, "min_train_events": 4}
SMALL_SPLITS = {"n_groups": 4, "n_test_groups": 2, "embargo_days": 2.0}


def resources(path: Path, **settings) -> dict:
    return {
        "warehouse": WarehouseResource(path=str(path)),
        "market_data": MarketDataResource(),
        "settings": SettingsResource(**settings),
        "macro": MacroResource(),
    }


def build_inputs(path: Path) -> None:
    """Snapshots for the window (one single-run backfill), then first prints, revisions and labels."""
    assets = [ingest_percentiles.kalshi_forecast_percentiles, distributions.distribution_snapshots]
    defs = dg.Definitions(
        assets=assets,
        resources=resources(path),
        jobs=[dg.define_asset_job("distributions", selection=assets)],
        executor=dg.in_process_executor,
    )
    run = defs.resolve_job_def("distributions").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(SNAPSHOT_RANGE[0], SNAPSHOT_RANGE[1]),
    )
    assert run.success
    result = dg.materialize(
        [outcomes.outcomes_first_print, outcomes.outcomes_revisions, outcomes.outcomes_latest, outcomes.event_labels],
        resources=resources(path),
    )
    assert result.success


def run_research(
    path: Path, folds: dict | None = None, splits: dict | None = None, **settings
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*RESEARCH_ASSETS, *research.defs.asset_checks],
        resources=resources(path, **settings),
        run_config={"ops": {"walkforward_folds": {"config": folds or SMALL_FOLDS},
                            "cpcv_splits": {"config": splits or SMALL_SPLITS}}},
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def research_inputs(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("research_inputs") / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, path)
    build_inputs(path)
    return path


@pytest.fixture(scope="module")
def materialized(research_inputs: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("research") / "warehouse.duckdb"
    shutil.copyfile(research_inputs, path)
    result = run_research(path)
    assert result.success
    return path, result


def read(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with db.connection(path, read_only=True) as con:
        return con.execute(sql, params or []).df()


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    assert events, asset
    return {k: getattr(v, "value", v) for k, v in events[-1].materialization.metadata.items()}


def test_everything_materializes_and_every_check_passes(materialized):
    path, result = materialized
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "features_observed_before_as_of", "folds_purged", "splits_purged_and_embargoed", "trades_within_capacity",
        "cpcv_trades_out_of_sample", "every_candidate_judged",
    }
    assert all(e.passed for e in evaluations.values()), {k: e.metadata for k, e in evaluations.items()}
    for table in ("event_features", "walkforward_folds", "walkforward_results", "walkforward_candidates",
                  "cpcv_splits", "cpcv_trades", "cpcv_paths", "promotion_decisions", "promotion_gates",
                  "promotion_regimes", "promotion_pbo", "implied_forecast_scores", "implied_rung_forecasts",
                  "kalshi_percentile_gaps", "kalshi_band_coverage"):
        assert read(path, f"SELECT count(*) AS n FROM {table}")["n"][0] > 0, table
    decided = metadata(result, "promotion_decisions")
    assert decided["candidates"] == 6  # 2 horizons x 3 thresholds
    assert 0 <= decided["promoted"] <= 6
    assert "reasons" in decided["decisions"]


def test_cpi_features_are_at_least_three_days_before_release(materialized):
    path, _ = materialized
    cpi = read(path, "SELECT * FROM event_features WHERE event_type = 'CPI'")
    assert len(cpi) and (cpi["purge_days"] == 3).all()
    lead = cpi["release_time"] - cpi["as_of"]
    assert (lead >= pd.Timedelta(days=3)).all()
    assert set(lead[cpi["horizon_days"] <= 3]) == {pd.Timedelta(days=3)}
    used = cpi.dropna(subset=["snapshot_ts"])
    assert len(used) and (used["snapshot_ts"] <= used["as_of"]).all()
    assert (used["observed_until"] <= used["as_of"]).all()
    fomc = read(path, "SELECT * FROM event_features WHERE event_type = 'FOMC' AND horizon_days = 1")
    assert len(fomc) and ((fomc["release_time"] - fomc["as_of"]) == pd.Timedelta(days=1)).all()


def test_cpi_window_of_five_days_moves_features_and_folds(research_inputs, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(research_inputs, path)
    windows = {"CPI": 5, "FOMC": 1, "UNEMPLOYMENT": 2, "GDP": 3}
    result = run_research(path, purge_window_days=windows)
    assert result.success
    cpi = read(path, "SELECT * FROM event_features WHERE event_type = 'CPI'")
    lead = cpi["release_time"] - cpi["as_of"]
    assert len(cpi) and (lead >= pd.Timedelta(days=5)).all() and (cpi["purge_days"] == 5).all()
    folds = read(path, "SELECT * FROM walkforward_folds WHERE event_type = 'CPI'")
    assert len(folds) and (folds["purge_days"] == 5).all()
    splits = read(path, "SELECT * FROM cpcv_splits WHERE event_type = 'CPI'")
    assert len(splits) and ((splits["t1_widened"] - splits["t1"]) == pd.Timedelta(days=5)).all()
    assert ((folds["t1_widened"] - folds["t1"]) == pd.Timedelta(days=5)).all()
    # The same stored features fail the check under a wider window than they were built with.
    check = dg.materialize(
        [event_features, features_observed_before_as_of],
        resources=resources(path, purge_window_days={**windows, "CPI": 7}),
        selection=dg.AssetSelection.checks(features_observed_before_as_of),
        raise_on_error=False,
    )
    evaluation = next(iter(check.get_asset_check_evaluations()))
    # Rows at horizons 1 and 3 sit 5 days before release, inside 7; the 7-day horizon rows do not.
    inside = int((cpi["horizon_days"] < 7).sum())
    assert not evaluation.passed and evaluation.metadata["inside_current_purge_window"].value == inside


def test_fold_table_records_every_event_role_and_reason(materialized):
    path, result = materialized
    folds = read(path, "SELECT * FROM walkforward_folds ORDER BY fold, release_time")
    assert folds["fold"].nunique() >= 2
    events = folds["event_ticker"].nunique()
    assert (folds.groupby("fold")["event_ticker"].nunique() == events).all()
    assert set(folds["role"]) <= {"train", "test", "purged", "excluded"}
    assert {"train", "test"} <= set(folds["role"])
    assert folds["reason"].str.len().gt(0).all()
    pairs = 0
    for _, fold in folds.groupby("fold"):
        test = fold[fold["role"] == "test"]
        for train in fold[fold["role"] == "train"].itertuples():
            for t in test.itertuples():
                pairs += 1
                assert not intervals_overlap(train.t0, train.t1_widened, t.t0, t.t1)
    assert pairs > 0
    assert metadata(result, "walkforward_folds")["folds"] == folds["fold"].nunique()


def test_traces_are_out_of_sample_capped_by_traded_volume_and_priced_with_kalshi_fees(materialized):
    path, result = materialized
    traces = read(path, "SELECT * FROM walkforward_results")
    candidates = read(path, "SELECT * FROM walkforward_candidates")
    assert len(candidates) == 6
    assert (candidates["contracts"] <= candidates["window_volume"]).all()
    assert len(traces) > 0  # the demo's favorite-longshot bias leaves edges to take
    assert (traces["size"] <= traces["window_volume"].astype(float)).all()
    assert (traces["size"] <= traces["capacity_contracts"]).all()
    for row in traces.head(50).itertuples():
        assert Decimal(str(row.fee)) == taker_fee(int(row.size), Decimal(str(row.price)))
        assert Decimal(str(row.pnl)) == Decimal(str(row.payout)) - Decimal(str(row.cost))
    tested = read(path, "SELECT fold, event_ticker FROM walkforward_folds WHERE role = 'test'")
    merged = traces.merge(tested, on=["fold", "event_ticker"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    labels = read(path, "SELECT event_ticker, realized_value FROM event_labels WHERE label_mode = 'first_print'")
    settled = traces.merge(labels, on="event_ticker")
    assert len(settled) == len(traces) and (settled["first_print"] == settled["realized_value"]).all()
    assert metadata(result, "walkforward_results")["candidates"] == 6


def test_decisions_list_gates_regimes_and_reasons(materialized):
    path, _ = materialized
    decisions = read(path, "SELECT * FROM promotion_decisions")
    gates = read(path, "SELECT * FROM promotion_gates")
    regimes = read(path, "SELECT * FROM promotion_regimes")
    types = set(read(path, "SELECT DISTINCT event_type FROM walkforward_folds")["event_type"])
    assert len(decisions) == 6 and (decisions["n_trials"] == 6).all()
    assert types
    for row in decisions.itertuples():
        mine = gates[gates["candidate"] == row.candidate]
        assert {"min_trades", "sharpe", "psr", "dsr", "pbo", "max_drawdown"} <= set(mine["gate"])
        assert {f"stress:{t}" for t in types} <= set(mine["gate"])
        assert row.promoted == mine["passed"].all()
        assert row.reasons
        if not row.promoted:
            assert all(reason in row.reasons for reason in mine.loc[~mine["passed"], "reason"])
        assert set(regimes.loc[regimes["candidate"] == row.candidate, "event_type"]) == types


def test_forecast_scores_by_event_type(materialized):
    path, result = materialized
    scores = read(path, "SELECT * FROM implied_forecast_scores")
    assert len(scores) and scores["pit"].between(0, 1).all() and (scores["crps"] >= 0).all()
    assert scores["brier"].dropna().between(0, 1).all()
    rungs = read(path, "SELECT * FROM implied_rung_forecasts")
    assert set(rungs["outcome"]) <= {0, 1}
    summary = metadata(result, "implied_forecast_scores")["by_event_type_and_horizon"]
    assert scores["event_type"].nunique() >= 2
    for event_type in scores["event_type"].unique():
        assert event_type in summary


def test_a_leaking_feature_row_fails_the_blocking_check(research_inputs, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(research_inputs, path)
    assert dg.materialize([event_features], resources=resources(path)).success
    with db.connection(path) as con:
        con.execute(
            "UPDATE event_features SET snapshot_ts = as_of + INTERVAL 1 HOUR "
            "WHERE event_ticker = (SELECT min(event_ticker) FROM event_features WHERE snapshot_ts IS NOT NULL)"
        )
    check = dg.materialize(
        [event_features, features_observed_before_as_of],
        resources=resources(path),
        selection=dg.AssetSelection.checks(features_observed_before_as_of),
        raise_on_error=False,
    )
    evaluation = next(iter(check.get_asset_check_evaluations()))
    assert not evaluation.passed
    assert evaluation.metadata["observed_after_as_of"].value >= 1


def test_rolling_folds_materialize(research_inputs, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(research_inputs, path)
    result = run_research(path, folds={**SMALL_FOLDS, "mode": "rolling", "window_events": 3})
    assert result.success
    folds = read(path, "SELECT * FROM walkforward_folds")
    assert len(folds) and (folds["mode"] == "rolling").all()
    train_per_fold = folds.groupby("fold")["role"].apply(lambda r: (r == "train").sum())
    assert train_per_fold.gt(0).any() and (train_per_fold <= 3).all()
    assert (folds["role"] == "excluded").any()


def test_cpcv_embargo_removes_training_events(materialized, tmp_path):
    """On the demo's events, a 20-day embargo changes the CPCV training sets that a zero embargo gives
    (a walk-forward has no embargo: it never trains on what follows its test block)."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(materialized[0], path)

    def training_sets(embargo_days: float) -> dict[int, set[str]]:
        config = {"ops": {"cpcv_splits": {"config": {**SMALL_SPLITS, "embargo_days": embargo_days}}}}
        run = dg.materialize([cpcv_splits, splits_purged_and_embargoed],
                             resources=resources(path), run_config=config)
        assert run.success
        splits = read(path, "SELECT split, event_ticker, role FROM cpcv_splits")
        return {int(s): set(g.loc[g["role"] == "train", "event_ticker"]) for s, g in splits.groupby("split")}

    without, with_embargo = training_sets(0.0), training_sets(20.0)
    assert without.keys() == with_embargo.keys() and len(without) == 6
    shrunk = [s for s in without if with_embargo[s] < without[s]]
    assert shrunk, "the embargo removed no training event"
    embargoed = read(path, "SELECT * FROM cpcv_splits WHERE role = 'embargoed'")
    assert len(embargoed) == sum(len(without[s] - with_embargo[s]) for s in without)
    assert (embargoed["embargo_hours"] == 480).all() and embargoed["reason"].str.contains("embargo").all()


def test_promotion_table_gives_pbo_trials_and_cpcv_paths(materialized):
    path, result = materialized
    decisions = read(path, "SELECT * FROM promotion_decisions ORDER BY candidate")
    assert decisions["pbo"].notna().all() and decisions["pbo"].nunique() == 1
    pbo = read(path, "SELECT * FROM promotion_pbo")
    assert len(pbo) == decisions["pbo_combinations"].iloc[0] > 0
    assert decisions["pbo"].iloc[0] == pytest.approx(float((pbo["logit"] <= 0).mean()))
    assert (decisions["n_trials"] == 6).all()
    assert (decisions["n_trials_effective"] <= decisions["n_trials_distinct"]).all()
    assert (decisions["n_trials_distinct"] <= decisions["n_trials"]).all()
    assert decisions["trial_cluster"].nunique() == decisions["n_trials_effective"].iloc[0]
    paths = read(path, "SELECT * FROM cpcv_paths")
    assert set(paths["candidate"]) == set(decisions["candidate"])
    assert (decisions["cpcv_paths"] == 3).all()  # k C(N, k) / N = 2 * 6 / 4
    gates = read(path, "SELECT * FROM promotion_gates WHERE gate = 'dsr'")
    assert gates["reason"].str.contains(f"{decisions['n_trials_effective'].iloc[0]} effective of 6").all()
    shown = metadata(result, "promotion_decisions")
    assert "pbo" in shown and "logit" in shown["pbo_logit_histogram"] and "cpcv_sharpe_median" in shown["decisions"]


def test_kalshi_percentiles_compared_with_ours(materialized):
    path, result = materialized
    gaps = read(path, "SELECT * FROM kalshi_percentile_gaps")
    ingested = set(read(path, "SELECT DISTINCT percentile FROM kalshi_forecast_percentiles")["percentile"])
    assert ingested and set(gaps["percentile"]) == ingested
    assert (gaps["snapshots"] > 0).all() and gaps["median_abs_gap_sd"].notna().all()
    coverage = read(path, "SELECT * FROM kalshi_band_coverage")
    assert len(coverage) > 0
    inside = (coverage["ours_q10"] <= coverage["first_print"]) & (coverage["first_print"] <= coverage["ours_q90"])
    assert (inside == coverage["inside_ours"]).all()
    shown = metadata(result, "kalshi_percentile_comparison")
    assert 0 <= shown["coverage_ours"] <= 1 and 0 <= shown["coverage_kalshi"] <= 1


def test_demo_summary_lines_count_candidates_and_reasons(materialized):
    from kalshi_assets.warehouse.research import demo_report_lines

    path, _ = materialized
    with db.connection(path, read_only=True) as con:
        lines = demo_report_lines(con)
    promoted = int(read(path, "SELECT count(*) AS n FROM promotion_decisions WHERE promoted")["n"][0])
    assert any(f"candidates tried: 6, promoted: {promoted}" in line for line in lines)
    failing = int(read(path, "SELECT count(*) AS n FROM promotion_gates WHERE NOT passed")["n"][0])
    assert any("not promoted because" in line for line in lines) == (failing > 0)
