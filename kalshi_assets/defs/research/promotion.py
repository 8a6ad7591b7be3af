"""promotion_decisions: every candidate tried, judged gate by gate (docs/METHODS.md section 4)."""

import dagster as dg
import numpy as np
from pydantic import Field

from kalshi_assets import settings as project_settings
from kalshi_assets.analytics import cpcv, promotion
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, table_metadata
from kalshi_assets.defs.research.common import GROUP, md, problems_md
from kalshi_assets.defs.resources import WarehouseResource
from kalshi_assets.times import utc_now
from kalshi_assets.warehouse import research as store

_GATES = project_settings.GateLimits()


class PromotionConfig(dg.Config):
    min_trades: int = _GATES.min_trades
    min_sharpe: float = _GATES.min_sharpe
    min_psr: float = _GATES.min_psr
    min_dsr: float = _GATES.min_dsr
    max_drawdown: float = _GATES.max_drawdown
    regime_min_trades: int = _GATES.regime_min_trades
    regime_min_sharpe: float = _GATES.regime_min_sharpe
    regime_max_drawdown: float = _GATES.regime_max_drawdown
    max_pbo: float = Field(default=_GATES.max_pbo, description="The family passes when its PBO is below this.")
    pbo_blocks: int = Field(default=_GATES.pbo_blocks, description="S, the even number of CSCV row blocks (at most).")
    trial_min_correlation: float = Field(
        default=_GATES.trial_min_correlation, description="Candidates correlating this much count as one trial."
    )

    def limits(self) -> project_settings.GateLimits:
        return project_settings.GateLimits(**self.model_dump())


def _logit_histogram(logits: np.ndarray) -> dg.MetadataValue:
    rows = [f"| {label} | {n} |" for label, n in promotion.logit_histogram(logits)]
    return dg.MetadataValue.md("| logit | combinations |\n|---|---|\n" + "\n".join(rows))


@dg.asset(group_name=GROUP, deps=[keys.WALKFORWARD_RESULTS, keys.CPCV_PATHS], pool=WRITER_POOL, kinds={"duckdb"})
def promotion_decisions(
    context: dg.AssetExecutionContext, config: PromotionConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per candidate: minimum trades, Sharpe, PSR, the deflated Sharpe over the effective number of trials
    (raw count beside it), the family's PBO by CSCV, max drawdown and the per-event-type stress gate (missing
    regimes fail closed), with its CPCV path-Sharpe distribution; every decision lists its reasons."""
    with warehouse.connect() as con:
        candidates = store.read_candidates(con)
        traces = store.read_traces(con)
        regimes_expected = store.read_fold_event_types(con)
        periods = store.read_test_events(con)
        paths = store.read_paths(con)
    family = promotion.decide_candidates(
        list(candidates["candidate"]), traces, regimes_expected, config.limits(), periods,
        cpcv.path_sharpe_summary(paths),
    )
    decided_at = utc_now()
    decisions = family.decisions.assign(decided_at=decided_at)
    combinations = family.pbo_combinations.assign(decided_at=decided_at)
    promoted = int(decisions["promoted"].sum())
    context.log.info(f"promotion_decisions: {promoted} of {len(decisions)} candidates promoted")
    shown = ["candidate", "promoted", "trades", "sharpe", "dsr", "n_trials_effective", "n_trials", "pbo",
             "cpcv_sharpe_min", "cpcv_sharpe_median", "cpcv_sharpe_max", "reasons"]
    with warehouse.connect() as con:
        written = store.replace_tables(
            con,
            {store.DECISIONS_TABLE: decisions, store.GATES_TABLE: family.gates, store.REGIMES_TABLE: family.regimes,
             store.PBO_TABLE: combinations},
        )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.DECISIONS_TABLE,
                written[store.DECISIONS_TABLE],
                order_by="candidate",
                candidates=dg.MetadataValue.int(len(decisions)),
                promoted=dg.MetadataValue.int(promoted),
                pbo=dg.MetadataValue.float(float(decisions["pbo"].iloc[0])) if decisions["pbo"].notna().any()
                else dg.MetadataValue.text("undefined"),
                pbo_logit_histogram=_logit_histogram(combinations["logit"].to_numpy(dtype=float)),
                trials=dg.MetadataValue.json(promotion.trial_counts(decisions)),
                expected_regimes=dg.MetadataValue.json(list(regimes_expected)),
                decisions=md(decisions[shown].round(4)),
                candidates_failing_each_gate=md(promotion.candidates_failing_each_gate(family.gates)),
            )
        )


@dg.asset_check(asset=promotion_decisions, blocking=True,
                description="Every candidate tried is judged, with PBO, DSR and a stress verdict for every regime.")
def every_candidate_judged(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        candidates = list(store.read_candidates(con)["candidate"])
        decisions, gates = store.read_decisions_and_gates(con)
        regimes = store.read_fold_event_types(con)
    problems = promotion.judgement_problems(candidates, decisions, gates, regimes)
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": problems_md(problems)})


defs = dg.Definitions(assets=[promotion_decisions], asset_checks=[every_candidate_judged])
