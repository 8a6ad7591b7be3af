"""Research: purged event features, walk-forward folds and out-of-sample trades, promotion decisions, and
the implied distributions scored as forecasts (docs/METHODS.md sections 3-6).

Each asset reads its inputs from the warehouse, calls analytics (features, purge, walkforward, promotion,
scoring) and rebuilds its tables whole. Purge windows come from the `settings` resource, so a run can
override them in the launchpad; the blocking checks re-prove the contracts from the stored rows.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from kalshi_assets import settings as project_settings
from kalshi_assets.analytics import features as feature_calc
from kalshi_assets.analytics import promotion, scoring, walkforward
from kalshi_assets.analytics.purge import ROLES, PurgedWalkForward, role_table_violations
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, table_metadata
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.warehouse import research as store

GROUP = "research"
DISTRIBUTION_SNAPSHOTS = dg.AssetKey("distribution_snapshots")
EVENT_LABELS = dg.AssetKey("event_labels")
KALSHI_EVENTS = dg.AssetKey("kalshi_events")
KALSHI_MARKETS = dg.AssetKey("kalshi_markets")
KALSHI_QUOTES = dg.AssetKey("kalshi_quotes")
KALSHI_SERIES = dg.AssetKey("kalshi_series")
# Kalshi pays on the first print: trades always settle on it, whatever label mode cuts the folds.
SETTLEMENT_LABEL_MODE = "first_print"
_GATES = project_settings.GateLimits()
_RISK = project_settings.RiskLimits()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _purge_windows(settings: SettingsResource, event_types: object) -> dict[str, int]:
    """The settings resource's window for every event type present (it owns the defaults)."""
    return {str(t): settings.purge_days(str(t)) for t in sorted(set(event_types))}  # type: ignore[call-overload]


def _md(frame: pd.DataFrame, max_rows: int = 30) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame, max_rows=max_rows))


# ===================================================================================== event_features

VALUE_COLUMNS: tuple[str, ...] = (*store.SNAPSHOT_VALUES.values(), *store.SNAPSHOT_QUALITY)
CHANGE_COLUMNS: tuple[str, ...] = tuple(store.SNAPSHOT_VALUES.values())


class EventFeaturesConfig(dg.Config):
    horizons_days: list[int] = Field(
        default=list(feature_calc.DEFAULT_HORIZONS_DAYS),
        description="Days before the release; features are taken at min(release - h, release - purge window).",
    )
    change_window_days: float = Field(
        default=feature_calc.DEFAULT_CHANGE_WINDOW_DAYS,
        description="Changes of the implied values, and ladder volume, over this window before as_of.",
    )
    max_snapshot_age_hours: float = Field(
        default=48.0, description="A snapshot older than this at as_of is not used (the row stays, empty)."
    )


