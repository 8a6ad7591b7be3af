"""Outcome vintages: ordering, first prints, as-of values, labels and surprises."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_assets.analytics.outcomes import (
    CANDIDATE_COLUMNS,
    LABEL_COLUMNS,
    event_labels,
    events_whose_latest_differs,
    first_print_candidates,
    first_print_disagreements,
    first_print_vs_earliest_vintage,
    first_prints_from_vintages,
    implied_before_release,
    latest_values,
    order_vintages,
    parse_version,
    release_times,
    settlement_values,
    surprise,
    values_as_of,
    values_differ,
    version_number,
    vintages_before_release,
    with_realtime_windows,
)

BASE = pd.Timestamp("2026-01-01 13:30")


def vintage_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_ticker", "vintage_time", "vintage", "value", "source"])


# --- strategies -------------------------------------------------------------------------------


@st.composite
def vintage_sets(draw: st.DrawFn) -> pd.DataFrame:
    """A few events, each with 1-5 vintages at distinct hours, versions as ints or 'vN' labels."""
    rows = []
    for event in range(draw(st.integers(1, 4))):
        hours = draw(st.lists(st.integers(0, 2000), min_size=1, max_size=5, unique=True))
        label_style = draw(st.sampled_from(["int", "v"]))
        for version, hour in enumerate(sorted(hours), start=1):
            value = draw(st.sampled_from([0.1, 0.2, 0.3, 4.25, 150000.0]))
            label = version if label_style == "int" else f"v{version}"
            rows.append((f"EV-{event}", BASE + pd.Timedelta(hours=hour), label, value, "demo"))
    return vintage_frame(rows)


def knowledge_time(frame: pd.DataFrame, data: st.DataObject) -> pd.Timestamp:
    """Any hour, or exactly a vintage's time (where window edges matter), or just before one."""
    vintage_times = sorted(frame["vintage_time"])
    return data.draw(
        st.one_of(
            st.integers(-10, 2100).map(lambda h: BASE + pd.Timedelta(hours=h)),
            st.sampled_from(vintage_times),
            st.sampled_from(vintage_times).map(lambda t: t - pd.Timedelta(microseconds=1)),
        )
    )


# --- versions ---------------------------------------------------------------------------------


def test_version_labels_order_as_numbers_not_strings() -> None:
    assert "v10" < "v9"  # the trap the parser exists for
    assert parse_version("v10") > parse_version("v9")
    assert parse_version("1.10") > parse_version("1.9")
    assert parse_version("V2") == parse_version(2) == parse_version("rev 2") == (2,)
    assert parse_version(np.int64(3)) == (3,)
    assert version_number("v10") == 10
    for bad in ("", "v", "ten", "v1a", -1, True, "1..2"):
        with pytest.raises(ValueError):
            parse_version(bad)
    with pytest.raises(ValueError, match="parts"):
        version_number("1.2")


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_parsed_versions_compare_like_their_numbers(a: int, b: int) -> None:
    assert (parse_version(f"v{a}") < parse_version(f"v{b}")) == (a < b)


def test_same_instant_vintages_order_by_parsed_version() -> None:
    frame = vintage_frame(
        [("E", BASE, "v10", 3.0, "demo"), ("E", BASE, "v9", 2.0, "demo"), ("E", BASE, "v2", 1.0, "demo")]
    )
    assert list(order_vintages(frame)["vintage"]) == ["v2", "v9", "v10"]
    assert latest_values(frame)["value"].tolist() == [3.0]
    assert first_prints_from_vintages(frame)["value"].tolist() == [1.0]


# --- ordering and first prints ------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(frame=vintage_sets(), seed=st.integers(0, 2**32 - 1))
def test_order_does_not_depend_on_arrival_order(frame: pd.DataFrame, seed: int) -> None:
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**32))
    pd.testing.assert_frame_equal(order_vintages(frame), order_vintages(shuffled))


@settings(max_examples=30, deadline=None)
@given(frame=vintage_sets())
def test_first_print_is_the_earliest_vintage(frame: pd.DataFrame) -> None:
    prints = first_prints_from_vintages(frame.sample(frac=1.0, random_state=1)).set_index("event_ticker")
    for event, group in frame.groupby("event_ticker"):
        earliest = group.loc[group["vintage_time"].idxmin()]
        assert prints.loc[event, "value"] == earliest["value"]
        assert prints.loc[event, "release_time"] == earliest["vintage_time"]
        assert parse_version(prints.loc[event, "vintage"]) == (1,)


