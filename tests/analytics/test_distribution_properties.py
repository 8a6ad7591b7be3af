"""Property tests: ladders drawn from known distributions, with noise and injected violations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.optimize import isotonic_regression

from kalshi_assets.analytics.distribution import (
    REQUIRED_RUNG_COLUMNS,
    antitonic_regression_segments,
    implied_distribution,
    implied_distributions,
)
from kalshi_assets.analytics.snapshot_schema import (
    SNAPSHOT_COLUMNS,
    STATUS_OK,
    validate_bins_frame,
    validate_snapshot_frame,
)
from tests.analytics.distribution_ladders import (
    RUNG_DEFAULTS,
    quotes_from_probabilities,
    strike_grid,
    threshold_ladder,
)

# Stated tolerances, in units of the true standard deviation sigma.
# Clean ladders: noise <= 1c, cent-rounded books 1-4c wide, strikes every 0.2-0.5 sigma from just below the
# 0.5% quantile to just above the 99.5% one (strike_grid: up to one step beyond each). The error comes from the
# open tails: there a 3-4c book's mid overstates a ~0.1% tail several times over, and the tail's mass sits one
# strike width beyond the outer strike (docs/METHODS.md, support points). Worst of 5,000 draws at the coarse
# corner (spacing 0.4-0.5 sigma, noise 1c, spreads 3-4c): sd off by 16.9%, mean by 0.062 sigma, median by 0.091.
MEAN_TOL_CLEAN = 0.08
SD_REL_TOL_CLEAN = 0.20    # |sd_hat / sd - 1|
MEDIAN_TOL_CLEAN = 0.12
# Plus up to 3 rungs bumped by up to 5c (monotonicity broken). Worst of 2,000 draws at the same corner with 5c
# bumps: sd off by 29.3%, mean by 0.114 sigma.
MEAN_TOL_VIOLATED = 0.15
SD_REL_TOL_VIOLATED = 0.35
DISCRETE_TOL = 0.03        # absolute, values on a 0.1 grid, noise <= 0.5c

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _continuous(kind: str, loc: float, scale: float, shape: float):
    if kind == "normal":
        return stats.norm(loc, scale)
    return stats.skewnorm(shape, loc, scale)


def _check_repaired(result) -> pd.Series:
    """Monotone repaired survival function, masses summing to 1, full schema; return the row."""
    assert validate_snapshot_frame(result.snapshots) == []
    assert validate_bins_frame(result.bins) == []
    bins = result.bins.sort_values("bin_index")
    assert np.all(np.diff(bins["survival_upper"].to_numpy()) <= 1e-12)
    assert abs(bins["mass"].sum() - 1.0) < 1e-9
    assert (bins["mass"] >= 0).all()
    assert list(result.snapshots.columns) == list(SNAPSHOT_COLUMNS)
    return result.snapshots.iloc[0]


ladder_draw = st.fixed_dictionaries({
    "kind": st.sampled_from(["normal", "skewed"]),
    "loc": st.floats(-1.0, 5.0),
    "scale": st.floats(0.1, 1.0),
    "shape": st.floats(2.0, 8.0),
    "spacing": st.floats(0.2, 0.5),
    "noise": st.floats(0.0, 0.01),
    "spread": st.sampled_from([0.01, 0.02, 0.03, 0.04]),
    "strike_type": st.sampled_from(["greater", "greater_or_equal", "less", "less_or_equal"]),
    "seed": st.integers(0, 2**31 - 1),
})


@PROPERTY_SETTINGS
@given(draw=ladder_draw)
# Found by Hypothesis in a full run of the suite: rungs at +-3 sigma quoted 0-3c (the true tails are 0.13%)
# put 1.5% of mass at +-3.5 sigma each side: sd 13.6% high.
@example(draw={"kind": "normal", "loc": 0.0, "scale": 1.0, "shape": 2.0, "spacing": 0.5, "noise": 0.0078125,
               "spread": 0.04, "strike_type": "greater", "seed": 1073549})
def test_continuous_ladder_recovers_mean_and_sd(draw: dict) -> None:
    dist = _continuous(draw["kind"], draw["loc"], draw["scale"], draw["shape"])
    rng = np.random.default_rng(draw["seed"])
    sd = dist.std()
    step = max(0.01, round(sd * draw["spacing"], 2))
    strikes = strike_grid(dist.ppf(0.005), dist.ppf(0.995), step)
    ladder = threshold_ladder(strikes, dist.sf(strikes), rng, draw["noise"], draw["spread"],
                              strike_type=draw["strike_type"])
    row = _check_repaired(implied_distribution(ladder))
    assert row["status"] == STATUS_OK
    assert abs(row["mean"] - dist.mean()) <= MEAN_TOL_CLEAN * sd
    assert abs(row["std"] / sd - 1.0) <= SD_REL_TOL_CLEAN
    assert row["q05"] <= row["q25"] <= row["median"] <= row["q75"] <= row["q95"]
    assert abs(row["median"] - dist.median()) <= MEDIAN_TOL_CLEAN * sd


@PROPERTY_SETTINGS
@given(draw=ladder_draw, violations=st.integers(1, 3), bump=st.floats(0.01, 0.05))
def test_violated_ladder_is_repaired_and_close(draw: dict, violations: int, bump: float) -> None:
    dist = _continuous(draw["kind"], draw["loc"], draw["scale"], draw["shape"])
    rng = np.random.default_rng(draw["seed"])
    sd = dist.std()
    step = max(0.01, round(sd * draw["spacing"], 2))
    strikes = strike_grid(dist.ppf(0.005), dist.ppf(0.995), step)
    ladder = threshold_ladder(strikes, dist.sf(strikes), rng, draw["noise"], draw["spread"],
                              violations=violations, bump=bump, strike_type=draw["strike_type"])
    row = _check_repaired(implied_distribution(ladder))
    assert row["violated_constraints_post"] == ""
    if row["monotonic_violations_pre"] > 0:
        assert "survival_monotone" in row["violated_constraints_pre"]
        assert row["isotonic_adjustment_magnitude"] > 0
    assert abs(row["mean"] - dist.mean()) <= MEAN_TOL_VIOLATED * sd
    assert abs(row["std"] / sd - 1.0) <= SD_REL_TOL_VIOLATED


@PROPERTY_SETTINGS
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=15).filter(lambda w: sum(w) > 0.05),
    start_tenths=st.integers(-20, 60),
    strike_type=st.sampled_from(["greater", "greater_or_equal", "less", "less_or_equal"]),
    noise=st.floats(0.0, 0.005),
    violations=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
)
@example(weights=[0.0, 1.0, 0.0, 0.0, 0.0], start_tenths=0, strike_type="greater", noise=6.103515625e-05,
         violations=0, seed=0)
def test_discrete_grid_ladder(weights, start_tenths, strike_type, noise, violations, seed) -> None:
    """Outcomes on a 0.1 grid; each tie rule quotes a different CDF point, all must agree."""
    rng = np.random.default_rng(seed)
    pmf = np.asarray(weights) / np.sum(weights)
    values = np.round((start_tenths + np.arange(len(pmf))) / 10, 10)
    mean = float(pmf @ values)
    sd = float(np.sqrt(pmf @ (values - mean) ** 2))
    # Strikes one grid step beyond both ends so the open tails carry no mass.
    strikes = np.round((start_tenths - 1 + np.arange(len(pmf) + 2)) / 10, 10)
    cdf_le = np.array([pmf[values <= k + 1e-9].sum() for k in strikes])   # P(X <= k)
    cdf_lt = np.array([pmf[values < k - 1e-9].sum() for k in strikes])    # P(X < k)
    survival = {"greater": 1 - cdf_le, "greater_or_equal": 1 - cdf_lt,
                "less": 1 - cdf_lt, "less_or_equal": 1 - cdf_le}[strike_type]
    ladder = threshold_ladder(strikes, survival, rng, noise, 0.0, violations=violations, bump=0.02,
                              strike_type=strike_type)
    row = _check_repaired(implied_distribution(ladder, value_grid=0.1))
    assert row["status"] == STATUS_OK and row["value_grid"] == pytest.approx(0.1)
    assert abs(row["mean"] - mean) <= DISCRETE_TOL + 0.02 * violations
    # Quote noise leaks mass one grid step (0.1) away from each rung: for a near point mass that alone
    # gives an sd of about 0.1 * sqrt(2 * rungs * noise), so the stated tolerance grows with the noise.
    leaked_sd = 0.1 * np.sqrt(2 * len(strikes) * noise)
    # Quotes are whole cents clipped to [0, 1]: once any noise moves a rung within half a cent of 0 or 1,
    # it is quoted [0, 1c] or [99c, 1] and its mid is off by up to half a cent, always toward the inside.
    # Those one-sided errors do not cancel; each moves E[(X - mean)^2] by about 0.005 * 0.1 * (2|k - mean| + 0.1)
    # (hypothesis found a point mass at 0.1 quoted with noise 6e-5: sd 0.0335).
    near_bound = np.minimum(survival, 1 - survival) < 0.005
    clipped_var = 0.005 * 0.1 * np.sum((2 * np.abs(strikes - mean) + 0.1)[near_bound]) if noise > 0 else 0.0
    assert abs(row["std"] - sd) <= DISCRETE_TOL + 0.03 * violations + leaked_sd + np.sqrt(clipped_var)


def test_discrete_grid_exact_without_noise() -> None:
    values = np.array([2.8, 2.9, 3.0, 3.1, 3.2])
    pmf = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    strikes = np.array([2.7, 2.8, 2.9, 3.0, 3.1, 3.2])
    survival = np.clip([pmf[values > k + 1e-9].sum() for k in strikes], 0.0, 1.0)
    ladder = pd.DataFrame({"strike_type": "greater", "floor_strike": strikes, "cap_strike": np.nan,
                           "yes_bid": survival, "yes_ask": survival, **RUNG_DEFAULTS})
    row = implied_distribution(ladder, value_grid=0.1).snapshots.iloc[0]
    assert row["mean"] == pytest.approx(3.0, abs=1e-12)
    assert row["std"] == pytest.approx(np.sqrt(pmf @ (values - 3.0) ** 2), abs=1e-12)
    assert row["tail_mass"] == pytest.approx(0.0, abs=1e-12)
    # Without the grid the midpoints sit half a step low: the grid is what makes it exact.
    row_cont = implied_distribution(ladder).snapshots.iloc[0]
    assert row_cont["mean"] == pytest.approx(2.95, abs=1e-12)


@PROPERTY_SETTINGS
@given(
    loc=st.floats(0.0, 5.0),
    scale=st.floats(0.2, 1.0),
    overround=st.floats(0.9, 1.15),
    noise=st.floats(0.0, 0.005),
    seed=st.integers(0, 2**31 - 1),
)
def test_bin_ladder_renormalized(loc, scale, overround, noise, seed) -> None:
    """Mutually exclusive bins on a 0.1 grid with open tails, quoted with an overround."""
    rng = np.random.default_rng(seed)
    dist = stats.norm(loc, scale)
    floors = strike_grid(dist.ppf(0.01), dist.ppf(0.99), 0.2)
    caps = np.round(floors + 0.1, 10)
    # A 0.1-grid outcome x is reported when the latent value rounds to it.
    p_between = dist.cdf(caps + 0.05) - dist.cdf(floors - 0.05)
    p_low = dist.cdf(floors[0] - 0.05)
    p_high = dist.sf(caps[-1] + 0.05)
    quoted = np.concatenate([[p_low], p_between, [p_high]]) * overround
    bid, ask = quotes_from_probabilities(np.clip(quoted, 0, 1), rng, noise, 0.0)
    ladder = pd.DataFrame({
        "strike_type": ["less", *["between"] * len(floors), "greater"],
        "floor_strike": [np.nan, *floors, caps[-1]],
        "cap_strike": [floors[0], *caps, np.nan],
        "yes_bid": bid, "yes_ask": ask, **RUNG_DEFAULTS,
    }).sample(frac=1.0, random_state=seed % 1000)
    assume(np.sum((bid + ask) / 2) > 0.5)
    row = _check_repaired(implied_distribution(ladder))
    assert row["direction"] == "bins"
    assert row["value_grid"] == pytest.approx(0.1)  # inferred from cap -> next floor steps
    assert row["bin_overlap_count"] == 0 and row["bin_gap_count"] == 0
    assert row["renormalization_delta"] == pytest.approx(np.sum((bid + ask) / 2) - 1.0, abs=1e-9)
    assert row["violated_constraints_post"] == ""
    assert abs(row["mean"] - loc) <= 0.1 * scale + 0.02
    assert abs(row["std"] / dist.std() - 1) <= 0.2


@settings(max_examples=80, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 5), st.floats(0.0, 1.0), st.floats(0.01, 100.0)), min_size=0, max_size=60
    )
)
def test_segmented_pav_matches_scipy(data) -> None:
    data = sorted(data, key=lambda t: t[0])  # stable: keeps order within a segment
    seg = np.array([t[0] for t in data], dtype=np.int64)
    y = np.array([t[1] for t in data])
    w = np.array([t[2] for t in data])
    fitted = antitonic_regression_segments(y, w, seg)
    for s in np.unique(seg):
        m = seg == s
        expected = isotonic_regression(y[m], weights=w[m], increasing=False).x
        np.testing.assert_allclose(fitted[m], expected, atol=1e-10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=8))
def test_many_snapshots_equal_one_at_a_time(seeds) -> None:
    """The vectorized core gives every snapshot the row it gets alone (no leak between segments)."""
    ladders = []
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        dist = stats.norm(rng.uniform(0, 4), rng.uniform(0.2, 1.0))
        strikes = strike_grid(dist.ppf(0.01), dist.ppf(0.99), 0.25)[: int(rng.integers(0, 12))]
        ladder = threshold_ladder(strikes, dist.sf(strikes), rng, 0.01, 0.02, violations=int(rng.integers(0, 3)),
                                  strike_type=str(rng.choice(["greater", "less", "between", "custom"])))
        ladders.append(ladder.assign(event_ticker=f"E{i}", snapshot_ts=pd.Timestamp("2026-01-01")))
    rungs = pd.concat(ladders, ignore_index=True)
    snapshots = pd.DataFrame({"event_ticker": [f"E{i}" for i in range(len(seeds))],
                              "snapshot_ts": pd.Timestamp("2026-01-01")})
    together = implied_distributions(rungs, snapshots)
    assert validate_snapshot_frame(together.snapshots, ["event_ticker", "snapshot_ts"]) == []
    assert validate_bins_frame(together.bins, ["event_ticker", "snapshot_ts"]) == []
    for i, ladder in enumerate(ladders):
        alone = implied_distribution(ladder.drop(columns=["event_ticker", "snapshot_ts"]))
        pd.testing.assert_series_equal(
            together.snapshots.iloc[i][list(SNAPSHOT_COLUMNS)], alone.snapshots.iloc[0], check_names=False
        )


rung_strategy = st.fixed_dictionaries({
    "strike_type": st.sampled_from(["greater", "greater_or_equal", "less", "less_or_equal", "between",
                                    "custom", "functional", "structured", None, "GREATER"]),
    "floor_strike": st.one_of(st.none(), st.floats(-5, 5)),
    "cap_strike": st.one_of(st.none(), st.floats(-5, 5)),
    "yes_bid": st.one_of(st.none(), st.floats(0, 1)),
    "yes_ask": st.one_of(st.none(), st.floats(0, 1)),
    "last_price": st.one_of(st.none(), st.floats(0, 1)),
    "quote_age_hours": st.one_of(st.none(), st.floats(0, 48)),
    "last_trade_age_hours": st.one_of(st.none(), st.floats(0, 48)),
})


@settings(max_examples=150, deadline=None)
@given(rungs=st.lists(rung_strategy, max_size=12), grid=st.sampled_from([None, 0.0, 0.1, 0.25]))
def test_every_path_has_the_full_schema(rungs, grid) -> None:
    """Arbitrary ladders (junk types, missing strikes, missing sides) never lose a column."""
    frame = pd.DataFrame(rungs, columns=list(REQUIRED_RUNG_COLUMNS)) if rungs else pd.DataFrame()
    result = implied_distribution(frame, value_grid=grid)
    assert list(result.snapshots.columns) == list(SNAPSHOT_COLUMNS)
    assert len(result.snapshots) == 1
    assert validate_snapshot_frame(result.snapshots) == []
    assert validate_bins_frame(result.bins) == []
    row = result.snapshots.iloc[0]
    if row["status"] != STATUS_OK:
        assert row["quality_low"] and row["quality_score"] == 0
        assert np.isnan(row["mean"]) and result.bins.empty