@dg.asset(
    group_name=GROUP,
    deps=[DISTRIBUTION_SNAPSHOTS, KALSHI_EVENTS, KALSHI_MARKETS, KALSHI_QUOTES],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def event_features(
    context: dg.AssetExecutionContext,
    config: EventFeaturesConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Per event and horizon, the implied distribution as of min(release - horizon, release - purge window):
    moments and quantiles, their changes over the prior window, quality, spread, ladder volume, event type."""
    with warehouse.connect() as con:
        events = store.read_events(con)
        windows = _purge_windows(settings, events["event_type"])
        grid = feature_calc.feature_grid(events, config.horizons_days, windows)
        lookback_hours = config.change_window_days * 24 + config.max_snapshot_age_hours
        snapshots = store.read_snapshots_near(con, grid, lookback_hours)
        table = feature_calc.asof_features(
            grid,
            snapshots,
            VALUE_COLUMNS,
            CHANGE_COLUMNS,
            change_window_days=config.change_window_days,
            max_age_hours=config.max_snapshot_age_hours,
        )
        activity = store.read_ladder_activity(con, grid, config.change_window_days * 24)
        table = table.merge(events[["event_ticker", "series_ticker"]], on="event_ticker", how="left").merge(
            activity, on=["event_ticker", "horizon_days"], how="left"
        )
        table["observed_until"] = table[["snapshot_ts", "prior_snapshot_ts", "last_quote_ts"]].max(axis=1)
        table["change_window_days"] = config.change_window_days
        table["computed_at"] = _now()
        table = table.drop(columns=["last_quote_ts"])
        leaks = feature_calc.feature_leaks(table)
        if not leaks.empty:
            raise dg.Failure(
                f"{len(leaks)} feature rows observed after their as_of or inside their purge window; nothing written",
                metadata={"leaks": _md(leaks[["event_ticker", "horizon_days", "as_of", "snapshot_ts"]])},
            )
        written = store.replace_tables(con, {store.FEATURES_TABLE: table})[store.FEATURES_TABLE]
        with_snapshot = table["snapshot_ts"].notna()
        lead_days = (table["release_time"] - table["as_of"]).dt.total_seconds() / 86400
        per_type = (
            table.assign(with_snapshot=with_snapshot, lead_days=lead_days)
            .groupby("event_type")
            .agg(
                events=("event_ticker", "nunique"),
                rows=("event_ticker", "size"),
                rows_with_snapshot=("with_snapshot", "sum"),
                purge_days=("purge_days", "max"),
                min_days_before_release=("lead_days", "min"),
            )
            .reset_index()
        )
        context.log.info(
            f"event_features: {written} rows, {int(with_snapshot.sum())} with a snapshot, windows {windows}"
        )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.FEATURES_TABLE,
                written,
                order_by="as_of",
                rows_with_snapshot=dg.MetadataValue.int(int(with_snapshot.sum())),
                horizons_days=dg.MetadataValue.json(list(config.horizons_days)),
                purge_windows_days=dg.MetadataValue.json(windows),
                by_event_type=_md(per_type.round(3)),
            )
        )


@dg.asset_check(asset=event_features, blocking=True, description="No feature uses anything observed after as_of.")
def features_observed_before_as_of(warehouse: WarehouseResource, settings: SettingsResource) -> dg.AssetCheckResult:
    """Proves the as-of rule against the snapshot times: the snapshots named exist, every input time
    (snapshot, prior snapshot, quotes) is at or before as_of, and as_of is at least the event type's
    current purge window and the horizon before the release."""
    with warehouse.connect(read_only=True) as con:
        table = store.read_features(con)
        unknown = store.features_without_snapshot(con)
    leaks = feature_calc.feature_leaks(table)
    windows = _purge_windows(settings, table["event_type"]) if len(table) else {}
    required = table["event_type"].map(windows) if len(table) else pd.Series(dtype=float)
    too_close = table[(table["release_time"] - table["as_of"]) < pd.to_timedelta(required, unit="D")]
    problems = len(leaks) + len(unknown) + len(too_close)
    return dg.AssetCheckResult(
        passed=problems == 0,
        metadata={
            "rows_checked": dg.MetadataValue.int(len(table)),
            "observed_after_as_of": dg.MetadataValue.int(len(leaks)),
            "snapshot_not_in_distribution_snapshots": dg.MetadataValue.int(len(unknown)),
            "inside_current_purge_window": dg.MetadataValue.int(len(too_close)),
            "examples": _md(
                pd.concat([leaks, too_close, unknown])[["event_ticker", "horizon_days", "as_of"]].head(5)
            ),
        },
    )


# ===================================================================================== walkforward_folds


class WalkforwardFoldsConfig(dg.Config):
    n_test_events: int = Field(default=12, description="Events per test block.")
    min_train_events: int = Field(default=24, description="Events released before the first test block.")
    mode: Literal["expanding", "rolling"] = "expanding"
    window_events: int | None = Field(default=None, description="Rolling mode: the latest N earlier events.")
    embargo_days: float = Field(default=2.0, description="Training events starting this soon after a test block.")
    label_mode: Literal["first_print", "latest"] = Field(
        default="first_print", description="Which label's known-at time ends an event's label interval."
    )


@dg.asset(group_name=GROUP, deps=[event_features, EVENT_LABELS], pool=WRITER_POOL, kinds={"duckdb"})
def walkforward_folds(
    context: dg.AssetExecutionContext,
    config: WalkforwardFoldsConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Walk-forward folds in release order, purged with the event types' windows and embargoed, grouped by
    event: every event's role in every fold (train, test, purged, embargoed, excluded) and why."""
    with warehouse.connect() as con:
        features = store.read_features(con)
        labels = store.read_labels(con, config.label_mode)
    usable = features[features["implied_mean"].notna()]
    samples = usable.merge(
        labels[["event_ticker", "label_known_at"]].rename(columns={"label_known_at": "label_time"}),
        on="event_ticker",
        how="inner",
    )
    windows = _purge_windows(settings, samples["event_type"]) if len(samples) else {}
    splitter = PurgedWalkForward(
        n_test_events=config.n_test_events,
        min_train_events=config.min_train_events,
        mode=config.mode,
        window=config.window_events,
        embargo=timedelta(days=config.embargo_days),
        purge_windows=windows,
    )
    roles = splitter.roles(samples) if len(samples) else pd.DataFrame(columns=["fold", "event_ticker", "role"])
    roles["mode"] = config.mode
    roles["embargo_hours"] = config.embargo_days * 24
    roles["label_mode"] = config.label_mode
    roles["computed_at"] = _now()
    n_events = samples["event_ticker"].nunique()
    folds = int(roles["fold"].nunique()) if len(roles) else 0
    if folds == 0:
        context.log.warning(
            f"walkforward_folds: {n_events} events with features and labels; no fold needs more than "
            f"min_train_events={config.min_train_events}"
        )
    counts = (
        roles.pivot_table(index="fold", columns="role", values="event_ticker", aggfunc="count", fill_value=0)
        .reindex(columns=list(ROLES), fill_value=0)
        .reset_index()
        if len(roles)
        else pd.DataFrame(columns=["fold", *ROLES])
    )
    purged_by_type = (
        roles[roles["role"] == "purged"].groupby("event_type").size().to_dict() if len(roles) else {}
    )
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.FOLDS_TABLE: roles})[store.FOLDS_TABLE]
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.FOLDS_TABLE,
                written,
                order_by="fold",
                folds=dg.MetadataValue.int(folds),
                events=dg.MetadataValue.int(int(n_events)),
                events_without_label=dg.MetadataValue.int(
                    int(usable["event_ticker"].nunique() - n_events) if len(usable) else 0
                ),
                purge_windows_days=dg.MetadataValue.json(windows),
                purged_by_event_type=dg.MetadataValue.json({str(k): int(v) for k, v in purged_by_type.items()}),
                roles_per_fold=_md(counts, max_rows=60),
            )
        )


