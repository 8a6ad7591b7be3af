"""One test per failure class of the old system's implied-distribution code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kalshi_assets.analytics.distribution import implied_distribution, implied_distributions
from kalshi_assets.analytics.snapshot_schema import (
    MOMENT_COLUMNS,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_SCHEMA,
    STATUSES,
    empty_snapshot_frame,
    validate_snapshot_frame,
)
from tests.analytics.distribution_ladders import RUNG_DEFAULTS

K = np.array([2.0, 2.5, 3.0, 3.5, 4.0])
S = np.array([0.95, 0.75, 0.45, 0.15, 0.04])


def _ladder(strike_type="greater", titles=None, mids=S, floors=K, caps=None) -> pd.DataFrame:
    n = len(mids)
    frame = pd.DataFrame({
        "strike_type": strike_type,
        "floor_strike": floors if floors is not None else np.nan,
        "cap_strike": caps if caps is not None else np.nan,
        "yes_bid": np.clip(np.asarray(mids) - 0.01, 0, 1),
        "yes_ask": np.clip(np.asarray(mids) + 0.01, 0, 1),
        **RUNG_DEFAULTS,
    }, index=range(n))
    if titles is not None:
        frame["title"] = titles
        frame["yes_sub_title"] = titles
    return frame


# 1. Direction was inferred from words in titles. --------------------------------------------------


def test_direction_ignores_title_words() -> None:
    plain = implied_distribution(_ladder()).snapshots
    # Titles saying the opposite ("below", "under", "less than") change nothing.
    misleading = implied_distribution(_ladder(titles=[f"CPI below {k}%" for k in K])).snapshots
    pd.testing.assert_frame_equal(plain, misleading)
    assert plain.loc[0, "direction"] == "survival" and plain.loc[0, "direction_source"] == "strike_type"


def test_title_cannot_resolve_a_missing_strike_type() -> None:
    frame = _ladder(strike_type=None, titles=[f"Above {k}%" for k in K])
    row = implied_distribution(frame).snapshots.iloc[0]
    assert row["direction"] == "unresolved" and row["direction_source"] == "unresolved"
    assert row["status"] == "direction_unresolved"


def test_less_ladder_is_read_as_cdf_whatever_its_title() -> None:
    frame = _ladder(strike_type="less_or_equal", floors=None, caps=K, mids=1 - S,
                    titles=[f"Above {k}%" for k in K])
    row = implied_distribution(frame).snapshots.iloc[0]
    reference = implied_distribution(_ladder()).snapshots.iloc[0]
    assert row["direction"] == "cdf"
    assert row["mean"] == pytest.approx(reference["mean"], abs=1e-12)


# 2. Markets were merged into the wrong events by a fallback. --------------------------------------


def test_rungs_never_fall_back_to_a_similar_event() -> None:
    ts = pd.Timestamp("2026-09-10 12:00")
    rungs = pd.concat([
        _ladder().assign(event_ticker="KXCPI-26SEP", snapshot_ts=ts),
        # A market whose event is a different month must not join the September ladder.
        _ladder(mids=[0.99, 0.98, 0.97, 0.96, 0.95]).assign(event_ticker="KXCPI-26OCT", snapshot_ts=ts),
    ], ignore_index=True)
    snaps = pd.DataFrame({"event_ticker": ["KXCPI-26SEP", "KXCPI-26OCT"], "snapshot_ts": [ts, ts]})
    result = implied_distributions(rungs, snaps)
    sep = result.snapshots.set_index("event_ticker").loc["KXCPI-26SEP"]
    alone = implied_distribution(_ladder()).snapshots.iloc[0]
    assert sep["n_contracts"] == 5
    assert sep["mean"] == pytest.approx(alone["mean"], abs=1e-12)
    # A rung whose event has no snapshot is an error, not a guess.
    orphan = rungs.assign(event_ticker=["KXCPI-26SEP"] * 5 + ["KXCPI-26"] * 5)
    with pytest.raises(ValueError, match="belong to no snapshot"):
        implied_distributions(orphan, snaps)


# 3. Moments were computed when the direction was unknown. ----------------------------------------


@pytest.mark.parametrize("strike_type", ["custom", "functional", "structured", None, "", "above"])
def test_no_moments_without_a_direction(strike_type) -> None:
    row = implied_distribution(_ladder(strike_type=strike_type)).snapshots.iloc[0]
    assert row["status"] == "direction_unresolved" and row["direction"] == "unresolved"
    assert row[list(MOMENT_COLUMNS)].isna().all()
    assert row["quality_score"] == 0.0 and row["quality_low"]


# 4. Invalid bins went through at full quality. ---------------------------------------------------


@pytest.mark.parametrize("floors, caps", [
    ([1.0, 1.5, 3.0, 4.0], [1.9, 2.9, 3.9, 4.9]),   # overlap
    ([1.0, 2.0, 4.0, 5.0], [1.9, 2.9, 4.9, 5.9]),   # gap (3.0-3.9 missing)
    ([1.0, 1.2, 3.0, 4.0], [2.9, 1.8, 3.9, 4.9]),   # nested
    ([1.0, 1.0, 3.0, 4.0], [1.9, 1.9, 3.9, 4.9]),   # the same bin twice
])
def test_invalid_bins_are_flagged_low_quality(floors, caps) -> None:
    good = implied_distribution(_ladder("between", mids=[0.25] * 4, floors=[1.0, 2.0, 3.0, 4.0],
                                        caps=[1.9, 2.9, 3.9, 4.9])).snapshots.iloc[0]
    bad = implied_distribution(_ladder("between", mids=[0.25] * 4, floors=floors, caps=caps)).snapshots.iloc[0]
    assert not good["quality_low"] and good["violated_constraints_post"] == ""
    assert bad["quality_low"]
    assert bad["violated_constraints_post"] != ""
    assert bad["quality_score"] <= 0.5 * good["quality_score"]


# 5. Early exits returned dicts with fewer fields. -------------------------------------------------


def _one_of_each_status() -> tuple[pd.DataFrame, pd.DataFrame]:
    ts = pd.Timestamp("2026-09-10 12:00")
    stale = _ladder().assign(quote_age_hours=100.0)
    two = _ladder().iloc[:2]
    zero = _ladder("between", mids=[0.0] * 3, floors=[1.0, 2.0, 3.0], caps=[1.9, 2.9, 3.9]).assign(yes_ask=0.0)
    parts = {"ok": _ladder(), "direction_unresolved": _ladder(strike_type="custom"),
             "no_usable_quotes": stale, "too_few_rungs": two, "zero_total_mass": zero}
    rungs = pd.concat([p.assign(event_ticker=name, snapshot_ts=ts) for name, p in parts.items()], ignore_index=True)
    snaps = pd.DataFrame({"event_ticker": [*parts, "empty_ladder"], "snapshot_ts": ts})
    return rungs, snaps


def test_every_status_has_every_column() -> None:
    rungs, snaps = _one_of_each_status()
    result = implied_distributions(rungs, snaps)
    frame = result.snapshots
    assert list(frame.columns) == ["event_ticker", "snapshot_ts", *SNAPSHOT_COLUMNS]
    assert list(frame["status"]) == list(frame["event_ticker"])  # each event hit its own path
    assert set(frame["status"]) == set(STATUSES)
    assert validate_snapshot_frame(frame, ["event_ticker", "snapshot_ts"]) == []
    for status, row in frame.set_index("status").iterrows():
        if status != "ok":
            assert row[list(MOMENT_COLUMNS)].isna().all()
            assert row["quality_low"] and row["quality_score"] == 0.0
    assert set(result.bins["event_ticker"]) == {"ok"}


def test_each_early_exit_alone_has_the_same_schema() -> None:
    rungs, snaps = _one_of_each_status()
    expected = empty_snapshot_frame().dtypes
    for name in snaps["event_ticker"]:
        ladder = rungs[rungs["event_ticker"] == name].drop(columns=["event_ticker", "snapshot_ts"])
        frame = implied_distribution(ladder).snapshots
        assert frame.iloc[0]["status"] == name
        pd.testing.assert_series_equal(frame.dtypes, expected)
    assert len(SNAPSHOT_SCHEMA) == len(set(SNAPSHOT_COLUMNS))


def test_validator_catches_a_short_row() -> None:
    frame = implied_distribution(_ladder()).snapshots
    problems = validate_snapshot_frame(frame.drop(columns=["quality_low", "median"]))
    assert problems and "missing columns" in problems[0]
    leaky = implied_distribution(_ladder(strike_type="custom")).snapshots.assign(mean=1.0)
    assert any("moments present" in p for p in validate_snapshot_frame(leaky))
    full_quality_bad = implied_distribution(_ladder()).snapshots.assign(violated_constraints_post="bins_disjoint")
    assert any("without quality_low" in p for p in validate_snapshot_frame(full_quality_bad))
