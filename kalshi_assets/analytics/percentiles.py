"""Kalshi's forecast percentiles against the implied distribution's quantiles (docs/METHODS.md section 5).

Two figures: the gap between each of our quantiles and Kalshi's same percentile at the same time, per
event type and percentile; and how often the first print falls inside each side's 10-90 band as seen
at the features' snapshot (an 80% band: a calibrated forecaster covers about 80%).
"""

from __future__ import annotations

import pandas as pd

GAP_COLUMNS: tuple[str, ...] = (
    "event_type", "percentile", "snapshots", "events", "mean_gap", "median_gap", "mean_abs_gap", "median_abs_gap_sd",
)
COVERAGE_COLUMNS: tuple[str, ...] = (
    "event_ticker", "horizon_days", "event_type", "snapshot_ts", "first_print", "ours_q10", "ours_q90",
    "kalshi_p10", "kalshi_p90", "inside_ours", "inside_kalshi",
)
NOMINAL_BAND_COVERAGE = 0.8


def percentile_gaps(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per event type and percentile: snapshots and events compared, mean and median of ours - Kalshi's,
    mean |gap| (the series' units) and median |gap| in units of our implied sd (comparable across types).

    pairs: event_ticker, event_type, snapshot_ts, percentile, ours, kalshi, implied_sd.
    """
    if pairs.empty:
        return pd.DataFrame(columns=list(GAP_COLUMNS))
    gap = pairs["ours"].astype(float) - pairs["kalshi"].astype(float)
    sd = pairs["implied_sd"].astype(float)
    frame = pairs.assign(gap=gap, abs_gap=gap.abs(), abs_gap_sd=(gap.abs() / sd).where(sd > 0))
    return (
        frame.groupby(["event_type", "percentile"])
        .agg(
            snapshots=("gap", "size"),
            events=("event_ticker", "nunique"),
            mean_gap=("gap", "mean"),
            median_gap=("gap", "median"),
            mean_abs_gap=("abs_gap", "mean"),
            median_abs_gap_sd=("abs_gap_sd", "median"),
        )
        .reset_index()[list(GAP_COLUMNS)]
    )


def combined_gaps(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`percentile_gaps` of pairs read in parts that split no (event type, percentile) group: the parts'
    rows in the order `percentile_gaps` of all the pairs at once gives."""
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame(columns=list(GAP_COLUMNS))
    return pd.concat(parts, ignore_index=True).sort_values(["event_type", "percentile"], ignore_index=True)


def band_coverage(bands: pd.DataFrame) -> pd.DataFrame:
    """Per event and horizon: whether the first print is inside our [q10, q90] and inside Kalshi's
    [p10, p90] (closed intervals: a print on a band edge is inside).

    bands: event_ticker, horizon_days, event_type, snapshot_ts, first_print, implied_q10, implied_q90,
    kalshi_p10, kalshi_p90.
    """
    frame = bands.rename(columns={"implied_q10": "ours_q10", "implied_q90": "ours_q90"}).copy()
    value = frame["first_print"].astype(float)
    frame["inside_ours"] = (frame["ours_q10"] <= value) & (value <= frame["ours_q90"])
    frame["inside_kalshi"] = (frame["kalshi_p10"] <= value) & (value <= frame["kalshi_p90"])
    return frame[list(COVERAGE_COLUMNS)].reset_index(drop=True)


def coverage_summary(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per event type and horizon, and over all: events judged and the share inside each 10-90 band."""
    if coverage.empty:
        return pd.DataFrame(columns=["event_type", "horizon_days", "events", "coverage_ours", "coverage_kalshi"])
    per_type = (
        coverage.groupby(["event_type", "horizon_days"])
        .agg(events=("event_ticker", "size"), coverage_ours=("inside_ours", "mean"),
             coverage_kalshi=("inside_kalshi", "mean"))
        .reset_index()
    )
    overall = pd.DataFrame(
        [{"event_type": "all", "horizon_days": None, "events": len(coverage),
          "coverage_ours": float(coverage["inside_ours"].mean()),
          "coverage_kalshi": float(coverage["inside_kalshi"].mean())}]
    )
    return pd.concat([per_type, overall], ignore_index=True)
