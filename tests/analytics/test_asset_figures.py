"""The shaping and check computations the outcomes and research assets call: pure functions of frames,
each pinned on small hand-made tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kalshi_assets.analytics import backtest_tables, cpcv, outcomes, promotion, purge, scoring
from kalshi_assets.analytics.walkforward import candidate_family


def test_events_revised_counts_events_with_a_later_vintage() -> None:
    revisions = pd.DataFrame({"event_ticker": ["A", "A", "B", "C", "C"], "vintage": [1, 2, 1, 1, 3]})
    assert outcomes.events_revised(revisions) == 2
    assert outcomes.events_revised(revisions.iloc[:0]) == 0


def _labels(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_ticker", "label_mode", "realized_value"])


def test_events_differing_between_modes() -> None:
    labels = _labels([("A", "first_print", 0.3), ("A", "latest", 0.4), ("B", "first_print", 0.2),
                      ("B", "latest", 0.2), ("C", "first_print", None), ("C", "latest", 0.1)])
    assert outcomes.events_differing_between_modes(labels) == 2  # A revised; C missing vs a number
    assert outcomes.events_differing_between_modes(_labels([("A", "first_print", 0.3)])) == 0  # one mode only
    assert outcomes.events_differing_between_modes(_labels([])) == 0


def test_label_problems_count_late_labels_and_wrong_first_prints() -> None:
    t = pd.Timestamp("2026-10-01")
    labels = pd.DataFrame({
        "event_ticker": ["A", "B", "A"],
        "label_mode": ["first_print", "first_print", "latest"],
        "realized_value": [0.3, 0.5, 0.9],
        "label_known_at": [t, t + pd.Timedelta(days=2), t],
        "as_of": [t, t + pd.Timedelta(days=1), t],
    })
    first_prints = pd.DataFrame({"event_ticker": ["A", "B"], "value": [0.3, 0.4]})
    assert outcomes.label_problems(labels, first_prints) == {
        "labels_known_after_as_of": 1, "first_print_labels_not_matching": 1,
    }
    assert outcomes.label_problems(labels.iloc[[0, 2]], first_prints) == {
        "labels_known_after_as_of": 0, "first_print_labels_not_matching": 0,  # latest labels may differ
    }


def test_events_without_label_and_purged_by_event_type() -> None:
    features = pd.DataFrame({"event_ticker": ["A", "A", "B", "C", "D"], "implied_mean": [1.0, 1.1, 2.0, 3.0, None]})
    samples = pd.DataFrame({"event_ticker": ["A", "B"]})
    assert purge.events_without_label(features, samples) == 1  # C; D has no implied distribution
    roles = pd.DataFrame({"role": ["purged", "train", "purged", "purged"], "event_type": ["CPI", "CPI", "GDP", "CPI"]})
    assert purge.purged_by_event_type(roles) == {"CPI": 2, "GDP": 1}
    assert purge.purged_by_event_type(roles.iloc[[1]]) == {}


def test_paths_in_a_split_table() -> None:
    assert cpcv.paths_in(pd.DataFrame({"path": [0, 4, None, 2]})) == 5
    assert cpcv.paths_in(pd.DataFrame({"path": [None, None]})) == 0


def test_forecasts_with_first_print_keep_snapshotted_labelled_rows() -> None:
    features = pd.DataFrame({"event_ticker": ["A", "B", "C"], "horizon_days": [1, 1, 1],
                             "snapshot_ts": [pd.Timestamp("2026-10-01"), None, pd.Timestamp("2026-10-02")]})
    labels = pd.DataFrame({"event_ticker": ["A", "B"], "first_print": [0.3, 0.2], "other": [1, 2]})
    out = scoring.forecasts_with_first_print(features, labels)
    assert out["event_ticker"].tolist() == ["A"] and out["first_print"].tolist() == [0.3]
    assert "other" not in out.columns


def test_logit_histogram_and_trial_counts() -> None:
    histogram = promotion.logit_histogram(np.array([-3.0, -0.5, 0.2, 0.2, 5.0]))
    assert [label for label, _ in histogram][:2] == ["[-inf, -2)", "[-2, -1)"]
    assert dict(histogram) == {"[-inf, -2)": 1, "[-2, -1)": 0, "[-1, -0.5)": 0, "[-0.5, 0)": 1, "[0, 0.5)": 2,
                               "[0.5, 1)": 0, "[1, 2)": 0, "[2, inf)": 1}  # -0.5 on an edge counts above it
    assert sum(n for _, n in promotion.logit_histogram(np.array([]))) == 0
    decisions = pd.DataFrame({"n_trials": [6, 6], "n_trials_distinct": [4, 4], "n_trials_effective": [3, 3]})
    assert promotion.trial_counts(decisions) == {"n_trials": 6, "n_trials_distinct": 4, "n_trials_effective": 3}
    assert promotion.trial_counts(decisions.iloc[:0]) == {"n_trials": 0, "n_trials_distinct": 0, "n_trials_effective": 0}


@pytest.fixture
def candidates() -> list:
    return candidate_family([1, 3], [0.05], capacity_share=0.1, max_contracts=100, max_order_notional=500.0,
                            bankroll=10_000.0)


def test_missing_horizons_and_the_tested_grid(candidates: list) -> None:
    features = pd.DataFrame({"event_ticker": ["A", "A", "B", "C"], "horizon_days": [1, 7, 1, 1]})
    assert backtest_tables.missing_horizons(candidates, features) == [3]
    assert backtest_tables.missing_horizons(candidates, features.iloc[:0]) == []  # nothing to judge yet
    roles = pd.DataFrame({"event_ticker": ["A", "B", "C"], "role": ["test", "train", "purged"]})
    grid = backtest_tables.tested_feature_grid(roles, features, candidates)
    assert list(zip(grid["event_ticker"], grid["horizon_days"], strict=True)) == [("A", 1)]


def test_candidates_not_rebuilt_and_capacity_window(candidates: list) -> None:
    table = pd.DataFrame({"candidate": [candidates[0].name], "capacity_window_hours": [48.0]})
    assert backtest_tables.candidates_not_rebuilt(table, candidates) == [candidates[1].name]
    assert backtest_tables.capacity_window_hours(table) == 48.0
    assert backtest_tables.capacity_window_hours(table.iloc[:0]) == 24.0


def _trades(sizes: list[int], fees: list[str]) -> pd.DataFrame:
    n = len(sizes)
    return pd.DataFrame({"event_ticker": ["E"] * n, "size": sizes, "price": [0.5] * n, "fee": [float(f) for f in fees],
                         "window_volume": [10.0] * n, "capacity_contracts": [5.0] * n})


def test_trade_check_counts_and_cpcv_problems() -> None:
    ok = _trades([1], ["0.02"])  # ceil_to_cent(0.07 x 1 x 0.5 x 0.5) = 0.02
    assert backtest_tables.trade_check_counts(ok, {}, 0) == {
        "size_over_traded_volume": 0, "size_over_capacity": 0, "fee_mismatch": 0, "trades_off_test_events": 0,
    }
    bad = _trades([6, 11], ["0.11", "0.01"])
    counts = backtest_tables.trade_check_counts(bad, {}, 2)
    assert counts["size_over_capacity"] == 2 and counts["size_over_traded_volume"] == 1
    assert counts["fee_mismatch"] == 1 and counts["trades_off_test_events"] == 2
    even = pd.DataFrame({"candidate": ["a", "a", "b", "b"], "path": [0, 1, 0, 1]})
    assert backtest_tables.cpcv_trade_problems(ok, {}, 0, even) == []
    uneven = pd.DataFrame({"candidate": ["a", "a", "b"], "path": [0, 1, 0]})
    problems = backtest_tables.cpcv_trade_problems(bad, {}, 2, uneven)
    assert "trades_off_test_events: 2" in problems and "fee_mismatch: 1" in problems
    assert problems[-1] == "not every candidate has the same number of paths"


def test_capacity_summary_columns_are_walkforward_candidates_columns() -> None:
    schema = Path(backtest_tables.__file__).parents[1] / "warehouse" / "schema.sql"
    text = schema.read_text(encoding="utf-8")
    start = text.index("CREATE TABLE IF NOT EXISTS walkforward_candidates (")
    columns = {line.split()[0] for line in text[start:text.index(");", start)].splitlines()[1:] if line.strip()}
    assert set(backtest_tables.CAPACITY_SUMMARY_COLUMNS) <= columns


def test_vintage_helpers_of_macro_sources() -> None:
    from kalshi_assets.macro.sources import VintageRecord, event_refs, vintage_frame, vintages_known_at

    releases = pd.DataFrame({"event_ticker": ["A", "B"], "series_ticker": ["S", "S"],
                             "release_time": [pd.Timestamp("2026-10-01 12:30"), pd.NaT]})
    refs = event_refs(releases)
    assert refs[0].release_time == datetime(2026, 10, 1, 12, 30) and refs[1].release_time is None
    records = [
        VintageRecord("A", "S", datetime(2026, 9, 1).date(), datetime(2026, 10, 1, 12, 30), 1, 0.3, "demo"),
        VintageRecord("A", "S", datetime(2026, 9, 1).date(), datetime(2026, 11, 1, 12, 30), 2, 0.4, "demo"),
    ]
    known = vintages_known_at(records, datetime(2026, 11, 1))
    assert known == records[:1]
    frame = vintage_frame(known)
    assert list(frame.columns) == ["event_ticker", "series_ticker", "reference_period", "vintage_time", "vintage",
                                   "value", "source"]
    assert frame["value"].tolist() == [0.3]
    assert list(vintage_frame([]).columns) == list(frame.columns)