def test_first_print_skips_missing_values() -> None:
    frame = vintage_frame(
        [("E", BASE, 1, np.nan, "alfred"), ("E", BASE + pd.Timedelta(days=1), 2, 5.0, "alfred")]
    )
    assert first_prints_from_vintages(frame)["value"].tolist() == [5.0]


# --- as-of semantics ----------------------------------------------------------------------------


def test_realtime_windows_are_half_open() -> None:
    t1, t2 = BASE, BASE + pd.Timedelta(days=30)
    frame = with_realtime_windows(vintage_frame([("E", t2, 2, 2.0, "demo"), ("E", t1, 1, 1.0, "demo")]))
    assert frame["realtime_start"].tolist() == [t1, t2]
    assert frame["realtime_end"].iloc[0] == t2 and pd.isna(frame["realtime_end"].iloc[1])
    assert values_as_of(frame, t1 - pd.Timedelta(seconds=1)).empty
    assert values_as_of(frame, t1)["value"].tolist() == [1.0]
    assert values_as_of(frame, t2 - pd.Timedelta(seconds=1))["value"].tolist() == [1.0]
    assert values_as_of(frame, t2)["value"].tolist() == [2.0]  # start inclusive, end exclusive
    assert values_as_of(frame, pd.Timestamp(t2, tz="UTC"))["value"].tolist() == [2.0]


@settings(max_examples=40, deadline=None)
@given(frame=vintage_sets(), data=st.data())
def test_as_of_uses_only_vintages_known_at_that_time(frame: pd.DataFrame, data: st.DataObject) -> None:
    moment = knowledge_time(frame, data)
    known = frame[frame["vintage_time"] <= moment]
    as_of = values_as_of(frame, moment)
    expected = latest_values(known) if len(known) else as_of.iloc[0:0]
    pd.testing.assert_frame_equal(as_of, expected)
    assert (as_of["vintage_time"] <= moment).all()


@settings(max_examples=30, deadline=None)
@given(frame=vintage_sets(), data=st.data())
def test_labels_as_of_ignore_later_vintages(frame: pd.DataFrame, data: st.DataObject) -> None:
    moment = knowledge_time(frame, data)
    prints = first_prints_from_vintages(frame)
    full = event_labels(prints, frame, None, moment)
    known_only = event_labels(prints, frame[frame["vintage_time"] <= moment], None, moment)
    pd.testing.assert_frame_equal(full, known_only)
    assert (full["label_known_at"] <= moment).all()
    assert list(full.columns) == list(LABEL_COLUMNS)


# --- labels -------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(frame=vintage_sets())
def test_modes_differ_exactly_for_revised_events(frame: pd.DataFrame) -> None:
    prints = first_prints_from_vintages(frame)
    after_everything = BASE + pd.Timedelta(days=400)
    labels = event_labels(prints, frame, None, after_everything).set_index(["event_ticker", "label_mode"])
    differing = sorted(
        event
        for event in prints["event_ticker"]
        if values_differ(
            labels.loc[(event, "first_print"), "realized_value"],
            labels.loc[(event, "latest"), "realized_value"],
        )
    )
    assert differing == events_whose_latest_differs(prints, frame)
    revised = {e for e, g in frame.groupby("event_ticker") if g["value"].iloc[-1] != g["value"].iloc[0]}
    assert set(differing) == revised


