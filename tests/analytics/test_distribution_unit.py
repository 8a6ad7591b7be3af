"""Unit tests of the distribution pieces: contract probabilities, direction, repair, bins, quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kalshi_assets.analytics.distribution import (
    EXCLUDED_MISSING,
    EXCLUDED_STALE,
    EXCLUDED_UNPRICED,
    SOURCE_LAST_TRADE,
    SOURCE_MID,
    DistributionParams,
    antitonic_regression_segments,
    contract_probabilities,
    implied_distribution,
    implied_distributions,
    strike_type_codes,
)
from kalshi_assets.analytics.snapshot_schema import validate_bins_frame, validate_snapshot_frame
from tests.analytics.distribution_ladders import RUNG_DEFAULTS

NAN = np.nan


def ladder(strike_type, floors, caps, mids, spread=0.02, **extra) -> pd.DataFrame:
    mids = np.asarray(mids, dtype=float)
    n = len(mids)
    return pd.DataFrame({
        "strike_type": strike_type if isinstance(strike_type, list) else [strike_type] * n,
        "floor_strike": floors if floors is not None else [NAN] * n,
        "cap_strike": caps if caps is not None else [NAN] * n,
        "yes_bid": np.clip(mids - spread / 2, 0, 1),
        "yes_ask": np.clip(mids + spread / 2, 0, 1),
        **{**RUNG_DEFAULTS, **extra},
    })


def row_of(frame: pd.DataFrame, **kw) -> pd.Series:
    result = implied_distribution(frame, **kw)
    assert validate_snapshot_frame(result.snapshots) == []
    assert validate_bins_frame(result.bins) == []
    return result.snapshots.iloc[0]


# --- contract probabilities -------------------------------------------------------------------------


def test_contract_probability_rules() -> None:
    p = DistributionParams(max_spread=0.10, max_staleness_hours=6.0)
    bid = np.array([0.40, 0.30, 0.30, 0.30, NAN, 0.40, 0.40, NAN, 0.45])
    ask = np.array([0.44, 0.60, 0.60, 0.60, 0.50, 0.44, 0.44, NAN, 0.40])
    last = np.array([NAN, 0.45, 0.70, 0.45, 0.20, NAN, 0.42, NAN, 0.42])
    qage = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 7.0, 7.0, NAN, 1.0])
    tage = np.array([NAN, 2.0, 2.0, 9.0, 1.0, NAN, 3.0, NAN, 1.0])
    prob, weight, source, two_sided = contract_probabilities(bid, ask, last, qage, tage, p)
    # 0: tight fresh book -> mid. 1: wide book, fresh trade inside -> trade. 2: trade outside book.
    # 3: trade too old. 4: one-sided book, trade inside [0, ask]. 5: stale book, no trade.
    # 6: stale book, fresh trade inside the (stale) book. 7: nothing at all. 8: crossed book, trade outside.
    np.testing.assert_allclose(prob, [0.42, 0.45, NAN, NAN, 0.20, NAN, 0.42, NAN, NAN])
    assert list(source) == [SOURCE_MID, SOURCE_LAST_TRADE, EXCLUDED_UNPRICED, EXCLUDED_UNPRICED,
                            SOURCE_LAST_TRADE, EXCLUDED_STALE, SOURCE_LAST_TRADE, EXCLUDED_MISSING,
                            EXCLUDED_UNPRICED]
    assert list(two_sided) == [True, True, True, True, False, False, False, False, True]
    # 1/spread^2 with the book's width (at least max_spread) for trade prices.
    assert weight[0] == pytest.approx(1 / 0.04**2)
    assert weight[1] == pytest.approx(1 / 0.30**2)
    assert weight[4] == pytest.approx(1 / 0.50**2)


def test_spread_exactly_at_limit_is_a_mid_and_zero_spread_weight_is_floored() -> None:
    prob, weight, source, _ = contract_probabilities(
        np.array([0.45, 0.5]), np.array([0.55, 0.5]), np.array([NAN, NAN]), np.array([0.0, 0.0]),
        np.array([NAN, NAN]))
    assert list(source) == [SOURCE_MID, SOURCE_MID]
    assert weight[1] == pytest.approx(1 / 0.01**2)


@pytest.mark.parametrize("column, value", [("yes_bid", 1.2), ("yes_ask", -0.1), ("last_price", 55.0)])
def test_prices_outside_unit_interval_are_rejected(column: str, value: float) -> None:
    frame = ladder("greater", [1.0, 2.0, 3.0], None, [0.9, 0.5, 0.1])
    frame.loc[1, column] = value
    with pytest.raises(ValueError, match=column):
        implied_distribution(frame)


def test_quote_from_after_the_snapshot_is_rejected() -> None:
    frame = ladder("greater", [1.0, 2.0, 3.0], None, [0.9, 0.5, 0.1], quote_age_hours=[1.0, -0.5, 1.0])
    with pytest.raises(ValueError, match="look-ahead"):
        implied_distribution(frame)


def test_stale_and_missing_quotes_are_counted_not_used() -> None:
    frame = ladder("greater", [1.0, 2.0, 3.0, 4.0, 5.0], None, [0.95, 0.8, 0.5, 0.2, 0.05],
                   quote_age_hours=[0.5, 30.0, 0.5, NAN, 0.5])
    frame.loc[4, ["yes_bid", "yes_ask"]] = [0.0, 0.30]  # too wide, no trade
    row = row_of(frame)
    assert (row.n_quotes_used, row.n_excluded_stale, row.n_excluded_missing, row.n_excluded_unpriced) == (2, 1, 1, 1)
    assert row["status"] == "too_few_rungs"
    assert row["coverage_share"] == pytest.approx(0.4)


# --- direction -------------------------------------------------------------------------------------


def test_strike_type_codes() -> None:
    codes = strike_type_codes(["greater", " Greater_or_equal", "LESS", "less_or_equal", "between",
                               "custom", "functional", "structured", None, ""])
    assert list(codes) == [0, 1, 2, 3, 4, -1, -1, -1, -1, -1]


def test_greater_and_less_ladders_of_one_distribution_agree() -> None:
    k = np.array([1.0, 1.5, 2.0, 2.5, 3.0])
    s = np.array([0.95, 0.8, 0.5, 0.2, 0.05])
    up = row_of(ladder("greater", k, None, s))
    down = row_of(ladder("less_or_equal", None, k, 1 - s))
    mixed = row_of(ladder(["greater", "less_or_equal"] * 2 + ["greater"], k, k, [0.95, 0.2, 0.5, 0.8, 0.05]))
    assert up["direction"] == "survival" and down["direction"] == "cdf"
    assert mixed["direction"] == "survival_and_cdf"
    for col in ("mean", "std", "median", "q05", "q95"):
        assert up[col] == pytest.approx(down[col], abs=1e-12)
        assert up[col] == pytest.approx(mixed[col], abs=1e-12)


def test_one_strike_quoted_twice_is_pooled() -> None:
    k = [1.0, 2.0, 2.0, 3.0]
    row = row_of(ladder(["greater", "greater", "less_or_equal", "greater"], k, k, [0.9, 0.5, 0.4, 0.1]))
    assert row["n_quotes_used"] == 4 and row["n_bins"] == 4  # 3 distinct cuts -> 4 bins
    assert row["median"] == pytest.approx(2.0 + (0.5 - 0.45) / (0.9 - 0.45))  # S(2) pooled to 0.55


def test_unresolved_minority_lowers_confidence_majority_unresolves() -> None:
    k = [1.0, 2.0, 3.0, 4.0]
    row = row_of(ladder(["greater", "greater", "greater", "custom"], k, None, [0.9, 0.6, 0.3, 0.5]))
    assert row["status"] == "ok" and row["direction_confidence"] == pytest.approx(0.75)
    assert row["n_resolved"] == 3 and row["n_quotes_used"] == 3
    row = row_of(ladder(["greater", "custom", "functional", "structured"], k, None, [0.9, 0.6, 0.3, 0.5]))
    assert row["status"] == "direction_unresolved" and row["direction"] == "unresolved"
    assert row["direction_confidence"] == pytest.approx(0.25)


def test_strike_fields_must_fit_the_strike_type() -> None:
    # greater without floor, less without cap, between with floor > cap: all unresolved.
    frame = ladder(["greater", "less", "between"], [NAN, 1.0, 3.0], [2.0, NAN, 2.0], [0.5, 0.5, 0.5])
    row = row_of(frame)
    assert row["n_resolved"] == 0 and row["status"] == "direction_unresolved"


# --- repair and bins -------------------------------------------------------------------------------


def test_isotonic_repair_records_pre_and_adjustment() -> None:
    # Kalshi's GDP example: P(>=1%) = 0.82, P(>=1.5%) = 0.83.
    k = [0.5, 1.0, 1.5, 2.0, 2.5]
    row = row_of(ladder("greater_or_equal", k, None, [0.95, 0.82, 0.83, 0.40, 0.10]))
    assert row["monotonic_violations_pre"] == 1
    assert row["monotonic_violation_magnitude"] == pytest.approx(0.01)
    assert row["isotonic_adjustment_magnitude"] == pytest.approx(0.01)  # both pooled to 0.825
    assert row["violated_constraints_pre"] == "survival_monotone"
    assert row["violated_constraints_post"] == ""


def test_segmented_pav_simple_and_input_checks() -> None:
    y = np.array([0.9, 0.5, 0.6, 0.2, 0.3, 0.4, 0.1])
    seg = np.array([0, 0, 0, 0, 1, 1, 1])
    fitted = antitonic_regression_segments(y, np.ones(7), seg)
    np.testing.assert_allclose(fitted, [0.9, 0.55, 0.55, 0.2, 0.35, 0.35, 0.1])
    with pytest.raises(ValueError, match="sorted"):
        antitonic_regression_segments(y, np.ones(7), seg[::-1])
    with pytest.raises(ValueError, match="positive"):
        antitonic_regression_segments(y, np.zeros(7), seg)


def test_bins_from_ladder_tails_support_and_quantiles() -> None:
    k = np.array([1.0, 2.0, 3.0, 4.0])
    s = np.array([0.9, 0.6, 0.3, 0.1])
    result = implied_distribution(ladder("greater", k, None, s, spread=0.0))
    bins = result.bins
    np.testing.assert_allclose(bins["mass"], [0.1, 0.3, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(bins["lower_edge"], [-1.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(bins["upper_edge"], [1.0, 2.0, 3.0, 4.0, 6.0])
    # Open tails sit one adjacent-bin width beyond the outer strike.
    np.testing.assert_allclose(bins["support_point"], [0.0, 1.5, 2.5, 3.5, 5.0])
    row = result.snapshots.iloc[0]
    x = np.array([0.0, 1.5, 2.5, 3.5, 5.0])
    p = np.array([0.1, 0.3, 0.3, 0.2, 0.1])
    mean = p @ x
    sd = np.sqrt(p @ (x - mean) ** 2)
    assert row["mean"] == pytest.approx(mean)
    assert row["std"] == pytest.approx(sd)
    assert row["skew"] == pytest.approx(p @ (x - mean) ** 3 / sd**3)
    assert row["excess_kurtosis"] == pytest.approx(p @ (x - mean) ** 4 / sd**4 - 3)
    # q_a = k_i + (a - F_i) / (F_i+1 - F_i) * (k_i+1 - k_i) between strikes.
    assert row["median"] == pytest.approx(2.0 + (0.5 - 0.4) / 0.3)
    assert row["q25"] == pytest.approx(1.0 + (0.25 - 0.1) / 0.3)
    assert row["q05"] == pytest.approx(-1.0 + 0.05 / 0.1 * 2.0)  # inside the lower tail bin
    assert row["tail_mass_lower"] == pytest.approx(0.1) and row["tail_mass"] == pytest.approx(0.2)
    assert row["renormalization_delta"] == 0.0


def test_bins_validation_overlap_gap_nesting() -> None:
    def bins_row(floors, caps, mids):
        return row_of(ladder("between", floors, caps, mids, spread=0.0))

    clean = bins_row([1.0, 2.0, 3.0], [1.9, 2.9, 3.9], [0.3, 0.4, 0.3])
    assert clean["violated_constraints_post"] == "" and not clean["quality_low"]
    assert clean["value_grid"] == pytest.approx(0.1)
    assert clean["mean"] == pytest.approx(0.3 * 1.45 + 0.4 * 2.45 + 0.3 * 3.45)

    overlap = bins_row([1.0, 1.5, 3.0], [1.9, 2.9, 3.9], [0.3, 0.4, 0.3])
    assert overlap["bin_overlap_count"] == 1 and "bins_disjoint" in overlap["violated_constraints_post"]

    gap = bins_row([1.0, 2.0, 5.0], [1.9, 2.9, 5.9], [0.3, 0.4, 0.3])
    assert gap["bin_gap_count"] == 1 and "bins_contiguous" in gap["violated_constraints_post"]
    # Gap of width 2.0 between densities 0.4/1.0 and 0.3/1.0: about 0.7 of mass unaccounted.
    assert gap["bin_gap_mass_estimate"] == pytest.approx(0.7, rel=0.01)

    nested = bins_row([1.0, 1.2, 3.0], [2.9, 1.5, 3.9], [0.3, 0.4, 0.3])
    assert not nested["bin_support_is_ordered"]
    assert "bins_ordered" in nested["violated_constraints_post"]
    for bad in (overlap, gap, nested):
        assert bad["quality_low"] and bad["quality_score"] < 0.5 * clean["quality_score"] + 1e-9


def test_overround_is_renormalized_and_flagged() -> None:
    row = row_of(ladder("between", [1.0, 2.0, 3.0], [1.9, 2.9, 3.9], [0.35, 0.45, 0.35], spread=0.0))
    assert row["renormalization_delta"] == pytest.approx(0.15)
    assert row["violated_constraints_pre"] == "masses_sum_to_one"
    assert row["violated_constraints_post"] == ""


def test_weather_style_bins_with_open_tails_and_integer_grid() -> None:
    frame = ladder(["less", "between", "between", "greater"], [NAN, 70.0, 72.0, 73.0],
                   [70.0, 71.0, 73.0, NAN], [0.1, 0.4, 0.4, 0.1], spread=0.0)
    # "between" is inclusive on both ends; X < 70, 70-71, 72-73, X > 73 leave nothing out.
    row = row_of(frame)
    assert row["value_grid"] == pytest.approx(1.0)
    assert row["bin_gap_count"] == 0 and row["bin_overlap_count"] == 0
    assert row["tail_mass"] == pytest.approx(0.2)
    assert row["mean"] == pytest.approx(71.5)


def test_value_grid_moves_cuts_by_tie_rule() -> None:
    k = np.array([2.9, 3.0, 3.1])
    gt = implied_distribution(ladder("greater", k, None, [0.8, 0.5, 0.2]), value_grid=0.1).bins
    ge = implied_distribution(ladder("greater_or_equal", k + 0.1, None, [0.8, 0.5, 0.2]), value_grid=0.1).bins
    # X > 2.9 is X >= 3.0 on a 0.1 grid: the same bins.
    np.testing.assert_allclose(gt["upper_edge"], ge["upper_edge"])
    np.testing.assert_allclose(gt["upper_edge"][:3], [2.95, 3.05, 3.15])


# --- frames, keys, params ---------------------------------------------------------------------------


def test_rungs_are_tied_to_snapshots_by_exact_keys() -> None:
    frame = ladder("greater", [1.0, 2.0, 3.0], None, [0.9, 0.5, 0.1])
    rungs = frame.assign(event_ticker="KXCPI-26SEP", snapshot_ts=pd.Timestamp("2026-09-01 10:00"))
    snaps = pd.DataFrame({"event_ticker": ["KXCPI-26SEP", "KXCPI-26OCT"],
                          "snapshot_ts": pd.Timestamp("2026-09-01 10:00")})
    result = implied_distributions(rungs, snaps)
    assert list(result.snapshots["status"]) == ["ok", "empty_ladder"]
    assert set(result.bins["event_ticker"]) == {"KXCPI-26SEP"}
    with pytest.raises(ValueError, match="belong to no snapshot"):
        implied_distributions(rungs.assign(event_ticker="KXCPI-26SE"), snaps)
    with pytest.raises(ValueError, match="duplicate keys"):
        implied_distributions(rungs, pd.concat([snaps, snaps]))
    with pytest.raises(ValueError, match="snapshot_id"):
        implied_distributions(frame.assign(snapshot_id=5), snaps)
    with pytest.raises(ValueError, match="lacks columns"):
        implied_distributions(rungs.drop(columns=["yes_bid"]), snaps)


def test_snapshot_id_path_equals_key_path() -> None:
    frame = ladder("greater", [1.0, 2.0, 3.0], None, [0.9, 0.5, 0.1])
    snaps = pd.DataFrame({"event_ticker": ["A", "B"], "snapshot_ts": pd.Timestamp("2026-01-01")})
    by_key = implied_distributions(frame.assign(event_ticker="B", snapshot_ts=pd.Timestamp("2026-01-01")), snaps)
    by_id = implied_distributions(frame.assign(snapshot_id=1), snaps)
    pd.testing.assert_frame_equal(by_key.snapshots, by_id.snapshots)
    pd.testing.assert_frame_equal(by_key.bins, by_id.bins)


@pytest.mark.parametrize("field, value", [("max_spread", 0.0), ("min_rungs", 1), ("min_quality", 1.5),
                                          ("value_grid", -0.1), ("max_staleness_hours", float("nan"))])
def test_bad_params_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        DistributionParams(**{field: value})


def test_quality_ingredients_move_the_score() -> None:
    k = [1.0, 2.0, 3.0, 4.0, 5.0]
    s = [0.95, 0.8, 0.5, 0.2, 0.05]
    tight = row_of(ladder("greater", k, None, s, spread=0.01, open_interest=500.0))
    wide = row_of(ladder("greater", k, None, s, spread=0.09, open_interest=500.0))
    old = row_of(ladder("greater", k, None, s, spread=0.01, open_interest=500.0, quote_age_hours=5.5))
    thin = row_of(ladder("greater", k, None, s, spread=0.01, open_interest=5.0))
    heavy_tails = row_of(ladder("greater", k, None, [0.7, 0.6, 0.5, 0.4, 0.3], spread=0.01, open_interest=500.0))
    assert tight["quality_score"] > wide["quality_score"]
    assert tight["quality_score"] > old["quality_score"]
    assert tight["quality_score"] > thin["quality_score"]
    assert tight["quality_score"] > heavy_tails["quality_score"]
    assert heavy_tails["tail_mass"] == pytest.approx(0.6)
    assert tight["median_depth"] == 500.0 and tight["median_spread"] == pytest.approx(0.01)
    assert 0.9 < tight["quality_score"] <= 1.0 and not tight["quality_low"]
