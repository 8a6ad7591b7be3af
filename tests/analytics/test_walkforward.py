"""Walk-forward trading arithmetic: fees, capacity, grid-aware probabilities, settlement, the fold loop."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from kalshi_assets.analytics.purge import PurgedWalkForward
from kalshi_assets.analytics.walkforward import (
    TRACE_COLUMNS,
    Candidate,
    candidate_family,
    capacity_contracts,
    capacity_summary,
    decide_trades,
    fit_release_model,
    infer_grid,
    run_walkforward,
    settle_trades,
    settles_yes,
    taker_fee,
    yes_probability,
)


def test_taker_fee_matches_kalshi_example_and_rounds_up_to_the_cent():
    assert taker_fee(10, Decimal("0.50")) == Decimal("0.18")
    assert taker_fee(10, "0.5") == Decimal("0.18")
    assert taker_fee(1, Decimal("0.01")) == Decimal("0.01")  # 0.000693 rounds up
    assert taker_fee(100, Decimal("0.50")) == Decimal("1.75")  # exact: no rounding
    assert taker_fee(100, Decimal("0.50"), fee_multiplier=Decimal("0.5")) == Decimal("0.88")
    assert taker_fee(0, Decimal("0.50")) == Decimal("0.00")
    assert taker_fee(5, Decimal("1")) == Decimal("0.00")
    with pytest.raises(ValueError):
        taker_fee(1, Decimal("1.2"))
    with pytest.raises(ValueError):
        taker_fee(-1, Decimal("0.5"))


@given(contracts=st.integers(0, 10_000), cents=st.integers(1, 9999))
def test_taker_fee_is_the_smallest_cent_amount_at_or_above_the_formula(contracts, cents):
    price = Decimal(cents) / Decimal(10_000)
    raw = Decimal("0.07") * contracts * price * (1 - price)
    fee = taker_fee(contracts, price)
    assert fee >= raw and fee - raw < Decimal("0.01")
    assert fee == fee.quantize(Decimal("0.01"))


@given(volume=st.floats(0, 1e6), oi=st.floats(0, 1e6), share=st.floats(0.001, 1.0))
def test_capacity_never_exceeds_traded_volume_or_open_interest(volume, oi, share):
    capacity = capacity_contracts(volume, oi, share)
    assert 0 <= capacity <= volume + 1e-9
    assert capacity <= oi + 1e-9
    assert capacity <= share * min(volume, oi) + 1e-6


def test_capacity_refuses_a_share_above_one():
    with pytest.raises(ValueError):
        capacity_contracts(10, 10, 1.5)
    assert capacity_contracts(float("nan"), 50, 0.5) == 0


def test_settlement_follows_strike_semantics():
    assert settles_yes("greater", 0.2, None, 0.3) is True
    assert settles_yes("greater", 0.2, None, 0.2) is False  # a tie on "more than" settles NO
    assert settles_yes("greater_or_equal", 0.2, None, 0.2) is True
    assert settles_yes("less", None, 4.3, 4.3) is False
    assert settles_yes("less_or_equal", None, 4.3, 4.3) is True
    assert settles_yes("between", 0.2, 0.3, 0.3) is True
    assert settles_yes("custom", None, None, 0.3) is None


def test_grid_probabilities_know_that_a_tie_settles_no():
    # CPI on a 0.1 grid, model centred on 0.2: P(X > 0.2) = P(X >= 0.3) = P(Z > 0.5 sd-units).
    p = yes_probability("greater", 0.2, None, mu=0.2, sigma=0.1, tick=0.1)
    assert p == pytest.approx(norm.sf(0.5))
    # An off-grid strike 0.15 means X >= 0.2.
    assert yes_probability("greater", 0.15, None, 0.2, 0.1, 0.1) == pytest.approx(norm.sf(-0.5))
    assert yes_probability("greater_or_equal", 0.2, None, 0.2, 0.1, 0.1) == pytest.approx(norm.sf(-0.5))
    assert yes_probability("greater", 0.2, None, 0.2, 0.1, 0.0) == pytest.approx(0.5)
    assert math.isnan(yes_probability("custom", None, None, 0.2, 0.1, 0.1))


@given(
    mu=st.floats(-2, 2), sigma=st.floats(0.05, 2), strike_tenths=st.integers(-30, 30),
)
def test_complementary_contracts_sum_to_one(mu, sigma, strike_tenths):
    k = strike_tenths / 10
    above = yes_probability("greater", k, None, mu, sigma, 0.1)
    at_or_below = yes_probability("less_or_equal", None, k, mu, sigma, 0.1)
    assert above + at_or_below == pytest.approx(1.0, abs=1e-9)
    # Bins tiling the grid sum to one.
    bins = [yes_probability("between", j / 10, j / 10, mu, sigma, 0.1) for j in range(-80, 81)]
    tails = yes_probability("less", None, -8.0, mu, sigma, 0.1) + yes_probability("greater", 8.0, None, mu, sigma, 0.1)
    assert sum(bins) + tails == pytest.approx(1.0, abs=1e-9)


def test_infer_grid():
    assert infer_grid([0.3, 0.2, -0.1]) == pytest.approx(0.1)
    assert infer_grid([4.25, 4.5, 4.0]) == pytest.approx(0.25)
    assert infer_grid([-25.0, 0.0, 25.0, -50.0]) == 25.0
    assert infer_grid([143000.0, 90000.0]) == 1000.0
    assert infer_grid([float("nan")]) == 0.0


def test_fit_release_model_recovers_bias_and_scale_in_sd_units():
    rng = np.random.default_rng(7)
    n = 400
    implied_mean = rng.normal(0.3, 0.1, n)
    implied_sd = np.full(n, 0.1)
    first_print = implied_mean - 0.05 + rng.normal(0, 0.2, n)  # market too high by 0.05, twice too confident
    train = pd.DataFrame({"event_type": "CPI", "series_ticker": "KXCPI", "implied_mean": implied_mean,
                          "implied_sd": implied_sd, "first_print": np.round(first_print, 1)})
    model = fit_release_model(train)
    fit = model.fits["KXCPI"]
    assert fit.bias == pytest.approx(-0.5, abs=0.3)  # -0.05 / 0.1 sd
    assert fit.scale == pytest.approx(2.0, abs=0.2)
    assert fit.grid == pytest.approx(0.1)
    mu, sigma, grid = model.params("KXCPI", 0.3, 0.1)
    assert mu == pytest.approx(0.3 + fit.bias * 0.1) and sigma == pytest.approx(0.1 * fit.scale)
    assert model.params("KXCPI", 0.3, 0.1, grid=0.05)[2] == 0.05  # the snapshot's own grid wins
    few = fit_release_model(train.head(2))
    assert few.fits["KXCPI"].bias == 0.0 and few.fits["KXCPI"].scale == 1.0
    # A series never seen in training is trusted as priced; without series the event type is the key.
    assert model.params("KXGDP", 2.0, 0.5) == (2.0, 0.5, 0.0)
    by_type = fit_release_model(train.drop(columns=["series_ticker"]))
    assert set(by_type.fits) == {"CPI"}


def ladder(asks, bids, strikes=(0.1, 0.2, 0.3, 0.4), volume=500.0, oi=1000.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "market_ticker": [f"M-T{k}" for k in strikes],
            "strike_type": "greater",
            "floor_strike": list(strikes),
            "cap_strike": None,
            "yes_bid": bids,
            "yes_ask": asks,
            "window_volume": volume,
            "open_interest": oi,
        }
    )


def test_decide_trades_buys_the_cheap_side_only_when_edge_beats_threshold():
    # Model: Normal(0.25, 0.05) on a 0.1 grid: P(X>0.1)~1, P(X>0.2)=P(X>=0.3)=0.5, P(X>0.3)~0.
    book = ladder(asks=[0.90, 0.30, 0.40, 0.05], bids=[0.85, 0.25, 0.35, 0.01])
    candidate = Candidate(horizon_days=1, edge_threshold=0.05)
    signals = decide_trades(book, mu=0.25, sigma=0.05, tick=0.1, candidate=candidate)
    by_market = signals.set_index("market_ticker")
    assert by_market.loc["M-T0.1", "side"] == "yes"  # p ~ 0.999 vs ask 0.90
    assert by_market.loc["M-T0.2", "side"] == "yes"  # p 0.5 vs ask 0.30
    assert by_market.loc["M-T0.3", "side"] == "no"  # p(no) ~ 1 vs no ask 1 - 0.35 = 0.65
    assert "M-T0.4" not in by_market.index  # yes ask 0.05 vs p ~ 0; no ask 0.99 vs 1: no edge after fee
    for row in signals.itertuples():
        expected_fee = taker_fee(row.size, row.price)
        assert row.fee == expected_fee
        assert row.edge == pytest.approx(row.p_model - float(row.price) - float(expected_fee) / row.size)
        assert row.edge > 0.05
    strict = decide_trades(book, 0.25, 0.05, 0.1, Candidate(horizon_days=1, edge_threshold=0.9))
    assert strict.empty


def test_size_is_capped_by_capacity_notional_and_settles_on_the_first_print():
    book = ladder(asks=[0.30] * 4, bids=[0.25] * 4, volume=[40.0, 40.0, 0.0, 40.0], oi=[1000, 3, 1000, 1000])
    candidate = Candidate(horizon_days=1, edge_threshold=0.0, capacity_share=0.5, max_order_notional=6.0)
    signals = decide_trades(book, mu=0.5, sigma=0.05, tick=0.1, candidate=candidate).set_index("market_ticker")
    assert signals.loc["M-T0.1", "size"] == 20 and signals.loc["M-T0.1", "size_limited_by"] == "capacity"
    assert signals.loc["M-T0.2", "size"] == 1  # half of 3 contracts of open interest
    assert signals.loc["M-T0.3", "size"] == 0  # nothing traded in the window: no fill
    assert signals.loc["M-T0.4", "size"] == 20
    notional = Candidate(horizon_days=1, edge_threshold=0.0, capacity_share=1.0, max_order_notional=6.0)
    capped = decide_trades(book, 0.5, 0.05, 0.1, notional).set_index("market_ticker")
    assert capped.loc["M-T0.1", "size"] == 20 and capped.loc["M-T0.1", "size_limited_by"] == "notional"

    settled = settle_trades(signals.reset_index(), first_print=0.4, bankroll=1000.0).set_index("market_ticker")
    assert "M-T0.3" not in settled.index
    win = settled.loc["M-T0.1"]  # bought YES at 0.30 on X > 0.1, print 0.4: wins
    assert win["payout"] == Decimal("20") and win["pnl"] == Decimal("20") - 20 * Decimal("0.30") - win["fee"]
    assert win["trade_return"] == pytest.approx(float(win["pnl"]) / float(win["cost"]))
    assert win["bankroll_return"] == pytest.approx(float(win["pnl"]) / 1000.0)
    tie = settled.loc["M-T0.4"]  # X > 0.4 with a print of 0.4 settles NO: the YES buyer loses all
    assert not tie["won"] and tie["pnl"] == -tie["cost"]


def synthetic_world(n_events: int = 40, bias: float = 0.1, seed: int = 3):
    """Events whose ladder prices a market mean too high by `bias`: a learnable, tradable error."""
    rng = np.random.default_rng(seed)
    releases = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n_events) * 10, unit="D")
    types = np.array(["CPI", "UNEMPLOYMENT"])[np.arange(n_events) % 2]
    truth_mean = rng.normal(0.3, 0.05, n_events)
    first_print = np.round(truth_mean + rng.normal(0, 0.1, n_events), 1)
    features, ladders = [], []
    for i, (release, event_type) in enumerate(zip(releases, types, strict=True)):
        implied_mean, implied_sd = truth_mean[i] + bias, 0.1
        for horizon in (1, 3):
            asof = release - pd.Timedelta(days=max(horizon, 3))
            features.append({"event_ticker": f"E{i:02d}", "event_type": event_type, "release_time": release,
                             "horizon_days": horizon, "as_of": asof, "implied_mean": implied_mean,
                             "implied_sd": implied_sd})
            for k in np.round(np.arange(-0.1, 0.8, 0.1), 1):
                p = yes_probability("greater", k, None, implied_mean, implied_sd, 0.1)
                bid, ask = max(round(p - 0.02, 2), 0.01), min(round(p + 0.02, 2), 0.99)
                ladders.append({"event_ticker": f"E{i:02d}", "horizon_days": horizon,
                                "market_ticker": f"E{i:02d}-T{k}", "strike_type": "greater", "floor_strike": k,
                                "cap_strike": None, "yes_bid": bid, "yes_ask": ask,
                                "window_volume": float(rng.integers(0, 300)), "open_interest": 500.0})
    labels = pd.DataFrame({"event_ticker": [f"E{i:02d}" for i in range(n_events)], "first_print": first_print})
    return pd.DataFrame(features), labels, pd.DataFrame(ladders)


def test_walkforward_learns_a_biased_market_and_trades_only_test_events():
    features, labels, ladders = synthetic_world()
    roles = PurgedWalkForward(n_test_events=5, min_train_events=10).roles(features)
    candidates = candidate_family(horizons_days=(1, 3), edge_thresholds=(0.02, 0.05))
    run = run_walkforward(roles, features, labels, ladders, candidates)
    traces = run.traces
    assert list(traces.columns) == list(TRACE_COLUMNS)
    assert set(traces["candidate"]) == {c.name for c in candidates}
    tested = roles[roles["role"] == "test"][["fold", "event_ticker"]]
    merged = traces.merge(tested, on=["fold", "event_ticker"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()  # every trade is on its fold's test event
    # The market prices the mean 0.1 too high: the fitted model sells the upper rungs and makes money.
    assert (traces["side"] == "no").mean() > 0.5
    assert sum(traces["pnl"]) > 0
    assert (traces["size"] <= traces["window_volume"]).all()
    assert (traces["size"] >= 1).all()
    summary = capacity_summary(traces, run.skipped)
    assert (summary["contracts"] <= summary["window_volume"]).all()
    assert set(run.skipped["kind"]) <= {"no_capacity", "no_first_print", "no_distribution", "no_quotes"}
    blocked = [int(((run.skipped["candidate"] == c) & (run.skipped["kind"] == "no_capacity")).sum())
               for c in summary["candidate"]]
    assert list(summary["blocked_no_capacity"]) == blocked


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.01, 1.0), bias=st.floats(-0.2, 0.2))
def test_capacity_never_exceeds_traded_volume_in_any_trace(seed, share, bias):
    features, labels, ladders = synthetic_world(n_events=16, bias=bias, seed=seed)
    roles = PurgedWalkForward(n_test_events=4, min_train_events=8).roles(features)
    candidates = [Candidate(horizon_days=1, edge_threshold=0.0, capacity_share=share)]
    traces = run_walkforward(roles, features, labels, ladders, candidates).traces
    assert (traces["size"] <= traces["window_volume"]).all()
    assert (traces["size"] <= traces["capacity_contracts"]).all()
    assert (traces["size"] <= share * traces["window_volume"] + 1e-9).all()


def test_events_without_print_or_distribution_are_skipped_with_reasons():
    features, labels, ladders = synthetic_world(n_events=12)
    labels.loc[labels["event_ticker"] == "E10", "first_print"] = np.nan
    features.loc[features["event_ticker"] == "E11", "implied_sd"] = np.nan
    roles = PurgedWalkForward(n_test_events=2, min_train_events=10).roles(features)
    run = run_walkforward(roles, features, labels, ladders, [Candidate(horizon_days=1, edge_threshold=0.0)])
    reasons = run.skipped.set_index("event_ticker")["reason"]
    assert reasons["E10"] == "no first print yet"
    assert reasons["E11"] == "no implied distribution at as_of"
    assert run.traces.empty


def test_between_bins_are_left_alone_unless_the_candidate_trades_them():
    book = pd.DataFrame(
        {"market_ticker": ["D-H0"], "strike_type": ["between"], "floor_strike": [0.0], "cap_strike": [0.0],
         "yes_bid": [0.10], "yes_ask": [0.12], "window_volume": [500.0], "open_interest": [500.0]}
    )
    # Model mass on the 0 cell of a 25 bps grid: ~0.95, far above the 0.12 ask.
    assert decide_trades(book, 0.0, 5.0, 25.0, Candidate(horizon_days=1, edge_threshold=0.05)).empty
    both = Candidate(horizon_days=1, edge_threshold=0.05, strike_types=("greater", "between"))
    traded = decide_trades(book, 0.0, 5.0, 25.0, both)
    assert list(traded["side"]) == ["yes"]


def test_candidate_table_rebuilds_its_candidates_and_counts_problems():
    from decimal import Decimal

    from kalshi_assets.analytics.backtest_tables import (
        candidate_table,
        candidates_from_table,
        skipped_counts,
        trade_problems,
    )
    from kalshi_assets.analytics.walkforward import candidate_family, taker_fee

    family = candidate_family([1, 3], [0.02, 0.05])
    traces = pd.DataFrame({"candidate": [family[0].name], "pnl": [Decimal("1.5")], "window_volume": [100.0],
                           "size": [10], "size_limited_by": ["capacity"], "capacity_contracts": [10],
                           "price": [0.5], "fee": [float(taker_fee(10, Decimal("0.5")))], "event_ticker": ["E"]})
    skipped = pd.DataFrame({"candidate": [family[1].name] * 2, "fold": [0, 0], "event_ticker": ["E", "F"],
                            "kind": ["no_capacity", "no_quotes"], "reason": ["", ""]})
    table = candidate_table(family, traces, skipped, 24.0)
    assert list(table["candidate"]) == [c.name for c in family]
    assert table.loc[0, "trades"] == 1 and table.loc[0, "total_pnl"] == Decimal("1.5")
    assert table.loc[1, "blocked_no_capacity"] == 1 and table.loc[2, "trades"] == 0
    assert [c.name for c in candidates_from_table(table)] == [c.name for c in family]
    assert skipped_counts(skipped)["count"].tolist() == [1, 1]
    assert trade_problems(traces, {}) == {"size_over_traded_volume": 0, "size_over_capacity": 0, "fee_mismatch": 0}
    bad = traces.assign(size=200, fee=0.0)
    assert trade_problems(bad, {}) == {"size_over_traded_volume": 1, "size_over_capacity": 1, "fee_mismatch": 1}


def test_a_backtest_without_trades_or_skips_fills_its_candidates_with_numbers():
    """No trace and no skip (a CPCV path with nothing to trade): the capacity columns are numbers, filled
    without pandas' object downcasting (a FutureWarning that reached the demo's event log)."""
    import warnings

    from kalshi_assets.analytics.backtest_tables import candidate_table
    from kalshi_assets.analytics.walkforward import candidate_family

    family = candidate_family([1], [0.02, 0.05])
    traces = pd.DataFrame(columns=["candidate", "pnl", "window_volume", "size", "size_limited_by"])
    skipped = pd.DataFrame(columns=["candidate", "fold", "event_ticker", "kind", "reason"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = candidate_table(family, traces, skipped, 24.0)
    assert len(table) == 2
    counts = ["trades", "contracts", "capped_by_capacity", "blocked_no_capacity"]
    assert all(str(table[c].dtype) == "int64" for c in counts) and (table[counts] == 0).all().all()
    assert all(str(table[c].dtype) == "float64" for c in ("window_volume", "share_of_volume"))