@dg.asset_check(asset=walkforward_folds, blocking=True, description="No training event overlaps its test block.")
def folds_purged_and_embargoed(warehouse: WarehouseResource, settings: SettingsResource) -> dg.AssetCheckResult:
    """Re-checks every fold from the stored rows: no train event's widened label interval overlaps a test
    event's, none starts inside the embargo, and each event's purge window is the current setting."""
    with warehouse.connect(read_only=True) as con:
        roles = store.read_folds(con)
    embargo = timedelta(hours=float(roles["embargo_hours"].max())) if len(roles) else timedelta(0)
    problems = role_table_violations(roles, embargo)
    if len(roles):
        expected = roles["event_type"].map(_purge_windows(settings, roles["event_type"]))
        stale = roles[roles["purge_days"] != expected]
        problems += [f"{row.event_ticker}: purge {row.purge_days} days, settings say otherwise"
                     for row in stale.head(5).itertuples(index=False)]
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "rows_checked": dg.MetadataValue.int(len(roles)),
            "violations": dg.MetadataValue.int(len(problems)),
            "examples": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:10]) or "none"),
        },
    )


# ===================================================================================== walkforward_results


class WalkforwardResultsConfig(dg.Config):
    horizons_days: list[int] = Field(default=[1, 3], description="Candidate horizons (must be feature horizons).")
    edge_thresholds: list[float] = Field(
        default=[0.02, 0.05, 0.10], description="Dollars per contract after the taker fee."
    )
    capacity_share: float = Field(default=0.10, description="Share of traded volume and open interest taken.")
    capacity_window_hours: float = Field(default=24.0, description="Traded volume counted over this window.")
    max_contracts: int = _RISK.max_position_per_market
    max_order_notional: float = _RISK.max_order_notional
    bankroll: float = Field(default=10_000.0, description="Returns for the gates are P&L over this bankroll.")


