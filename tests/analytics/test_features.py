"""As-of rules for event features: never closer to the release than the purge window, never after asof."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_assets.analytics.features import asof_features, feature_asof, feature_grid, feature_leaks
from kalshi_assets.settings import EVENT_TYPES, purge_window_days

RELEASE = pd.Timestamp("2026-03-11 12:30")


def test_feature_asof_is_the_earlier_of_horizon_and_purge():
    assert feature_asof(RELEASE, 1, 3) == RELEASE - pd.Timedelta(days=3)
    assert feature_asof(RELEASE, 7, 3) == RELEASE - pd.Timedelta(days=7)
    assert feature_asof(RELEASE, 3, 3) == RELEASE - pd.Timedelta(days=3)
    with pytest.raises(ValueError):
        feature_asof(RELEASE, -1, 3)
    with pytest.raises(ValueError, match="missing"):
        feature_asof(pd.NaT, 1, 3)


def test_cpi_features_at_least_three_days_before_release_by_default_and_five_with_override():
    events = pd.DataFrame({"event_ticker": ["KXCPI-26MAR"], "event_type": ["CPI"], "release_time": [RELEASE]})
    default = feature_grid(events, horizons_days=(1, 3, 7))
    assert purge_window_days("CPI") == 3
    assert (RELEASE - default["as_of"] >= pd.Timedelta(days=3)).all()
    assert list(RELEASE - default["as_of"]) == [pd.Timedelta(days=d) for d in (3, 3, 7)]
    widened = feature_grid(events, horizons_days=(1, 3, 7), purge_windows={"CPI": 5})
    assert list(RELEASE - widened["as_of"]) == [pd.Timedelta(days=d) for d in (5, 5, 7)]
    assert (widened["purge_days"] == 5).all()


def test_per_type_defaults_apply():
    events = pd.DataFrame(
        {"event_ticker": [f"E{t}" for t in EVENT_TYPES], "event_type": list(EVENT_TYPES), "release_time": RELEASE}
    )
    grid = feature_grid(events, horizons_days=(0,)).set_index("event_type")
    expected = {"CPI": 3, "FOMC": 1, "UNEMPLOYMENT": 2, "GDP": 3, "PAYROLLS": 2}
    assert grid["purge_days"].to_dict() == expected
    for event_type, days in expected.items():
        assert grid.loc[event_type, "as_of"] == RELEASE - pd.Timedelta(days=days)


def snapshots_for(event: str, start: pd.Timestamp, hours: int, every_hours: int = 6) -> pd.DataFrame:
    times = [start + pd.Timedelta(hours=h) for h in range(0, hours, every_hours)]
    return pd.DataFrame(
        {
            "event_ticker": event,
            "snapshot_ts": times,
            "implied_mean": np.arange(len(times), dtype=float),
            "quality_score": 0.5,
        }
    )


def test_asof_features_take_latest_snapshot_at_or_before_asof_and_changes():
    events = pd.DataFrame({"event_ticker": ["A"], "event_type": ["FOMC"], "release_time": [RELEASE]})
    grid = feature_grid(events, horizons_days=(1, 3))
    snaps = snapshots_for("A", RELEASE - pd.Timedelta(days=10), 24 * 10 + 24)  # also snapshots after release
    out = asof_features(grid, snaps, ["implied_mean", "quality_score"], ["implied_mean"], change_window_days=2)
    for row in out.itertuples():
        assert row.snapshot_ts <= row.as_of
        assert row.as_of - row.snapshot_ts < pd.Timedelta(hours=6)
        assert row.prior_snapshot_ts <= row.as_of - pd.Timedelta(days=2)
        # 6-hourly snapshots with mean = index: 2 days = 8 snapshots.
        assert row.chg_implied_mean == pytest.approx(8.0)
    assert feature_leaks(out).empty


def test_event_without_snapshot_keeps_its_row_empty():
    events = pd.DataFrame({"event_ticker": ["A", "B"], "event_type": ["CPI", "GDP"], "release_time": [RELEASE] * 2})
    grid = feature_grid(events, horizons_days=(1,))
    snaps = snapshots_for("A", RELEASE - pd.Timedelta(days=10), 24 * 10)
    out = asof_features(grid, snaps, ["implied_mean"], ["implied_mean"]).set_index("event_ticker")
    assert pd.isna(out.loc["B", "snapshot_ts"]) and np.isnan(out.loc["B", "implied_mean"])
    assert pd.notna(out.loc["A", "snapshot_ts"])


def test_feature_leaks_flags_a_snapshot_after_asof():
    events = pd.DataFrame({"event_ticker": ["A"], "event_type": ["CPI"], "release_time": [RELEASE]})
    grid = feature_grid(events, horizons_days=(1,))
    out = asof_features(grid, snapshots_for("A", RELEASE - pd.Timedelta(days=10), 240), ["implied_mean"], [])
    assert feature_leaks(out).empty
    tampered = out.assign(snapshot_ts=out["as_of"] + pd.Timedelta(minutes=1))
    assert len(feature_leaks(tampered)) == 1
    too_close = out.assign(as_of=RELEASE - pd.Timedelta(days=1), snapshot_ts=RELEASE - pd.Timedelta(days=1))
    assert len(feature_leaks(too_close)) == 1


def test_bad_input_is_refused():
    events = pd.DataFrame({"event_ticker": ["A"], "event_type": ["CPI"], "release_time": [RELEASE]})
    with pytest.raises(ValueError, match="lack columns"):
        feature_grid(events.drop(columns=["release_time"]))
    grid = feature_grid(events)
    with pytest.raises(ValueError, match="lack columns"):
        asof_features(grid, pd.DataFrame({"event_ticker": [], "snapshot_ts": []}), ["implied_mean"], [])
    with pytest.raises(ValueError, match="change columns"):
        asof_features(grid, snapshots_for("A", RELEASE, 24), ["quality_score"], ["implied_mean"])


@settings(max_examples=60, deadline=None)
@given(
    release_offsets=st.lists(st.integers(0, 24 * 200), min_size=1, max_size=8),
    event_type=st.sampled_from(EVENT_TYPES),
    horizons=st.lists(st.integers(0, 10), min_size=1, max_size=3, unique=True),
    override=st.one_of(st.none(), st.integers(0, 9)),
    snapshot_hours=st.lists(st.integers(0, 24 * 220), min_size=0, max_size=60),
)
def test_no_feature_uses_anything_after_asof(release_offsets, event_type, horizons, override, snapshot_hours):
    base = pd.Timestamp("2025-01-01")
    events = pd.DataFrame(
        {
            "event_ticker": [f"E{i}" for i in range(len(release_offsets))],
            "event_type": event_type,
            "release_time": [base + pd.Timedelta(hours=h) for h in release_offsets],
        }
    )
    windows = {event_type: override} if override is not None else None
    grid = feature_grid(events, horizons_days=horizons, purge_windows=windows)
    snaps = pd.DataFrame(
        {
            "event_ticker": [f"E{h % len(release_offsets)}" for h in snapshot_hours],
            "snapshot_ts": [base + pd.Timedelta(hours=h) for h in snapshot_hours],
            "implied_mean": [float(h) for h in snapshot_hours],
        }
    )
    out = asof_features(grid, snaps, ["implied_mean"], ["implied_mean"])
    window = purge_window_days(event_type, windows)
    assert (out["release_time"] - out["as_of"] >= pd.Timedelta(days=window)).all()
    assert (out["release_time"] - out["as_of"] >= pd.to_timedelta(out["horizon_days"], unit="D")).all()
    used = out.dropna(subset=["snapshot_ts"])
    assert (used["snapshot_ts"] <= used["as_of"]).all()
    # The value is the snapshot's own (hours since base), and it is the latest one at or before asof.
    for row in used.itertuples():
        candidates = snaps[(snaps["event_ticker"] == row.event_ticker) & (snaps["snapshot_ts"] <= row.as_of)]
        assert row.snapshot_ts == candidates["snapshot_ts"].max()
    assert feature_leaks(out).empty


def test_a_snapshot_older_than_max_age_is_not_used():
    events = pd.DataFrame({"event_ticker": ["A"], "event_type": ["FOMC"], "release_time": [RELEASE]})
    grid = feature_grid(events, horizons_days=(1,))
    # Snapshots stop 30 hours before asof (release - 1 day).
    snaps = snapshots_for("A", RELEASE - pd.Timedelta(days=10), 24 * 9 - 30 + 1)
    fresh = asof_features(grid, snaps, ["implied_mean"], ["implied_mean"], max_age_hours=48)
    assert pd.notna(fresh.loc[0, "snapshot_ts"])
    stale = asof_features(grid, snaps, ["implied_mean"], ["implied_mean"], max_age_hours=24)
    assert pd.isna(stale.loc[0, "snapshot_ts"]) and np.isnan(stale.loc[0, "implied_mean"])
    assert np.isnan(stale.loc[0, "chg_implied_mean"])


def test_complete_feature_table_adds_series_activity_and_observed_until():
    from datetime import datetime

    from kalshi_assets.analytics.features import (
        complete_feature_table,
        features_by_event_type,
        inside_purge_window,
    )

    as_of = pd.Timestamp("2025-03-09")
    features = pd.DataFrame({
        "event_ticker": ["E1", "E2"], "event_type": ["CPI", "FOMC"], "horizon_days": [1, 1],
        "release_time": [pd.Timestamp("2025-03-12"), pd.Timestamp("2025-03-10")], "purge_days": [3, 1],
        "as_of": [as_of, as_of], "snapshot_ts": [as_of - pd.Timedelta(hours=2), pd.NaT],
        "prior_snapshot_ts": [as_of - pd.Timedelta(days=3), pd.NaT],
    })
    events = pd.DataFrame({"event_ticker": ["E1", "E2"], "series_ticker": ["KXCPI", "KXFED"]})
    activity = pd.DataFrame({"event_ticker": ["E1"], "horizon_days": [1], "ladder_volume": [10.0],
                             "ladder_open_interest": [5.0], "last_quote_ts": [as_of - pd.Timedelta(hours=1)]})
    table = complete_feature_table(features, events, activity, 3.0, datetime(2025, 3, 9))
    assert list(table["series_ticker"]) == ["KXCPI", "KXFED"]
    assert table.loc[0, "observed_until"] == as_of - pd.Timedelta(hours=1)  # the quote, the latest input
    assert pd.isna(table.loc[1, "observed_until"]) and "last_quote_ts" not in table.columns
    summary = features_by_event_type(table).set_index("event_type")
    assert summary.loc["CPI", "rows_with_snapshot"] == 1 and summary.loc["FOMC", "rows_with_snapshot"] == 0
    assert summary.loc["CPI", "min_days_before_release"] == 3.0
    # Under a 4-day CPI window the CPI row (3 days before release) is too close; FOMC's 1 day is fine.
    assert list(inside_purge_window(table, {"CPI": 4, "FOMC": 1})["event_ticker"]) == ["E1"]
    assert inside_purge_window(table, {"CPI": 3, "FOMC": 1}).empty
