"""Calibration of market-implied contract probabilities (docs/METHODS.md sections 1 and 5).

Each settled contract, seen at a horizon before its event's release, gives one forecast: the
probability its quote implied then (docs/METHODS.md section 1: mid of a tight fresh book, else a fresh last
trade inside the book, else no forecast) and one outcome: whether it settled YES. The reliability
curve and the scores come from analytics.scoring. Pure: no I/O, no dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kalshi_assets.analytics.distribution import DistributionParams, contract_probabilities
from kalshi_assets.analytics.scoring import (
    brier_score,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)
from kalshi_assets.analytics.walkforward import settles_yes

INPUT_COLUMNS: tuple[str, ...] = (
    "market_ticker", "horizon_hours", "as_of", "strike_type", "floor_strike", "cap_strike", "result",
    "first_print", "yes_bid", "yes_ask", "quote_ts", "last_price", "trade_ts",
)
FORECAST_COLUMNS: tuple[str, ...] = ("market_ticker", "horizon_hours", "forecast", "outcome", "outcome_source")
CURVE_COLUMNS: tuple[str, ...] = (
    "horizon_hours", "bin", "bin_lower", "bin_upper", "n_contracts", "mean_forecast", "observed_frequency",
)
SCORE_COLUMNS: tuple[str, ...] = ("horizon_hours", "n_contracts", "brier", "log_loss", "ece")


def _hours(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    delta = pd.to_datetime(later) - pd.to_datetime(earlier)
    return (delta.dt.total_seconds() / 3600.0).to_numpy(dtype=np.float64, na_value=np.nan)


def _as_float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def contract_outcomes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Outcome (1.0, 0.0 or NaN) and its source per row: the first print through the contract's strike
    rule (what Kalshi settles on), else Kalshi's own `result` yes/no."""
    outcome = np.full(len(frame), np.nan)
    source = np.full(len(frame), None, dtype=object)
    for i, row in enumerate(frame.itertuples(index=False)):
        floor = None if pd.isna(row.floor_strike) else float(row.floor_strike)
        cap = None if pd.isna(row.cap_strike) else float(row.cap_strike)
        settled = None
        if not pd.isna(row.first_print):
            settled = settles_yes(str(row.strike_type), floor, cap, float(row.first_print))
            if settled is not None:
                source[i] = "first_print"
        if settled is None and row.result in ("yes", "no"):
            settled = row.result == "yes"
            source[i] = "result"
        if settled is not None:
            outcome[i] = 1.0 if settled else 0.0
    return outcome, source


def contract_forecasts(frame: pd.DataFrame, params: DistributionParams | None = None) -> pd.DataFrame:
    """One row per (contract, horizon) that has both a usable implied probability and an outcome.

    `frame` has INPUT_COLUMNS: the latest quote (`yes_bid`, `yes_ask` at `quote_ts`) and the latest trade
    (`last_price` at `trade_ts`) at or before `as_of`; a quote after `as_of` is refused (look-ahead).
    """
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"calibration input lacks columns {missing}")
    if frame.empty:
        return pd.DataFrame(columns=list(FORECAST_COLUMNS))
    params = params if params is not None else DistributionParams()
    probability, _, _, _ = contract_probabilities(
        _as_float(frame["yes_bid"]),
        _as_float(frame["yes_ask"]),
        _as_float(frame["last_price"]),
        _hours(frame["as_of"], frame["quote_ts"]),
        _hours(frame["as_of"], frame["trade_ts"]),
        params,
    )
    outcome, source = contract_outcomes(frame)
    out = pd.DataFrame({
        "market_ticker": frame["market_ticker"].to_numpy(),
        "horizon_hours": frame["horizon_hours"].astype(int).to_numpy(),
        "forecast": probability,
        "outcome": outcome,
        "outcome_source": source,
    })
    return out[out["forecast"].notna() & out["outcome"].notna()].reset_index(drop=True)


def calibration_by_horizon(forecasts: pd.DataFrame, n_bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability bins and scores (Brier, log loss, ECE) per horizon; horizons without forecasts are left out."""
    curves, scores = [], []
    for horizon, group in forecasts.groupby("horizon_hours", sort=True):
        f, o = group["forecast"].to_numpy(), group["outcome"].to_numpy()
        curve = reliability_curve(f, o, n_bins).rename(
            columns={"lower": "bin_lower", "upper": "bin_upper", "count": "n_contracts"}
        )
        curve.insert(0, "horizon_hours", int(horizon))
        curves.append(curve)
        scores.append({
            "horizon_hours": int(horizon), "n_contracts": len(group), "brier": brier_score(f, o),
            "log_loss": log_loss(f, o), "ece": expected_calibration_error(f, o, n_bins),
        })
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=list(CURVE_COLUMNS))
    return curve_frame[list(CURVE_COLUMNS)], pd.DataFrame(scores, columns=list(SCORE_COLUMNS))


def outcome_agreement(frame: pd.DataFrame) -> tuple[int, int]:
    """(contracts where the first print and Kalshi's result both decide, how many of them agree)."""
    both = agree = 0
    for row in frame.drop_duplicates("market_ticker").itertuples(index=False):
        if pd.isna(row.first_print) or row.result not in ("yes", "no"):
            continue
        floor = None if pd.isna(row.floor_strike) else float(row.floor_strike)
        cap = None if pd.isna(row.cap_strike) else float(row.cap_strike)
        settled = settles_yes(str(row.strike_type), floor, cap, float(row.first_print))
        if settled is None:
            continue
        both += 1
        agree += int(settled == (row.result == "yes"))
    return both, agree


def default_horizons() -> Sequence[int]:
    """Hours before release at which the contracts are read: a week, a day, an hour."""
    return (168, 24, 1)