@dg.asset(
    group_name=GROUP,
    deps=[walkforward_folds, event_features, EVENT_LABELS, KALSHI_QUOTES, KALSHI_MARKETS, KALSHI_SERIES],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def walkforward_results(
    context: dg.AssetExecutionContext,
    config: WalkforwardResultsConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Each candidate fitted on a fold's train events and traded on its test events against the ladder's
    quotes as of the features' as_of, settled on the first print: one row per trade, plus capacity."""
    candidates = walkforward.candidate_family(
        config.horizons_days,
        config.edge_thresholds,
        capacity_share=config.capacity_share,
        max_contracts=config.max_contracts,
        max_order_notional=config.max_order_notional,
        bankroll=config.bankroll,
    )
    with warehouse.connect() as con:
        roles = store.read_folds(con)
        features = store.read_features(con)
        missing = sorted(set(config.horizons_days) - set(features["horizon_days"].unique()))
        if missing and len(features):
            raise dg.Failure(f"candidate horizons {missing} are not among event_features' horizons")
        labels = store.read_labels(con, SETTLEMENT_LABEL_MODE).rename(columns={"realized_value": "first_print"})
        tested = roles.loc[roles["role"] == "test", "event_ticker"].unique()
        grid = features[features["event_ticker"].isin(tested) & features["horizon_days"].isin(config.horizons_days)]
        ladders = store.read_ladders_at(con, grid, config.capacity_window_hours, settings.max_staleness_hours)
        fees = store.read_fee_multipliers(con)
    run = walkforward.run_walkforward(roles, features, labels, ladders, candidates, fees)
    capacity = walkforward.capacity_summary(run.traces, run.skipped)
    pnl = run.traces.groupby("candidate")["pnl"].sum() if len(run.traces) else pd.Series(dtype=object)
    computed_at = _now()
    candidate_rows = pd.DataFrame(
        [
            {
                "candidate": c.name,
                "horizon_days": c.horizon_days,
                "edge_threshold": c.edge_threshold,
                "capacity_share": c.capacity_share,
                "capacity_window_hours": config.capacity_window_hours,
                "max_contracts": c.max_contracts,
                "max_order_notional": Decimal(str(c.max_order_notional)),
                "bankroll": Decimal(str(c.bankroll)),
                "total_pnl": Decimal(str(pnl.get(c.name, Decimal("0")))),
                "computed_at": computed_at,
            }
            for c in candidates
        ]
    ).merge(capacity, on="candidate", how="left")
    for column in ("trades", "contracts", "capped_by_capacity", "blocked_no_capacity"):
        candidate_rows[column] = candidate_rows[column].fillna(0).astype(int)
    for column in ("window_volume", "share_of_volume"):
        candidate_rows[column] = candidate_rows[column].fillna(0.0)
    traces = run.traces.assign(computed_at=computed_at)
    skipped = (
        run.skipped.groupby(["candidate", "kind"]).size().rename("count").reset_index()
        if len(run.skipped) else pd.DataFrame(columns=["candidate", "kind", "count"])
    )
    context.log.info(f"walkforward_results: {len(traces)} trades over {len(candidates)} candidates")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.RESULTS_TABLE: traces, store.CANDIDATES_TABLE: candidate_rows})
        summary = candidate_rows[
            ["candidate", "trades", "contracts", "window_volume", "share_of_volume", "capped_by_capacity",
             "blocked_no_capacity", "total_pnl"]
        ]
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.RESULTS_TABLE,
                written[store.RESULTS_TABLE],
                order_by="release_time",
                candidates=dg.MetadataValue.int(len(candidates)),
                trades=dg.MetadataValue.int(len(traces)),
                contracts=dg.MetadataValue.int(int(candidate_rows["contracts"].sum())),
                capacity_by_candidate=_md(summary.round(4)),
                skipped=_md(skipped),
            )
        )


