"""Tables and checks of a backtest's candidates (docs/METHODS.md section 6): one row per candidate tried,
the family rebuilt from its table, what was skipped, and the trades that break the capacity or fee rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import pandas as pd

from kalshi_assets.analytics.walkforward import Candidate, capacity_summary, taker_fee

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate", "horizon_days", "edge_threshold", "capacity_share", "capacity_window_hours", "max_contracts",
    "max_order_notional", "bankroll", "total_pnl", "trades", "contracts", "window_volume", "share_of_volume",
    "capped_by_capacity", "blocked_no_capacity",
)


def candidate_table(
    candidates: Sequence[Candidate], traces: pd.DataFrame, skipped: pd.DataFrame, capacity_window_hours: float
) -> pd.DataFrame:
    """One row per candidate tried: its parameters, total P&L and capacity (zeros when it never traded)."""
    pnl = traces.groupby("candidate")["pnl"].sum() if len(traces) else pd.Series(dtype=object)
    rows = pd.DataFrame(
        [
            {
                "candidate": c.name,
                "horizon_days": c.horizon_days,
                "edge_threshold": c.edge_threshold,
                "capacity_share": c.capacity_share,
                "capacity_window_hours": capacity_window_hours,
                "max_contracts": c.max_contracts,
                "max_order_notional": Decimal(str(c.max_order_notional)),
                "bankroll": Decimal(str(c.bankroll)),
                "total_pnl": Decimal(str(pnl.get(c.name, Decimal("0")))),
            }
            for c in candidates
        ]
    ).merge(capacity_summary(traces, skipped), on="candidate", how="left")
    for column in ("trades", "contracts", "capped_by_capacity", "blocked_no_capacity"):
        rows[column] = rows[column].fillna(0).astype(int)
    for column in ("window_volume", "share_of_volume"):
        rows[column] = rows[column].fillna(0.0)
    return rows[list(CANDIDATE_COLUMNS)]


def candidates_from_table(table: pd.DataFrame) -> list[Candidate]:
    """The candidates a walkforward_candidates table describes: one family for every backtest."""
    return [
        Candidate(
            horizon_days=int(row.horizon_days),
            edge_threshold=float(row.edge_threshold),
            capacity_share=float(row.capacity_share),
            max_contracts=int(row.max_contracts),
            max_order_notional=float(row.max_order_notional),
            bankroll=float(row.bankroll),
        )
        for row in table.itertuples(index=False)
    ]


def skipped_counts(skipped: pd.DataFrame) -> pd.DataFrame:
    """Signals or events skipped, per candidate and kind."""
    if skipped.empty:
        return pd.DataFrame(columns=["candidate", "kind", "count"])
    return skipped.groupby(["candidate", "kind"]).size().rename("count").reset_index()


def trade_problems(traces: pd.DataFrame, fee_multipliers: Mapping[str, float]) -> dict[str, int]:
    """Counts of trades larger than what traded, larger than capacity, or with a fee other than Kalshi's."""
    size = traces["size"].astype(float)
    # DuckDB hands DECIMAL back as float: compare fees in Decimal through the shortest repr.
    wrong_fee = sum(
        taker_fee(int(row.size), row.price, fee_multipliers.get(row.event_ticker, 1.0)) != Decimal(str(row.fee))
        for row in traces.itertuples(index=False)
    )
    return {
        "size_over_traded_volume": int((size > traces["window_volume"].astype(float)).sum()),
        "size_over_capacity": int((size > traces["capacity_contracts"].astype(float)).sum()),
        "fee_mismatch": int(wrong_fee),
    }


def trade_check_counts(traces: pd.DataFrame, fee_multipliers: Mapping[str, float], off_test_events: int) -> dict[str, int]:
    """What the out-of-sample trade checks count: `trade_problems` plus trades on events that were not
    test events of their fold or split."""
    return {**trade_problems(traces, fee_multipliers), "trades_off_test_events": int(off_test_events)}


def cpcv_trade_problems(
    trades: pd.DataFrame, fee_multipliers: Mapping[str, float], off_test_events: int, paths: pd.DataFrame
) -> list[str]:
    """Every problem of the CPCV trades and paths, as text: each non-zero count of `trade_check_counts`, and
    candidates with different numbers of paths."""
    counts = trade_check_counts(trades, fee_multipliers, off_test_events)
    problems = [f"{k}: {v}" for k, v in counts.items() if v]
    if paths.groupby("candidate")["path"].nunique().nunique() > 1:
        problems.append("not every candidate has the same number of paths")
    return problems


def candidates_not_rebuilt(table: pd.DataFrame, candidates: Sequence[Candidate]) -> list[str]:
    """Names of candidates rebuilt from walkforward_candidates rows that the rows do not name (a row that no
    longer rebuilds its candidate)."""
    named = set(table["candidate"])
    return [c.name for c in candidates if c.name not in named]


def capacity_window_hours(table: pd.DataFrame, default: float = 24.0) -> float:
    """The capacity window the candidates were traded with (the widest), or `default` without candidates."""
    return float(table["capacity_window_hours"].max()) if len(table) else default


CAPACITY_SUMMARY_COLUMNS: tuple[str, ...] = (
    "candidate", "trades", "contracts", "window_volume", "share_of_volume", "capped_by_capacity",
    "blocked_no_capacity", "total_pnl",
)


def missing_horizons(candidates: Sequence[Candidate], features: pd.DataFrame) -> list[int]:
    """Candidate horizons that event_features does not have (none when there are no features yet)."""
    if not len(features):
        return []
    return sorted({c.horizon_days for c in candidates} - set(features["horizon_days"].unique()))


def tested_feature_grid(roles: pd.DataFrame, features: pd.DataFrame, candidates: Sequence[Candidate]) -> pd.DataFrame:
    """The feature rows the candidates trade on: events tested in some fold or split, at the candidates'
    horizons."""
    tested = roles.loc[roles["role"] == "test", "event_ticker"].unique()
    horizons = [c.horizon_days for c in candidates]
    return features[features["event_ticker"].isin(tested) & features["horizon_days"].isin(horizons)]