def test_labels_know_the_release_time_and_the_vintage_time() -> None:
    release, revision = BASE, BASE + pd.Timedelta(days=30)
    frame = vintage_frame([("E", release, 1, 2.0, "demo"), ("E", revision, 2, 2.4, "demo")])
    prints = first_prints_from_vintages(frame)
    implied = pd.DataFrame(
        {
            "event_ticker": ["E"],
            "snapshot_ts": [release - pd.Timedelta(hours=1)],
            "implied_mean": [1.8],
            "implied_sd": [0.4],
        }
    )
    labels = event_labels(prints, frame, implied, revision + pd.Timedelta(days=1)).set_index("label_mode")
    first, latest = labels.loc["first_print"], labels.loc["latest"]
    assert (first["realized_value"], first["label_known_at"]) == (2.0, release)
    assert (latest["realized_value"], latest["label_known_at"]) == (2.4, revision)
    assert math.isclose(first["surprise"], 0.2) and math.isclose(first["surprise_z"], 0.5)
    assert math.isclose(latest["surprise"], 0.6) and math.isclose(latest["surprise_z"], 1.5)
    # Before the revision, both modes carry the first print; before the release, no label at all.
    early = event_labels(prints, frame, implied, revision - pd.Timedelta(minutes=1))
    assert early["realized_value"].tolist() == [2.0, 2.0]
    assert event_labels(prints, frame, implied, release - pd.Timedelta(minutes=1)).empty


def test_labels_without_distributions_have_empty_surprise() -> None:
    frame = vintage_frame([("E", BASE, 1, 2.0, "demo")])
    labels = event_labels(first_prints_from_vintages(frame), frame, None, BASE + pd.Timedelta(days=1))
    assert len(labels) == 2
    assert labels["surprise"].isna().all() and labels["surprise_z"].isna().all()
    assert labels["implied_snapshot_ts"].isna().all()


def test_latest_falls_back_to_a_first_print_without_vintages() -> None:
    prints = pd.DataFrame(
        {"event_ticker": ["K"], "value": [4.25], "release_time": [BASE], "source": ["kalshi"]}
    )
    labels = event_labels(prints, vintage_frame([]), None, BASE + pd.Timedelta(days=1))
    assert labels[["label_mode", "realized_value", "source"]].values.tolist() == [
        ["first_print", 4.25, "kalshi"],
        ["latest", 4.25, "kalshi"],
    ]


def test_unknown_label_mode_is_rejected() -> None:
    frame = vintage_frame([("E", BASE, 1, 2.0, "demo")])
    with pytest.raises(ValueError, match="label_mode"):
        event_labels(first_prints_from_vintages(frame), frame, None, BASE, modes=("final",))


def test_surprise_and_z_score() -> None:
    gap, z = surprise([0.3, 0.3, 0.3, np.nan], [0.2, 0.2, np.nan, 0.2], [0.05, 0.0, 0.1, 0.1])
    assert np.allclose(gap[:2], [0.1, 0.1]) and np.isnan(gap[2]) and np.isnan(gap[3])
    assert math.isclose(z[0], 2.0) and np.isnan(z[1]) and np.isnan(z[2]) and np.isnan(z[3])


def test_implied_distribution_is_the_last_one_before_release() -> None:
    snaps = pd.DataFrame(
        {
            "event_ticker": ["E", "E", "E", "F"],
            "snapshot_ts": [BASE - pd.Timedelta(days=2), BASE - pd.Timedelta(hours=1), BASE, BASE],
            "implied_mean": [1.0, 2.0, 3.0, 9.0],
            "implied_sd": [0.1, 0.2, 0.3, 0.9],
        }
    )
    releases = pd.DataFrame({"event_ticker": ["E", "F"], "release_time": [BASE, BASE]})
    picked = implied_before_release(snaps, releases)
    assert picked["event_ticker"].tolist() == ["E"]  # F's only snapshot is at the release: too late
    assert picked["implied_mean"].tolist() == [2.0]


# --- checks and settlement ------------------------------------------------------------------------


def test_disagreements_and_earliest_vintage_checks() -> None:
    stored = pd.DataFrame(
        {
            "event_ticker": ["A", "B"],
            "value": [0.3, 4.0],
            "release_time": [BASE, BASE],
            "source": ["demo", "demo"],
        }
    )
    candidates = pd.DataFrame(
        {"event_ticker": ["A", "B", "C"], "value": [0.3, 4.1, 1.0], "source": ["kalshi"] * 3}
    )
    disagreements = first_print_disagreements(stored, candidates)
    assert disagreements[["event_ticker", "value", "stored_value"]].values.tolist() == [["B", 4.1, 4.0]]
    vintages = vintage_frame(
        [("A", BASE, 1, 0.3, "demo"), ("B", BASE, 1, 4.2, "demo"), ("C", BASE, 1, 1.0, "demo")]
    )
    mismatched = first_print_vs_earliest_vintage(stored, vintages)
    assert mismatched["event_ticker"].tolist() == ["B"]
    releases = pd.DataFrame(
        {"event_ticker": ["A", "B", "C"], "release_time": [BASE, BASE + pd.Timedelta(minutes=1), pd.NaT]}
    )
    # C has no Kalshi release time: its first print's release time stands in.
    resolved = release_times(releases, stored.assign(event_ticker=["C", "B"]))
    assert resolved.values.tolist() == [["A", BASE], ["B", BASE + pd.Timedelta(minutes=1)], ["C", BASE]]
    assert vintages_before_release(vintages, resolved)["event_ticker"].tolist() == ["B"]