@dg.asset_check(
    asset=walkforward_results, blocking=True,
    description="Sizes never exceed traded volume; fees are Kalshi's; trades only on test events.",
)
def trades_within_capacity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        traces = store.read_traces(con)
        off_test = store.trades_off_test_events(con)
        fees = store.read_fee_multipliers(con)
    over_volume = traces[traces["size"].astype(float) > traces["window_volume"].astype(float)]
    over_capacity = traces[traces["size"] > traces["capacity_contracts"]]
    wrong_fee = [
        row.market_ticker
        for row in traces.itertuples(index=False)
        # DuckDB hands DECIMAL back as float: compare in Decimal through the shortest repr.
        if walkforward.taker_fee(int(row.size), row.price, fees.get(row.event_ticker, 1.0)) != Decimal(str(row.fee))
    ]
    passed = over_volume.empty and over_capacity.empty and not wrong_fee and off_test.empty
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "trades_checked": dg.MetadataValue.int(len(traces)),
            "size_over_traded_volume": dg.MetadataValue.int(len(over_volume)),
            "size_over_capacity": dg.MetadataValue.int(len(over_capacity)),
            "fee_mismatch": dg.MetadataValue.int(len(wrong_fee)),
            "trades_off_test_events": dg.MetadataValue.int(len(off_test)),
        },
    )


# ===================================================================================== promotion_decisions


class PromotionConfig(dg.Config):
    min_trades: int = _GATES.min_trades
    min_sharpe: float = _GATES.min_sharpe
    min_psr: float = _GATES.min_psr
    min_dsr: float = _GATES.min_dsr
    max_drawdown: float = _GATES.max_drawdown
    regime_min_trades: int = _GATES.regime_min_trades
    regime_min_sharpe: float = _GATES.regime_min_sharpe
    regime_max_drawdown: float = _GATES.regime_max_drawdown

    def limits(self) -> project_settings.GateLimits:
        return project_settings.GateLimits(**self.model_dump())


