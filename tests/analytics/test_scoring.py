"""Forecast scores: Brier, log loss, reliability/ECE, CRPS and PIT of ladder distributions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kstest, norm

from kalshi_assets.analytics.scoring import (
    brier_score,
    cdf_knots,
    crps_discrete,
    crps_ladder,
    crps_piecewise_linear,
    expected_calibration_error,
    log_loss,
    pit_discrete,
    pit_histogram,
    pit_ladder,
    reliability_curve,
    score_snapshots,
    scores_by_event_type,
)


def test_brier_and_log_loss_by_hand():
    assert brier_score([0.8, 0.3], [1, 0]) == pytest.approx((0.04 + 0.09) / 2)
    assert log_loss([0.8, 0.3], [1, 0]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert math.isfinite(log_loss([0.0, 1.0], [1, 0]))  # clipped, not infinite
    with pytest.raises(ValueError):
        brier_score([1.2], [1])
    with pytest.raises(ValueError):
        brier_score([0.2], [0.5])
    with pytest.raises(ValueError):
        log_loss([], [])


def test_reliability_and_ece():
    f = [0.1, 0.1, 0.9, 0.9]
    o = [0, 1, 1, 1]
    curve = reliability_curve(f, o, n_bins=10)
    assert list(curve["bin"]) == [1, 9]
    assert list(curve["observed_frequency"]) == [0.5, 1.0]
    assert expected_calibration_error(f, o) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == 0.0


def numeric_crps(xs, ys, x, lo, hi, n=200_001):
    grid = np.linspace(lo, hi, n)
    F = np.interp(grid, xs, ys, left=0.0, right=1.0)
    H = (grid >= x).astype(float)
    return float(np.trapezoid((F - H) ** 2, grid))


@settings(max_examples=40, deadline=None)
@given(
    masses=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8),
    observation=st.floats(-1.0, 2.0),
)
def test_crps_matches_numerical_integration(masses, observation):
    total = sum(masses) + 1.0
    strikes = np.round(np.linspace(0.0, 0.1 * (len(masses) - 1), len(masses)), 3)
    cdf = np.cumsum(masses) / total  # the last strike leaves mass 1/total above it
    xs, ys = cdf_knots(strikes, cdf)
    exact = crps_ladder(strikes, cdf, observation)
    assert exact >= 0
    assert exact == pytest.approx(numeric_crps(xs, ys, observation, -2.0, 3.0), abs=1e-4)


def test_crps_is_about_the_sum_of_rung_brier_scores_times_spacing():
    # docs/METHODS.md section 5: on a fine ladder, CRPS ~ sum over strikes of (F(k) - 1{k >= x})^2 * spacing.
    strikes = np.round(np.arange(-1.0, 2.0001, 0.01), 2)
    cdf = norm.cdf(strikes, loc=0.3, scale=0.2)
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0]) * 0.998 + 0.001
    x = 0.37
    approx = float(np.sum((cdf - (strikes >= x)) ** 2) * 0.01)
    assert crps_ladder(strikes, cdf, x) == pytest.approx(approx, rel=0.05)  # a Riemann sum across the step
    # And it is close to the closed-form CRPS of the normal.
    z = (x - 0.3) / 0.2
    closed = 0.2 * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))
    assert crps_ladder(strikes, cdf, x) == pytest.approx(closed, rel=0.005)


def test_crps_of_a_sharp_correct_forecast_is_small_and_of_a_wrong_one_large():
    strikes = [0.1, 0.2, 0.3]
    sharp = [0.0, 0.0, 1.0]  # all mass in (0.2, 0.3]
    assert crps_ladder(strikes, sharp, 0.25) < crps_ladder(strikes, sharp, 1.5)
    # Outside the knots the CDF is 0 or 1: the gap counts in full.
    xs, ys = cdf_knots(strikes, sharp)
    assert crps_piecewise_linear(xs, ys, 10.0) == pytest.approx(
        crps_piecewise_linear(xs, ys, xs[-1]) + (10.0 - xs[-1])
    )


def test_pit_interpolates_and_is_uniform_for_a_calibrated_forecaster():
    strikes = [0.1, 0.2, 0.3]
    cdf = [0.2, 0.5, 0.9]
    assert pit_ladder(strikes, cdf, 0.2) == pytest.approx(0.5)
    assert pit_ladder(strikes, cdf, 0.25) == pytest.approx(0.7)
    assert pit_ladder(strikes, cdf, -5) == 0.0 and pit_ladder(strikes, cdf, 5) == 1.0
    rng = np.random.default_rng(11)
    fine = np.linspace(-4, 4, 401)
    pits = []
    for _ in range(400):
        mu = rng.normal()
        pits.append(pit_ladder(fine + mu, norm.cdf(fine), mu + rng.normal()))
    assert kstest(pits, "uniform").pvalue > 0.01
    overconfident = [pit_ladder(fine, norm.cdf(fine, scale=0.3), rng.normal()) for _ in range(400)]
    assert kstest(overconfident, "uniform").pvalue < 1e-6
    hist = pit_histogram(pits, n_bins=5)
    assert hist["count"].sum() == 400


def test_cdf_knots_refuses_bad_ladders():
    with pytest.raises(ValueError, match="increase"):
        cdf_knots([0.2, 0.1], [0.1, 0.2])
    with pytest.raises(ValueError, match="non-decreasing"):
        cdf_knots([0.1, 0.2], [0.6, 0.4])
    with pytest.raises(ValueError):
        cdf_knots([], [])


@settings(max_examples=40, deadline=None)
@given(
    masses=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=8),
    observation=st.floats(-1.0, 2.0),
)
def test_discrete_crps_equals_the_integral_of_its_step_cdf(masses, observation):
    points = np.round(np.arange(len(masses)) * 0.1 + 0.05, 3)
    p = np.asarray(masses) / sum(masses)
    grid = np.linspace(-2.0, 3.0, 500_001)
    cdf = np.searchsorted(points, grid, side="right")
    step = np.concatenate([[0.0], np.cumsum(p)])[cdf]
    numeric = float(np.trapezoid((step - (grid >= observation)) ** 2, grid))
    assert crps_discrete(points, p, observation) == pytest.approx(numeric, abs=2e-4)


def test_discrete_pit_counts_a_tie_half():
    assert pit_discrete([0.1, 0.2, 0.3], [0.2, 0.5, 0.3], 0.2) == pytest.approx(0.2 + 0.25)
    assert pit_discrete([0.1, 0.2, 0.3], [0.2, 0.5, 0.3], 0.25) == pytest.approx(0.7)
    assert crps_discrete([0.2], [1.0], 0.2) == 0.0
    with pytest.raises(ValueError, match="sum"):
        crps_discrete([0.1, 0.2], [0.3, 0.3], 0.1)


def test_score_snapshots_per_rung_and_whole_distribution():
    ts = pd.Timestamp("2026-03-08 12:00")
    # A CPI ladder with strikes 0.1, 0.2, 0.3: four bins with tails one spacing wide.
    bins = pd.DataFrame(
        {
            "event_ticker": "E", "snapshot_ts": ts, "bin_index": [0, 1, 2, 3],
            "lower_edge": [0.0, 0.1, 0.2, 0.3], "upper_edge": [0.1, 0.2, 0.3, 0.4],
            "support_point": [0.05, 0.15, 0.25, 0.35], "mass": [0.1, 0.4, 0.3, 0.2],
            "survival_upper": [0.9, 0.5, 0.2, 0.0],
        }
    )
    forecasts = pd.DataFrame(
        {"event_ticker": ["E", "F"], "horizon_days": [3, 3], "event_type": ["CPI", "CPI"], "snapshot_ts": [ts, ts],
         "first_print": [0.2, 0.1]}
    )
    scores, rungs = score_snapshots(forecasts, bins)
    assert list(scores["event_ticker"]) == ["E"]  # F has no bins: left out
    assert list(rungs["strike"]) == [0.1, 0.2, 0.3]
    assert list(rungs["outcome"]) == [1, 0, 0]  # a print of 0.2 is not above 0.2
    row = scores.iloc[0]
    assert row["brier"] == pytest.approx(((0.9 - 1) ** 2 + 0.5**2 + 0.2**2) / 3)
    assert row["crps"] == pytest.approx(crps_discrete([0.05, 0.15, 0.25, 0.35], [0.1, 0.4, 0.3, 0.2], 0.2))
    assert row["pit"] == pytest.approx(0.5)
    summary = scores_by_event_type(scores, rungs)
    assert list(summary["event_type"]) == ["CPI"] and summary.loc[0, "rungs"] == 3
    assert summary.loc[0, "brier"] == pytest.approx(row["brier"])
