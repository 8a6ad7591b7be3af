"""Kalshi's percentiles against ours: gaps per event type and percentile, 10-90 band coverage."""

from __future__ import annotations

import pandas as pd
import pytest

from kalshi_assets.analytics.percentiles import (
    band_coverage,
    combined_gaps,
    coverage_summary,
    percentile_gaps,
)


def test_gaps_per_event_type_and_percentile():
    pairs = pd.DataFrame({
        "event_ticker": ["C1", "C1", "C2", "F1"],
        "event_type": ["CPI", "CPI", "CPI", "FOMC"],
        "snapshot_ts": pd.to_datetime(["2025-01-01"] * 4),
        "percentile": [1000, 1000, 1000, 5000],
        "ours": [0.1, 0.2, 0.0, 25.0],
        "kalshi": [0.2, 0.2, 0.1, 0.0],
        "implied_sd": [0.2, 0.2, 0.1, 50.0],
    })
    gaps = percentile_gaps(pairs).set_index(["event_type", "percentile"])
    cpi = gaps.loc[("CPI", 1000)]
    assert (cpi["snapshots"], cpi["events"]) == (3, 2)
    assert cpi["mean_gap"] == pytest.approx(-0.2 / 3) and cpi["mean_abs_gap"] == pytest.approx(0.2 / 3)
    assert cpi["median_abs_gap_sd"] == pytest.approx(0.5)  # |gaps| in sd: 0.5, 0, 1
    assert gaps.loc[("FOMC", 5000), "median_abs_gap_sd"] == pytest.approx(0.5)
    assert percentile_gaps(pairs.iloc[0:0]).empty


def test_gaps_read_one_percentile_at_a_time_equal_the_gaps_of_all_pairs():
    import numpy as np

    rng = np.random.default_rng(7)
    n = 600
    pairs = pd.DataFrame({
        "event_ticker": rng.choice(["C1", "C2", "G1", "F1", "F2"], n),
        "event_type": rng.choice(["CPI", "GDP", "FOMC"], n),
        "snapshot_ts": pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="h"),
        "percentile": rng.choice([500, 1000, 5000, 9000, 9500], n),
        "ours": rng.normal(0, 1, n), "kalshi": rng.normal(0, 1, n), "implied_sd": rng.uniform(0, 2, n),
    })
    parts = [percentile_gaps(pairs[pairs["percentile"] == p]) for p in (9500, 500, 1000, 2500, 5000, 9000)]
    assert len(percentile_gaps(pairs)) > 10
    pd.testing.assert_frame_equal(combined_gaps(parts), percentile_gaps(pairs))
    assert combined_gaps([percentile_gaps(pairs.iloc[0:0])]).empty


def test_band_coverage_counts_the_edges_as_inside():
    bands = pd.DataFrame({
        "event_ticker": ["A", "B", "C"], "horizon_days": [1, 1, 3], "event_type": ["CPI", "CPI", "GDP"],
        "snapshot_ts": pd.to_datetime(["2025-01-01"] * 3), "first_print": [0.3, 0.5, 2.0],
        "implied_q10": [0.1, 0.1, 1.0], "implied_q90": [0.5, 0.4, 3.0],
        "kalshi_p10": [0.2, 0.1, 2.1], "kalshi_p90": [0.3, 0.6, 3.0],
    })
    coverage = band_coverage(bands).set_index("event_ticker")
    assert coverage["inside_ours"].to_dict() == {"A": True, "B": False, "C": True}
    assert coverage["inside_kalshi"].to_dict() == {"A": True, "B": True, "C": False}
    summary = coverage_summary(coverage.reset_index())
    overall = summary[summary["event_type"] == "all"].iloc[0]
    assert overall["events"] == 3 and overall["coverage_ours"] == pytest.approx(2 / 3)
    assert summary[summary["event_type"] == "CPI"]["coverage_kalshi"].iloc[0] == 1.0