@dg.asset(group_name=GROUP, deps=[walkforward_results], pool=WRITER_POOL, kinds={"duckdb"})
def promotion_decisions(
    context: dg.AssetExecutionContext, config: PromotionConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per candidate: minimum trades, Sharpe, PSR, deflated Sharpe over all candidates tried, max drawdown and
    the per-event-type stress gate (missing regimes fail closed); every decision lists its reasons."""
    with warehouse.connect() as con:
        candidates = store.read_candidates(con)
        traces = store.read_traces(con)
        regimes_expected = store.read_fold_event_types(con)
    decisions, gates, regimes = promotion.decide_candidates(
        list(candidates["candidate"]), traces, regimes_expected, config.limits()
    )
    decisions["decided_at"] = _now()
    promoted = int(decisions["promoted"].sum()) if len(decisions) else 0
    failed_gates = (
        gates[~gates["passed"]].assign(gate=gates["gate"].str.replace(r"^stress:.*", "stress", regex=True))
        .groupby("gate")["candidate"].nunique().rename("candidates_failing").reset_index()
        if len(gates) else pd.DataFrame(columns=["gate", "candidates_failing"])
    )
    context.log.info(f"promotion_decisions: {promoted} of {len(decisions)} candidates promoted")
    with warehouse.connect() as con:
        written = store.replace_tables(
            con, {store.DECISIONS_TABLE: decisions, store.GATES_TABLE: gates, store.REGIMES_TABLE: regimes}
        )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.DECISIONS_TABLE,
                written[store.DECISIONS_TABLE],
                order_by="candidate",
                candidates=dg.MetadataValue.int(len(decisions)),
                promoted=dg.MetadataValue.int(promoted),
                expected_regimes=dg.MetadataValue.json(list(regimes_expected)),
                decisions=_md(decisions[["candidate", "promoted", "trades", "sharpe", "dsr", "reasons"]].round(4)),
                candidates_failing_each_gate=_md(failed_gates),
            )
        )


@dg.asset_check(asset=promotion_decisions, blocking=True,
                description="Every candidate tried is judged, with a stress verdict for every regime.")
def every_candidate_judged(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        candidates = set(store.read_candidates(con)["candidate"])
        decisions, gates = store.read_decisions_and_gates(con)
        regimes = store.read_fold_event_types(con)
    problems = [f"{name}: no decision" for name in sorted(candidates - set(decisions["candidate"]))]
    for row in decisions.itertuples(index=False):
        mine = gates[gates["candidate"] == row.candidate]
        stress = set(mine.loc[mine["gate"].str.startswith("stress:"), "gate"])
        missing = {f"stress:{r}" for r in regimes} - stress
        if missing or not stress:
            problems.append(f"{row.candidate}: no stress verdict for {sorted(missing) or 'any regime'}")
        if bool(row.promoted) != bool(mine["passed"].all()):
            problems.append(f"{row.candidate}: promoted={row.promoted} disagrees with its gates")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:10]) or "none")},
    )


# ===================================================================================== forecast scores


@dg.asset(
    group_name=GROUP,
    deps=[event_features, EVENT_LABELS, DISTRIBUTION_SNAPSHOTS],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def implied_forecast_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The implied distributions at each feature horizon scored against the first print: Brier score and log
    loss per rung, CRPS and PIT of the whole distribution, summarised by event type."""
    with warehouse.connect() as con:
        features = store.read_features(con)
        labels = store.read_labels(con, SETTLEMENT_LABEL_MODE).rename(columns={"realized_value": "first_print"})
        forecasts = features[features["snapshot_ts"].notna()].merge(
            labels[["event_ticker", "first_print"]], on="event_ticker", how="inner"
        )
        bins = store.read_bins_of(con, forecasts)
    scores, rungs = scoring.score_snapshots(forecasts, bins)
    summary = scoring.scores_by_event_type(scores, rungs)
    scores["computed_at"] = _now()
    overall_pit = np.histogram(scores["pit"], bins=10, range=(0, 1))[0].tolist() if len(scores) else []
    context.log.info(f"implied_forecast_scores: {len(scores)} distributions, {len(rungs)} rungs")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.SCORES_TABLE: scores, store.RUNG_TABLE: rungs})
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.SCORES_TABLE,
                written[store.SCORES_TABLE],
                order_by="snapshot_ts",
                rungs=dg.MetadataValue.int(len(rungs)),
                by_event_type_and_horizon=_md(summary.round(4), max_rows=60),
                pit_histogram_10_bins=dg.MetadataValue.json(overall_pit),
            )
        )


defs = dg.Definitions(
    assets=[event_features, walkforward_folds, walkforward_results, promotion_decisions, implied_forecast_scores],
    asset_checks=[features_observed_before_as_of, folds_purged_and_embargoed, trades_within_capacity,
                  every_candidate_judged],
)
