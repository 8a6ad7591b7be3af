"""Promotion gates: Sharpe, PSR, DSR, MinTRL, drawdown and the per-event-type stress gate (fails closed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from kalshi_assets.analytics.promotion import (
    EULER_GAMMA,
    Deflation,
    decide,
    decide_candidates,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    max_drawdown,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    regime_performance,
    sharpe_ratio,
    skew_and_kurtosis,
    stress_gate,
)
from kalshi_assets.settings import EVENT_TYPES, GateLimits

LIMITS = GateLimits()


def test_sharpe_and_its_edge_cases():
    assert sharpe_ratio([0.01, 0.03]) == pytest.approx(0.02 / np.std([0.01, 0.03], ddof=1))
    assert sharpe_ratio([0.0, 0.0, 0.0]) == 0.0  # a value, not missing
    assert math.isnan(sharpe_ratio([0.01, 0.01]))  # zero variance with a profit: undefined
    assert math.isnan(sharpe_ratio([0.01]))
    with pytest.raises(ValueError):
        sharpe_ratio([0.1, float("nan")])


def test_psr_matches_the_formula():
    sr, n, g3, g4 = 0.1, 101, -0.5, 5.0
    expected = norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert probabilistic_sharpe_ratio(sr, n, g3, g4) == pytest.approx(expected)
    assert probabilistic_sharpe_ratio(0.0, 50) == pytest.approx(0.5)
    assert math.isnan(probabilistic_sharpe_ratio(0.1, 1))


def test_deflated_sharpe_uses_expected_max_over_trials():
    trials = [0.05, 0.1, -0.02, 0.2, 0.0]
    variance = np.var(trials, ddof=1)
    n = len(trials)
    sr0 = math.sqrt(variance) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n) + EULER_GAMMA * norm.ppf(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, variance) == pytest.approx(sr0)
    dsr, got_sr0 = deflated_sharpe_ratio(0.2, 200, 0.0, 3.0, n, variance)
    assert got_sr0 == pytest.approx(sr0)
    assert dsr == pytest.approx(probabilistic_sharpe_ratio(0.2, 200, 0.0, 3.0, sr0))
    # More trials with the same spread raise the bar; fewer effective trials lower it.
    assert deflated_sharpe_ratio(0.2, 200, 0.0, 3.0, 100, variance)[0] < dsr
    assert deflated_sharpe_ratio(0.2, 200, 0.0, 3.0, 2, variance)[0] > dsr
    # One trial: no deflation.
    assert deflated_sharpe_ratio(0.2, 200, 0.0, 3.0, 1, variance) == (probabilistic_sharpe_ratio(0.2, 200), 0.0)


@given(sr=st.floats(0.02, 1.0), g3=st.floats(-1, 1), g4=st.floats(2, 10), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_psr_at_the_minimum_track_record_length_is_one_minus_alpha(sr, g3, g4, alpha):
    if 1 - g3 * sr + (g4 - 1) / 4 * sr**2 <= 0:
        return
    length = min_track_record_length(sr, g3, g4, 0.0, alpha)
    assert probabilistic_sharpe_ratio(sr, length, g3, g4) == pytest.approx(1 - alpha, abs=1e-9)


def test_min_trl_is_infinite_without_an_edge():
    assert min_track_record_length(0.0, 0.0, 3.0) == math.inf
    assert min_track_record_length(-0.1, 0.0, 3.0) == math.inf


def test_max_drawdown():
    assert max_drawdown([0.1, -0.5, 0.2]) == pytest.approx(0.55 / 1.1 - 1)
    assert max_drawdown([0.1, 0.2]) == 0.0
    assert max_drawdown([]) == 0.0
    assert max_drawdown([-0.2]) == pytest.approx(-0.2)


@given(st.lists(st.floats(-0.99, 2.0), min_size=1, max_size=60))
def test_max_drawdown_is_between_minus_one_and_zero_and_matches_a_loop(returns):
    equity, peak, worst = 1.0, 1.0, 0.0
    for r in returns:
        equity *= 1 + r
        peak = max(peak, equity)
        worst = min(worst, equity / peak - 1)
    assert max_drawdown(returns) == pytest.approx(worst, abs=1e-12)
    assert -1.0 <= max_drawdown(returns) <= 0.0


def test_skew_and_kurtosis_of_a_symmetric_sample():
    g3, g4 = skew_and_kurtosis([-1.0, 1.0] * 10)
    assert g3 == pytest.approx(0.0) and g4 == pytest.approx(1.0)


def trades_for(per_type: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"event_type": t, "bankroll_return": r} for t, rs in per_type.items() for r in rs]
    return pd.DataFrame(rows, columns=["event_type", "bankroll_return"])


def good_returns(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(0.01 + rng.normal(0, 0.005, n))


def test_a_regime_with_sharpe_zero_is_reported_not_dropped():
    per_type = {t: good_returns(10, i) for i, t in enumerate(EVENT_TYPES)}
    per_type["GDP"] = [0.01, -0.01] * 5  # mean 0, Sharpe exactly 0
    regimes = regime_performance(trades_for(per_type))
    assert list(regimes["event_type"]) == list(EVENT_TYPES)
    gdp = regimes.set_index("event_type").loc["GDP"]
    assert gdp["sharpe"] == 0.0 and gdp["mean_return"] == 0.0 and gdp["trade_count"] == 10
    results = {g.gate: g for g in stress_gate(regimes, EVENT_TYPES, LIMITS)}
    assert results["stress:GDP"].value == 0.0
    assert results["stress:GDP"].passed  # 0 >= the -0.5 regime limit: judged as a value
    assert "Sharpe 0.000" in results["stress:GDP"].reason


def test_a_candidate_that_loses_in_one_event_type_fails_the_stress_gate():
    per_type = {t: good_returns(12, i) for i, t in enumerate(EVENT_TYPES)}
    rng = np.random.default_rng(99)
    per_type["FOMC"] = list(-0.02 + rng.normal(0, 0.01, 12))
    regimes = regime_performance(trades_for(per_type))
    all_returns = [r for rs in per_type.values() for r in rs]
    decision = decide("c", all_returns, regimes, LIMITS, pbo=0.1)
    gates = {g.gate: g for g in decision.gates}
    assert not gates["stress:FOMC"].passed
    assert "FOMC" in gates["stress:FOMC"].reason and "Sharpe" in gates["stress:FOMC"].reason
    assert all(gates[f"stress:{t}"].passed for t in EVENT_TYPES if t != "FOMC")
    assert not decision.promoted
    assert any("FOMC" in reason for reason in decision.reasons)


def test_a_candidate_without_regime_data_fails_with_a_reason():
    returns = good_returns(60, 1)
    for regimes in (None, pd.DataFrame(columns=["event_type", "trade_count", "mean_return", "sharpe", "max_drawdown"])):
        decision = decide("c", returns, regimes, LIMITS, pbo=0.1)
        stress = [g for g in decision.gates if g.gate.startswith("stress")]
        assert stress and not any(g.passed for g in stress)
        assert not decision.promoted
        assert any("missing" in reason for reason in decision.reasons)


def test_a_regime_without_trades_or_too_few_fails_closed():
    per_type = {t: good_returns(10, i) for i, t in enumerate(EVENT_TYPES)}
    per_type["PAYROLLS"] = []
    per_type["GDP"] = good_returns(3, 5)
    results = {g.gate: g for g in stress_gate(regime_performance(trades_for(per_type)), EVENT_TYPES, LIMITS)}
    assert not results["stress:PAYROLLS"].passed and "no out-of-sample trades" in results["stress:PAYROLLS"].reason
    assert not results["stress:GDP"].passed and "too few" in results["stress:GDP"].reason
    assert results["stress:CPI"].passed


def test_a_strong_candidate_is_promoted_and_says_why():
    per_type = {t: good_returns(20, i) for i, t in enumerate(EVENT_TYPES)}
    returns = [r for rs in per_type.values() for r in rs]
    deflation = Deflation(n_trials=3, sharpe_variance=float(np.var([sharpe_ratio(returns), 0.1, 0.0], ddof=1)),
                          n_trials_raw=5)
    regimes = regime_performance(trades_for(per_type))
    decision = decide("c", returns, regimes, LIMITS, deflation=deflation, pbo=0.1)
    assert decision.promoted, decision.reasons
    assert decision.reasons == ["all gates passed"]
    assert {g.gate for g in decision.gates} >= {"min_trades", "sharpe", "psr", "dsr", "pbo", "max_drawdown"}
    assert "3 effective of 5 candidates" in next(g.reason for g in decision.gates if g.gate == "dsr")
    assert decision.stats["min_trl"] < len(returns)
    # The family's PBO decides for every member: at 0.5 the selection is a coin flip, and fails.
    overfit = decide("c", returns, regimes, LIMITS, deflation=deflation, pbo=0.5)
    assert not overfit.promoted and any("PBO" in reason for reason in overfit.reasons)
    undefined = decide("c", returns, regimes, LIMITS, deflation=deflation)
    assert not undefined.promoted and any("PBO of the candidate family undefined" in r for r in undefined.reasons)


def test_too_few_trades_and_undefined_sharpe_fail():
    decision = decide("c", [0.01, 0.01], None, LIMITS, pbo=0.1)
    gates = {g.gate: g for g in decision.gates}
    assert not gates["min_trades"].passed
    assert not gates["sharpe"].passed and "undefined" in gates["sharpe"].reason
    assert not decision.promoted


@settings(max_examples=40, deadline=None)
@given(
    returns=st.lists(st.floats(-0.05, 0.05), min_size=0, max_size=80),
    types=st.lists(st.sampled_from(EVENT_TYPES), min_size=80, max_size=80),
)
def test_every_expected_regime_gets_exactly_one_verdict(returns, types):
    trades = pd.DataFrame({"event_type": types[: len(returns)], "bankroll_return": returns})
    regimes = regime_performance(trades)
    results = stress_gate(regimes, EVENT_TYPES, LIMITS)
    assert [g.gate for g in results] == [f"stress:{t}" for t in EVENT_TYPES]
    counts = trades["event_type"].value_counts()
    for g, t in zip(results, EVENT_TYPES, strict=True):
        assert g.reason
        if counts.get(t, 0) < LIMITS.regime_min_trades:
            assert not g.passed


def test_decide_candidates_counts_every_candidate_tried_and_reports_regimes():
    rows = []
    for i, t in enumerate(EVENT_TYPES):
        for j, r in enumerate(good_returns(15, i)):
            rows.append({"candidate": "good", "event_ticker": f"{t}-{j}", "event_type": t,
                         "release_time": pd.Timestamp("2025-01-01") + pd.Timedelta(days=30 * j + i),
                         "bankroll_return": r})
    rows.append({"candidate": "one_trade", "event_ticker": "CPI-0", "event_type": "CPI",
                 "release_time": pd.Timestamp("2025-01-01"), "bankroll_return": 0.01})
    traces = pd.DataFrame(rows)
    periods = traces[["event_ticker", "release_time"]].drop_duplicates("event_ticker")
    family = decide_candidates(["good", "one_trade", "silent"], traces, EVENT_TYPES, LIMITS, periods)
    decisions, gates, regimes = family.decisions, family.gates, family.regimes
    by_name = decisions.set_index("candidate")
    assert (by_name["n_trials"] == 3).all() and (by_name["n_trials_effective"] == 3).all()
    # One clearly better candidate among three: the selection generalizes.
    assert by_name["pbo"].iloc[0] < LIMITS.max_pbo and len(family.pbo_combinations) == math.comb(16, 8)
    assert by_name.loc["good", "promoted"], by_name.loc["good", "reasons"]
    assert not by_name.loc["silent", "promoted"] and by_name.loc["silent", "trades"] == 0
    assert "missing" in by_name.loc["silent", "reasons"]
    assert not by_name.loc["one_trade", "promoted"]
    # Every candidate has a regime row per event type, zero-trade regimes included.
    assert len(regimes) == 3 * len(EVENT_TYPES)
    assert (regimes[regimes["candidate"] == "silent"]["trade_count"] == 0).all()
    assert set(gates[gates["candidate"] == "silent"]["gate"]) >= {f"stress:{t}" for t in EVENT_TYPES}


def test_failing_gate_counts_and_judgement_problems():
    from kalshi_assets.analytics.promotion import candidates_failing_each_gate, judgement_problems

    gates = pd.DataFrame({
        "candidate": ["a", "a", "a", "a", "b", "b", "b", "b"],
        "gate": ["dsr", "pbo", "stress:CPI", "stress:GDP", "dsr", "pbo", "stress:CPI", "stress:GDP"],
        "passed": [True, True, True, True, False, True, False, False],
    })
    counts = candidates_failing_each_gate(gates).set_index("gate")["candidates_failing"].to_dict()
    assert counts == {"dsr": 1, "stress": 1}
    decisions = pd.DataFrame({"candidate": ["a", "b"], "promoted": [True, False]})
    assert judgement_problems(["a", "b"], decisions, gates, ["CPI", "GDP"]) == []
    problems = judgement_problems(["a", "b", "c"], decisions.assign(promoted=[False, True]), gates, ["CPI", "FOMC"])
    assert "c: no decision" in problems
    assert any("FOMC" in p for p in problems) and any("disagrees" in p for p in problems)
