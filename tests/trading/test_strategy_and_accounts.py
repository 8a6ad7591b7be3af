"""Promoted strategies -> orders now; positions and P&L rows (settlement and marks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from kalshi_assets.analytics.walkforward import Candidate, ModelFit, ReleaseModel
from kalshi_assets.trading import Fill, PositionBook, accounts
from kalshi_assets.trading.strategy import (
    PromotedStrategy,
    fit_model,
    promoted_strategies,
    proposed_orders,
    with_book_quotes,
)
from tests.trading.conftest import NOW

SNAPSHOT_AT = datetime(2026, 10, 31, 23, 0)
RELEASE = datetime(2026, 11, 12, 13, 30)


def test_promoted_strategies_read_flags_and_parameters() -> None:
    rows = [
        {"candidate": "b", "promoted": True, "horizon_days": 3, "edge_threshold": 0.05, "capacity_share": 0.2,
         "capacity_window_hours": 12.0, "max_contracts": 50, "max_order_notional": 100.0, "bankroll": 1000.0},
        {"candidate": "a", "promoted": "true", "parameters": json.dumps({"horizon_days": 1, "edge_threshold": 0.02})},
        {"candidate": "c", "promoted": False, "horizon_days": 1, "edge_threshold": 0.1},
    ]  # fmt: skip
    found = promoted_strategies(rows)
    assert [s.name for s in found] == ["a", "b"]
    b = found[1]
    assert b.candidate == Candidate(3, 0.05, capacity_share=0.2, max_contracts=50, max_order_notional=100.0,
                                    bankroll=1000.0)  # fmt: skip
    assert b.capacity_window_hours == 12.0 and found[0].capacity_window_hours is None
    assert promoted_strategies([]) == []


def test_incubating_candidates_are_selected_by_name_only() -> None:
    rows = [{"candidate": "c", "promoted": False, "horizon_days": 1, "edge_threshold": 0.1}]
    assert promoted_strategies(rows) == []
    (incubating,) = promoted_strategies(rows, incubating=["c"])
    assert (incubating.name, incubating.promoted) == ("c", False)
    with pytest.raises(ValueError, match="not in promotion_decisions"):
        promoted_strategies(rows, incubating=["missing"])


def test_a_promoted_row_without_parameters_is_an_error() -> None:
    with pytest.raises(ValueError, match="unusable parameters"):
        promoted_strategies([{"candidate": "x", "promoted": True}])


def _ladder() -> pd.DataFrame:
    base = {"event_ticker": "KXCPI-26OCT", "series_ticker": "KXCPI", "event_type": "CPI", "release_time": RELEASE, "strike_type": "greater",
            "cap_strike": None, "fee_multiplier": 1.0, "quote_ts": SNAPSHOT_AT, "window_volume": 1000.0,
            "open_interest": 5000.0}  # fmt: skip
    rungs = [("KXCPI-26OCT-T0.5", 0.5, 0.60, 0.62), ("KXCPI-26OCT-T0.6", 0.6, 0.20, 0.22),
             ("KXCPI-26OCT-T0.7", 0.7, 0.05, 0.07)]  # fmt: skip
    return pd.DataFrame(
        [{**base, "market_ticker": t, "floor_strike": k, "yes_bid": b, "yes_ask": a} for t, k, b, a in rungs]
    )


def _distribution(mean: float = 0.64, sd: float = 0.08) -> pd.DataFrame:
    return pd.DataFrame([{"event_ticker": "KXCPI-26OCT", "snapshot_ts": SNAPSHOT_AT, "event_type": "CPI",
                          "mean": mean, "std": sd, "quality_score": 0.9, "quality_low": False}])  # fmt: skip


STRATEGY = PromotedStrategy("normal_h1d_edge0.02", Candidate(1, 0.02))
MODEL = ReleaseModel({"KXCPI": ModelFit(0.0, 1.0, 0.1, 10)})


def test_orders_follow_the_candidates_rule_with_deterministic_ids() -> None:
    orders, skipped = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution(), NOW)
    assert orders and not skipped
    for order in orders:
        assert order.action == "buy" and order.decision_time == SNAPSHOT_AT.replace(tzinfo=UTC)
        assert order.details["edge"] > 0.02
        assert order.notional <= Decimal("500")
    again, _ = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution(), NOW + timedelta(hours=2))
    assert [o.client_order_id for o in again] == [o.client_order_id for o in orders]  # same snapshot, same ids


def test_held_markets_and_missing_inputs_are_skipped_with_reasons() -> None:
    orders, _ = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution(), NOW)
    held = {orders[0].market_ticker}
    fewer, skipped = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution(), NOW, held=held)
    assert len(fewer) == len(orders) - 1
    assert skipped == [{"strategy": STRATEGY.name, "event_ticker": "KXCPI-26OCT",
                        "market_ticker": orders[0].market_ticker, "reason": "position or working order exists"}]
    none, why = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution().iloc[0:0], NOW)
    assert none == [] and why[0]["reason"] == "no fresh distribution snapshot"
    far, why = proposed_orders(STRATEGY, MODEL, _ladder(), _distribution(), NOW, max_days_to_release=3)
    assert far == [] and "days out" in why[0]["reason"]


def test_a_model_agreeing_with_the_market_orders_nothing() -> None:
    ladder = _ladder()
    # Quotes priced off Normal(0.60, 0.10) on the 0.1 grid: P(X >= 0.55)=0.69, P(X >= 0.65)=0.31, P(X >= 0.75)=0.07.
    ladder["yes_bid"], ladder["yes_ask"] = [0.68, 0.30, 0.06], [0.70, 0.32, 0.08]
    orders, _ = proposed_orders(STRATEGY, MODEL, ladder, _distribution(0.60, 0.10), NOW)
    assert orders == []


def test_fit_model_uses_first_prints_at_the_horizon() -> None:
    released = pd.DataFrame(
        {"event_ticker": [f"E{i}" for i in range(4)], "series_ticker": ["KXCPI"] * 4, "event_type": ["CPI"] * 4,
         "release_time": pd.to_datetime(["2026-06-10", "2026-07-10", "2026-08-10", "2026-09-10"]),
         "first_print": [0.3, 0.4, 0.3, 0.4]}
    )  # fmt: skip
    snapshots = pd.DataFrame(
        {"event_ticker": [f"E{i}" for i in range(4)], "snapshot_ts": released["release_time"] - pd.Timedelta(days=5),
         "mean": [0.2, 0.3, 0.2, 0.3], "std": [0.1] * 4}
    )  # fmt: skip
    model = fit_model(Candidate(1, 0.02), released, snapshots)
    assert model.fits["KXCPI"].bias == pytest.approx(1.0)  # first print - implied mean = 0.1 = one implied sd
    assert model.fits["KXCPI"].n_events == 4


def _fill(ticker: str, side: str, count: int, price: str, fee: str, n: int) -> Fill:
    return Fill(f"t{n}", f"c{n}", None, ticker, "E", side, "buy", count, Decimal(price), Decimal(fee), NOW)


def test_position_rows_settle_mark_and_sum_into_pnl() -> None:
    book = PositionBook.from_fills([
        _fill("A", "yes", 10, "0.40", "0.17", 1),  # settles YES: +6.00 - 0.17
        _fill("B", "no", 20, "0.30", "0.30", 2),  # short 20 YES at 0.70, marked at mid 0.60: +2.00
        _fill("C", "yes", 5, "0.50", "0.09", 3),  # no mark: unrealized 0
    ])  # fmt: skip
    settled = accounts.settle_book(book, {"A": (Decimal(1), NOW + timedelta(days=3))})
    assert settled == 1
    marks = {"B": {"price": Decimal("0.60"), "ts": datetime(2026, 10, 31, 23), "source": "mid"}}
    rows = {r["market_ticker"]: r for r in accounts.position_rows(("paper", "s"), book, marks, NOW)}
    assert (rows["A"]["status"], rows["A"]["realized_pnl"], rows["A"]["mark_source"]) == ("settled", Decimal("5.8300"),
                                                                                        "settlement")  # fmt: skip
    assert (rows["B"]["position"], rows["B"]["unrealized_pnl"], rows["B"]["realized_pnl"]) == (
        -20, Decimal("2.0000"), Decimal("-0.3000"))  # fmt: skip
    assert (rows["C"]["mark_source"], rows["C"]["unrealized_pnl"]) == ("none", Decimal("0.0000"))
    counts = [{"mode": "paper", "strategy": "s", "orders": 4, "filled_orders": 3, "submitted_orders": 0,
               "rejected_orders": 1, "error_orders": 0, "pending_orders": 0, "fills": 3, "contracts_traded": 35,
               "cash_spent": Decimal("12.5")}]  # fmt: skip
    (pnl,) = accounts.pnl_rows(rows.values(), counts, NOW, NOW)
    assert pnl["realized_pnl"] == Decimal("5.83") - Decimal("0.30") - Decimal("0.09")
    assert pnl["unrealized_pnl"] == Decimal("2.0000")
    assert pnl["total_pnl"] == pnl["realized_pnl"] + pnl["unrealized_pnl"]
    assert (pnl["open_positions"], pnl["settled_positions"], pnl["fees"]) == (2, 1, Decimal("0.5600"))


def test_ladders_priced_from_the_book_now() -> None:
    from kalshi_assets.trading import OrderBook, StaticBooks

    books = StaticBooks({
        "KXCPI-26OCT-T0.5": OrderBook.from_levels([("0.58", "10")], [("0.39", "5")]),  # bid 0.58, ask 0.61
        "KXCPI-26OCT-T0.6": OrderBook.from_levels([("0.19", "10")], []),  # no ask shown
    })  # fmt: skip
    priced = with_book_quotes(_ladder(), books, NOW)
    assert priced["yes_bid"].tolist()[:2] == [0.58, 0.19]
    assert priced["yes_ask"].tolist()[0] == 0.61 and pd.isna(priced["yes_ask"].tolist()[1])
    assert priced["yes_bid"].isna().tolist()[2]  # T0.7 has no book at all
    assert (priced["quote_ts"] == pd.Timestamp("2026-11-01 00:00")).all()
    marks = accounts.book_marks(books, ["KXCPI-26OCT-T0.5", "KXCPI-26OCT-T0.6"], NOW)
    assert marks == {"KXCPI-26OCT-T0.5": {"price": Decimal("0.5950"), "ts": NOW, "source": "mid"}}


def test_book_marks_skip_markets_the_source_no_longer_lists() -> None:
    class Gone:
        def book(self, ticker):
            raise KeyError(ticker)

    assert accounts.book_marks(Gone(), ["X"], NOW) == {}
