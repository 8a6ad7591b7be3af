"""Contract forecasts for the calibration curve: the docs/METHODS.md probability rule and settlement outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kalshi_assets.analytics import calibration
from kalshi_assets.analytics.scoring import brier_score

AS_OF = pd.Timestamp("2026-10-11 12:30")


def _row(ticker: str, **values) -> dict:
    row = {
        "market_ticker": ticker, "horizon_hours": 24, "as_of": AS_OF, "strike_type": "greater", "floor_strike": 0.3,
        "cap_strike": np.nan, "result": None, "first_print": 0.35, "yes_bid": 0.60, "yes_ask": 0.64,
        "quote_ts": AS_OF - pd.Timedelta(hours=1), "last_price": 0.61, "trade_ts": AS_OF - pd.Timedelta(hours=2),
    }
    row.update(values)
    return row


def test_the_mid_of_a_tight_fresh_book_is_the_forecast() -> None:
    out = calibration.contract_forecasts(pd.DataFrame([_row("A")]))
    assert out["forecast"].tolist() == [pytest.approx(0.62)]
    assert out["outcome"].tolist() == [1.0] and out["outcome_source"].tolist() == ["first_print"]


def test_a_wide_book_falls_back_to_a_fresh_trade_inside_it_and_stale_quotes_are_left_out() -> None:
    frame = pd.DataFrame([
        _row("wide", yes_bid=0.30, yes_ask=0.70, last_price=0.55),
        _row("wide-no-trade", yes_bid=0.30, yes_ask=0.70, last_price=np.nan, trade_ts=pd.NaT),
        _row("stale", quote_ts=AS_OF - pd.Timedelta(hours=30), trade_ts=AS_OF - pd.Timedelta(hours=30)),
        _row("never-quoted", yes_bid=np.nan, yes_ask=np.nan, quote_ts=pd.NaT, last_price=np.nan, trade_ts=pd.NaT),
    ])
    out = calibration.contract_forecasts(frame)
    assert out["market_ticker"].tolist() == ["wide"] and out["forecast"].tolist() == [pytest.approx(0.55)]


def test_outcomes_come_from_the_first_print_else_from_kalshis_result() -> None:
    frame = pd.DataFrame([
        _row("below", floor_strike=0.4),                                  # 0.35 > 0.4 is false
        _row("between", strike_type="between", floor_strike=0.3, cap_strike=0.4),
        _row("no-print", first_print=np.nan, result="yes"),
        _row("nothing", first_print=np.nan, result=None),                 # unsettled: no outcome
        _row("custom", strike_type="custom", first_print=0.35, result="no"),
    ])
    out = calibration.contract_forecasts(frame).set_index("market_ticker")
    assert out.loc["below", "outcome"] == 0.0 and out.loc["between", "outcome"] == 1.0
    assert (out.loc["no-print", "outcome"], out.loc["no-print", "outcome_source"]) == (1.0, "result")
    assert (out.loc["custom", "outcome"], out.loc["custom", "outcome_source"]) == (0.0, "result")
    assert "nothing" not in out.index


def test_curves_and_scores_per_horizon_agree_with_the_scorer() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for h in (1, 24):
        for i in range(200):
            p = float(rng.uniform(0.02, 0.98))
            rows.append({"market_ticker": f"M{i}", "horizon_hours": h, "forecast": p,
                         "outcome": float(rng.uniform() < p), "outcome_source": "result"})
    forecasts = pd.DataFrame(rows)
    curves, scores = calibration.calibration_by_horizon(forecasts, n_bins=5)
    assert list(scores["horizon_hours"]) == [1, 24]
    assert (curves.groupby("horizon_hours")["n_contracts"].sum() == 200).all()
    one = forecasts[forecasts["horizon_hours"] == 1]
    assert scores.iloc[0]["brier"] == pytest.approx(brier_score(one["forecast"], one["outcome"]))
    assert list(curves.columns) == list(calibration.CURVE_COLUMNS)


def test_no_input_gives_empty_frames_and_missing_columns_are_refused() -> None:
    empty = calibration.contract_forecasts(pd.DataFrame(columns=list(calibration.INPUT_COLUMNS)))
    curves, scores = calibration.calibration_by_horizon(empty)
    assert empty.empty and curves.empty and scores.empty
    with pytest.raises(ValueError, match="lacks columns"):
        calibration.contract_forecasts(pd.DataFrame({"market_ticker": ["A"]}))


def test_a_quote_after_the_as_of_time_is_refused_as_look_ahead() -> None:
    with pytest.raises(ValueError, match="look-ahead"):
        calibration.contract_forecasts(pd.DataFrame([_row("future", quote_ts=AS_OF + pd.Timedelta(hours=1))]))


def test_agreement_between_first_print_and_result() -> None:
    frame = pd.DataFrame([_row("A", result="yes"), _row("B", floor_strike=0.4, result="yes"), _row("C", result=None)])
    assert calibration.outcome_agreement(frame) == (2, 1)