def test_settlement_values_from_markets() -> None:
    markets = pd.DataFrame(
        {
            "event_ticker": ["A", "A", "B", "B", "C", "D"],
            "result": ["yes", "no", "yes", "no", "", "scalar"],
            "expiration_value_num": [0.3, 0.3, 4.0, 4.25, 1.0, np.nan],
            "settlement_ts": [BASE, BASE + pd.Timedelta(minutes=5), BASE, BASE, BASE, BASE],
        }
    )
    values, conflicts = settlement_values(markets)
    assert values.values.tolist() == [["A", 0.3, BASE]]  # C unsettled, D without a value
    assert conflicts["event_ticker"].tolist() == ["B"] and conflicts["values"].iloc[0] == [4.0, 4.25]


def test_values_differ() -> None:
    assert not values_differ(0.1 + 0.2, 0.3)
    assert values_differ(0.3, 0.31) and values_differ(None, 0.3) and not values_differ(np.nan, None)
    with pytest.raises(ValueError, match="lacks columns"):
        order_vintages(pd.DataFrame({"event_ticker": ["E"]}))


def test_first_print_candidates_put_the_vintage_source_first() -> None:
    vintages = vintage_frame(
        [("A", BASE, 1, 0.3, "demo"), ("A", BASE + pd.Timedelta(days=30), 2, 0.4, "demo")]
    )
    vintages["series_ticker"], vintages["reference_period"] = "KXCPI", pd.Timestamp("2026-08-01")
    settle = BASE + pd.Timedelta(hours=2)
    markets = pd.DataFrame(
        {
            "event_ticker": ["A", "B", "C", "C"],
            "result": ["yes", "no", "yes", "no"],
            "expiration_value_num": [0.3, 4.25, 1.0, 2.0],
            "settlement_ts": [settle] * 4,
        }
    )
    releases = pd.DataFrame({"event_ticker": ["A"], "series_ticker": ["KXCPI"], "release_time": [BASE]})
    candidates, conflicts = first_print_candidates(vintages, markets, releases)
    assert candidates[["event_ticker", "source", "value", "release_time"]].values.tolist() == [
        ["A", "demo", 0.3, BASE],
        ["A", "kalshi", 0.3, BASE],  # Kalshi's copy counts from the release, not from its settlement
        ["B", "kalshi", 4.25, settle],  # no known release time: the settlement time is the best we have
    ]
    assert conflicts["event_ticker"].tolist() == ["C"]
    empty, _ = first_print_candidates(vintages.iloc[0:0], markets.iloc[0:0], releases)
    assert empty.empty and list(empty.columns) == list(CANDIDATE_COLUMNS)


def test_first_print_candidates_keep_the_reference_period_a_date_when_kalshi_has_none() -> None:
    vintages = vintage_frame([("A", BASE, 1, 0.3, "demo")])
    vintages["series_ticker"], vintages["reference_period"] = "KXCPI", pd.Timestamp("2026-08-01")
    markets = pd.DataFrame({"event_ticker": ["B"], "result": ["yes"], "expiration_value_num": [4.25],
                            "settlement_ts": [BASE]})
    releases = pd.DataFrame({"event_ticker": ["A"], "series_ticker": ["KXCPI"], "release_time": [BASE]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # pandas: concat skipping all-NA columns is deprecated
        candidates, _ = first_print_candidates(vintages, markets, releases)
    assert candidates["source"].tolist() == ["demo", "kalshi"]
    assert pd.api.types.is_datetime64_any_dtype(candidates["reference_period"])
    assert candidates["reference_period"].isna().tolist() == [False, True]
