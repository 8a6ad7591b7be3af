"""walkforward_results and cpcv_paths: the candidates fitted on train events and traded out of sample."""

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from kalshi_assets import settings as project_settings
from kalshi_assets.analytics import backtest_tables, cpcv, walkforward
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, table_metadata
from kalshi_assets.defs.research.common import GROUP, SETTLEMENT_LABEL_MODE, md, problems_md
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.times import utc_now
from kalshi_assets.warehouse import research as store

_RISK = project_settings.RiskLimits()
CPCV_TRADE_COLUMNS: tuple[str, ...] = (
    "candidate", "split", "path", "event_ticker", "event_type", "release_time", "market_ticker", "side", "price",
    "size", "fee", "pnl", "bankroll_return", "window_volume", "capacity_contracts",
)
_INPUTS = [keys.EVENT_FEATURES, keys.EVENT_LABELS, keys.KALSHI_QUOTES, keys.KALSHI_MARKETS, keys.KALSHI_SERIES]


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


def _trade_out_of_sample(
    con: duckdb.DuckDBPyConnection, roles: pd.DataFrame, candidates: list[walkforward.Candidate], window_hours: float,
    max_staleness_hours: float,
) -> walkforward.WalkforwardRun:
    """Read what the candidates need on the tested events (features, first prints, ladders, fees) and run
    them fold by fold (`roles` has a `fold` column: a walk-forward fold or a CPCV split)."""
    features = store.read_features(con)
    missing = backtest_tables.missing_horizons(candidates, features)
    if missing:
        raise dg.Failure(f"candidate horizons {missing} are not among event_features' horizons")
    labels = store.read_labels(con, SETTLEMENT_LABEL_MODE).rename(columns={"realized_value": "first_print"})
    grid = backtest_tables.tested_feature_grid(roles, features, candidates)
    ladders = store.read_ladders_at(con, grid, window_hours, max_staleness_hours)
    fees = store.read_fee_multipliers(con)
    return walkforward.run_walkforward(roles, features, labels, ladders, candidates, fees)


@dg.asset(group_name=GROUP, deps=[keys.WALKFORWARD_FOLDS, *_INPUTS], pool=WRITER_POOL, kinds={"duckdb"})
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
        run = _trade_out_of_sample(con, roles, candidates, config.capacity_window_hours, settings.max_staleness_hours)
    computed_at = utc_now()
    candidate_rows = backtest_tables.candidate_table(candidates, run.traces, run.skipped, config.capacity_window_hours)
    candidate_rows["computed_at"] = computed_at
    traces = run.traces.assign(computed_at=computed_at)
    context.log.info(f"walkforward_results: {len(traces)} trades over {len(candidates)} candidates")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.RESULTS_TABLE: traces, store.CANDIDATES_TABLE: candidate_rows})
        summary = candidate_rows[list(backtest_tables.CAPACITY_SUMMARY_COLUMNS)]
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.RESULTS_TABLE,
                written[store.RESULTS_TABLE],
                order_by="release_time",
                candidates=dg.MetadataValue.int(len(candidates)),
                trades=dg.MetadataValue.int(len(traces)),
                contracts=dg.MetadataValue.int(int(candidate_rows["contracts"].sum())),
                capacity_by_candidate=md(summary.round(4)),
                skipped=md(backtest_tables.skipped_counts(run.skipped)),
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
    counts = backtest_tables.trade_check_counts(traces, fees, len(off_test))
    return dg.AssetCheckResult(
        passed=not any(counts.values()),
        metadata={"trades_checked": dg.MetadataValue.int(len(traces)),
                  **{k: dg.MetadataValue.int(v) for k, v in counts.items()}},
    )


@dg.asset(group_name=GROUP, deps=[keys.CPCV_SPLITS, keys.WALKFORWARD_RESULTS, *_INPUTS], pool=WRITER_POOL, kinds={"duckdb"})
def cpcv_paths(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The candidates of walkforward_candidates fitted on every CPCV split's train events and traded on its
    test events; the trades recombined into backtest paths, each event tested once per path. Per candidate
    and path: trades and the path's Sharpe ratio (docs/METHODS.md section 3)."""
    with warehouse.connect() as con:
        roles = store.read_splits(con)
        table = store.read_candidates(con)
        candidates = backtest_tables.candidates_from_table(table)
        renamed = backtest_tables.candidates_not_rebuilt(table, candidates)
        if renamed:
            raise dg.Failure(f"walkforward_candidates rows do not rebuild their candidates: {renamed}")
        window_hours = backtest_tables.capacity_window_hours(table)
        run = _trade_out_of_sample(
            con, roles.rename(columns={"split": "fold"}), candidates, window_hours, settings.max_staleness_hours
        )
    n_paths = cpcv.paths_in(roles)
    credited = cpcv.path_trades(run.traces.rename(columns={"fold": "split"}), roles)
    paths = cpcv.path_returns(credited, [c.name for c in candidates], n_paths).assign(computed_at=utc_now())
    trades = credited[list(CPCV_TRADE_COLUMNS)].assign(computed_at=utc_now())
    summary = cpcv.path_sharpe_summary(paths)
    context.log.info(f"cpcv_paths: {len(trades)} trades over {roles['split'].nunique()} splits, {n_paths} paths")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.CPCV_TRADES_TABLE: trades, store.PATHS_TABLE: paths})
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.PATHS_TABLE,
                written[store.PATHS_TABLE],
                order_by="candidate",
                paths=dg.MetadataValue.int(n_paths),
                trades=dg.MetadataValue.int(len(trades)),
                path_sharpe_by_candidate=md(summary.round(4)),
            )
        )


@dg.asset_check(
    asset=cpcv_paths, blocking=True,
    description="CPCV trades only on their split's test events, credited to the right path, within capacity.",
)
def cpcv_trades_out_of_sample(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        trades = store.read_cpcv_trades(con)
        off_test = store.cpcv_trades_off_test_events(con)
        fees = store.read_fee_multipliers(con)
        paths = store.read_paths(con)
    problems = backtest_tables.cpcv_trade_problems(trades, fees, len(off_test), paths)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"trades_checked": dg.MetadataValue.int(len(trades)), "paths": dg.MetadataValue.int(len(paths)),
                  "problems": problems_md(problems)},
    )


defs = dg.Definitions(
    assets=[walkforward_results, cpcv_paths], asset_checks=[trades_within_capacity, cpcv_trades_out_of_sample]
)
