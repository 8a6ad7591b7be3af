"""PBO by CSCV against a literal reference and known answers; effective trials; the returns matrix."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from kalshi_assets.analytics.overfitting import (
    cluster_sharpe_variance,
    effective_trials,
    pbo_blocks,
    probability_of_backtest_overfitting,
    returns_matrix,
)


def reference_pbo(matrix: np.ndarray, n_blocks: int) -> float:
    """A second, literal reading of Bailey et al.'s CSCV: loop over the combinations, slice the rows,
    pick the in-sample best by Sharpe (pandas), rank it out of sample (scipy), count logits <= 0."""
    frame = pd.DataFrame(matrix)
    blocks = np.array_split(np.arange(len(frame)), n_blocks)
    logits = []
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        rows_in = np.concatenate([blocks[b] for b in chosen])
        rows_out = np.concatenate([blocks[b] for b in range(n_blocks) if b not in chosen])
        sharpe_in = frame.iloc[rows_in].mean() / frame.iloc[rows_in].std(ddof=1)
        sharpe_out = frame.iloc[rows_out].mean() / frame.iloc[rows_out].std(ddof=1)
        best = int(np.argmax(sharpe_in.to_numpy()))
        rank = rankdata(sharpe_out.to_numpy())[best]
        w = rank / (frame.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
    return float(np.mean(np.array(logits) <= 0))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_cols=st.integers(2, 8), blocks=st.sampled_from([2, 4, 6, 8]),
       rows=st.integers(16, 60))
def test_pbo_equals_the_literal_reference(seed, n_cols, blocks, rows):
    matrix = np.random.default_rng(seed).normal(0, 0.01, (rows, n_cols))
    result = probability_of_backtest_overfitting(matrix, blocks)
    assert result.pbo == pytest.approx(reference_pbo(matrix, blocks), abs=1e-12)
    assert len(result.combinations) == math.comb(blocks, blocks // 2)
    assert result.combinations["relative_rank"].between(0, 1, inclusive="neither").all()


def test_pbo_of_pure_noise_is_near_one_half():
    rng = np.random.default_rng(7)
    estimates = [probability_of_backtest_overfitting(rng.normal(0, 0.01, (480, 10)), 16).pbo for _ in range(6)]
    assert np.mean(estimates) == pytest.approx(0.5, abs=0.12)


def test_pbo_with_one_truly_better_candidate_is_near_zero():
    rng = np.random.default_rng(11)
    matrix = rng.normal(0, 0.01, (480, 10))
    matrix[:, 3] += 0.006  # a Sharpe of 0.6 per period against 0 for the rest
    result = probability_of_backtest_overfitting(pd.DataFrame(matrix, columns=[f"c{i}" for i in range(10)]), 16)
    assert result.pbo < 0.02
    assert (result.combinations["selected"] == "c3").mean() > 0.98
    eight = probability_of_backtest_overfitting(matrix, 8)  # 70 combinations: cheap enough for the loop
    assert eight.pbo == pytest.approx(reference_pbo(matrix, 8), abs=1e-12) and eight.pbo < 0.05


def test_pbo_refuses_what_it_cannot_judge():
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(np.zeros((40, 3)), 5)
    with pytest.raises(ValueError, match="two candidates"):
        probability_of_backtest_overfitting(np.zeros((40, 1)), 4)
    with pytest.raises(ValueError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((10, 3)), 8)
    assert pbo_blocks(94, 16) == 16 and pbo_blocks(21, 16) == 10 and pbo_blocks(3, 16) == 0


def test_identical_candidates_count_once_and_correlated_ones_cluster():
    rng = np.random.default_rng(3)
    base, other = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
    matrix = pd.DataFrame(
        {
            "a": base,
            "a_twin": base.copy(),  # the same trades: one distinct trial
            "a_close": base + rng.normal(0, 0.1, 200),  # correlation ~0.995
            "b": other,
            "silent": np.zeros(200),
            "silent_too": np.zeros(200),
        }
    )
    trials = effective_trials(matrix, min_correlation=0.9)
    assert (trials.raw, trials.distinct, trials.effective) == (6, 4, 3)
    assert trials.clusters["a"] == trials.clusters["a_twin"] == trials.clusters["a_close"]
    assert trials.clusters["b"] != trials.clusters["a"]
    assert trials.clusters["silent"] == trials.clusters["silent_too"] not in {trials.clusters["a"], trials.clusters["b"]}
    # A demanding threshold separates the near twin; identical series never separate.
    strict = effective_trials(matrix, min_correlation=0.9999)
    assert strict.effective == 4 and strict.clusters["a"] == strict.clusters["a_twin"]
    # Two clusters' mean Sharpes give V[SR_n]; one cluster gives none.
    assert cluster_sharpe_variance({"a": 0.2, "a_twin": 0.2, "b": 0.0}, {"a": 1, "a_twin": 1, "b": 2}) == pytest.approx(
        np.var([0.2, 0.0], ddof=1)
    )
    assert cluster_sharpe_variance({"a": 0.2, "b": float("nan")}, {"a": 1, "b": 2}) == 0.0


def test_returns_matrix_sums_per_event_and_keeps_untraded_events():
    periods = pd.DataFrame({"event_ticker": ["E2", "E1", "E3"],
                            "release_time": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-03-01"])})
    traces = pd.DataFrame({"candidate": ["x", "x", "y"], "event_ticker": ["E1", "E1", "E2"],
                           "bankroll_return": [0.01, 0.02, -0.01]})
    matrix = returns_matrix(traces, periods, ["x", "y", "z"])
    assert list(matrix.index) == ["E1", "E2", "E3"]
    assert matrix.loc["E1", "x"] == pytest.approx(0.03) and matrix.loc["E2", "y"] == -0.01
    assert (matrix["z"] == 0).all() and matrix.loc["E3"].eq(0).all()
    with pytest.raises(ValueError, match="not periods"):
        returns_matrix(traces.assign(event_ticker="E9"), periods, ["x"])
