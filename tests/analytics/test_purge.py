"""Purged walk-forward: roles, the overlap rule, and a side-by-side with timeseriescv's PurgedWalkForwardCV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_assets.analytics.purge import (
    ROLE_EXCLUDED,
    ROLE_PURGED,
    ROLE_TEST,
    ROLE_TRAIN,
    PurgedWalkForward,
    event_intervals,
    intervals_overlap,
    role_table_violations,
)
from kalshi_assets.settings import EVENT_TYPES, purge_window_days

START = pd.Timestamp("2025-01-01")


def make_samples(releases_days, types, leads_days, horizons=(0,)) -> pd.DataFrame:
    """One row per (event, horizon): asof = release - lead - horizon, label at the release."""
    rows = []
    for i, (release_day, event_type, lead) in enumerate(zip(releases_days, types, leads_days, strict=True)):
        release = START + pd.Timedelta(days=float(release_day))
        for horizon in horizons:
            rows.append(
                {
                    "event_ticker": f"EV{i:03d}",
                    "event_type": event_type,
                    "as_of": release - pd.Timedelta(days=float(lead + horizon)),
                    "label_time": release,
                    "release_time": release,
                }
            )
    return pd.DataFrame(rows)


def brute_force_roles(samples: pd.DataFrame, n_test: int, min_train: int, window: int | None, purge_windows=None):
    """A second, literal reading of docs/METHODS.md section 3: {fold: (train set, test set, purged set)}."""
    events = {}
    for row in samples.itertuples(index=False):
        e = events.setdefault(row.event_ticker, {"type": row.event_type, "t0": row.as_of, "t1": row.label_time,
                                                 "release": row.release_time})
        e["t0"] = min(e["t0"], row.as_of)
        e["t1"] = max(e["t1"], row.label_time)
    order = sorted(events, key=lambda t: (events[t]["release"], t))
    out = {}
    fold = 0
    for start in range(min_train, len(order), n_test):
        test = order[start:start + n_test]
        pool = order[:start] if window is None else order[max(0, start - window):start]
        train, purged = set(), set()
        for name in pool:
            e = events[name]
            widened = e["t1"] + pd.Timedelta(days=purge_window_days(e["type"], purge_windows))
            hit = False
            for other in test:
                o = events[other]
                # t0_j <= t0_i <= t1_j, or t0_j <= t1_i <= t1_j, or t0_i <= t0_j and t1_j <= t1_i
                if (o["t0"] <= e["t0"] <= o["t1"]) or (o["t0"] <= widened <= o["t1"]) or (
                    e["t0"] <= o["t0"] and o["t1"] <= widened
                ):
                    hit = True
            (purged if hit else train).add(name)
        out[fold] = (train, set(test), purged)
        fold += 1
    return out


event_sets = st.integers(min_value=4, max_value=24).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.sampled_from(EVENT_TYPES), min_size=n, max_size=n),
        st.lists(st.floats(min_value=0, max_value=15, allow_nan=False), min_size=n, max_size=n),
    )
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=event_sets,
    n_test=st.integers(1, 5),
    min_train=st.integers(1, 8),
    rolling=st.one_of(st.none(), st.integers(1, 10)),
    cpi_window=st.integers(0, 10),
)
def test_purged_training_events_never_overlap_their_test_block(events, n_test, min_train, rolling, cpi_window):
    releases, types, leads = events
    samples = make_samples(releases, types, leads, horizons=(0, 2))
    splitter = PurgedWalkForward(
        n_test_events=n_test,
        min_train_events=min_train,
        mode="rolling" if rolling else "expanding",
        window=rolling,
        purge_windows={"CPI": cpi_window},
    )
    roles = splitter.roles(samples)
    intervals = event_intervals(samples, purge_windows={"CPI": cpi_window}).set_index("event_ticker")
    reference = brute_force_roles(samples, n_test, min_train, rolling, {"CPI": cpi_window})
    assert set(reference) == set(roles["fold"].unique())
    for fold, group in roles.groupby("fold"):
        # Every event has exactly one role per fold, with a reason.
        assert sorted(group["event_ticker"]) == sorted(intervals.index)
        assert group["reason"].str.len().gt(0).all()
        test = group[group["role"] == ROLE_TEST]
        train = group[group["role"] == ROLE_TRAIN]
        for tr0, tr1, tr_release in zip(train["t0"], train["t1_widened"], train["release_time"], strict=True):
            for te0, te1 in zip(test["t0"], test["t1"], strict=True):
                assert not intervals_overlap(tr0, tr1, te0, te1)
            assert tr_release <= test["release_time"].min()
        # Same sets as the brute-force reading of the rule: nothing over- or under-purged.
        ref_train, ref_test, ref_purged = reference[fold]
        assert set(train["event_ticker"]) == ref_train
        assert set(test["event_ticker"]) == ref_test
        assert set(group.loc[group["role"] == ROLE_PURGED, "event_ticker"]) == ref_purged
    assert role_table_violations(roles) == []
    # split() yields row positions of the same events.
    for (train_idx, test_idx), fold in zip(splitter.split(samples), splitter.folds(samples), strict=True):
        assert set(samples.iloc[train_idx]["event_ticker"]) == set(fold.train_events)
        assert set(samples.iloc[test_idx]["event_ticker"]) == set(fold.test_events)
        assert not set(train_idx) & set(test_idx)


def test_role_table_names_every_role_and_reason():
    # Weekly events alternating CPI/FOMC; features 1 day ahead of each release.
    types = ["CPI", "FOMC"] * 6
    samples = make_samples([7 * i for i in range(12)], types, [1] * 12)
    splitter = PurgedWalkForward(n_test_events=2, min_train_events=4)
    roles = splitter.roles(samples)
    fold0 = roles[roles["fold"] == 0].set_index("event_ticker")
    assert list(fold0.loc[["EV004", "EV005"], "role"]) == [ROLE_TEST, ROLE_TEST]
    # EV003 (FOMC, released day 21, widened to day 22) does not reach EV004's features (day 27): train.
    assert fold0.loc["EV003", "role"] == ROLE_TRAIN
    # Events after the block are never trained on: excluded, whatever an embargo would have said.
    assert (fold0.loc[[f"EV{i:03d}" for i in range(6, 12)], "role"] == ROLE_EXCLUDED).all()
    assert "future" in fold0.loc["EV011", "reason"]
    # The re-check catches a future event relabelled as train.
    tampered = roles.copy()
    tampered.loc[(tampered["fold"] == 0) & (tampered["event_ticker"] == "EV007"), "role"] = ROLE_TRAIN
    assert any("released after its test block" in p for p in role_table_violations(tampered))


def test_cpi_window_purges_the_event_just_before_the_test_block():
    # A CPI event released 4 days before the next event's features: kept with a 3-day window, purged at 5.
    samples = make_samples([0, 10, 20, 30, 35], ["FOMC", "FOMC", "FOMC", "CPI", "GDP"], [1, 1, 1, 1, 1])
    default = PurgedWalkForward(n_test_events=1, min_train_events=4).roles(samples)
    widened = PurgedWalkForward(n_test_events=1, min_train_events=4, purge_windows={"CPI": 5}).roles(samples)
    assert default.set_index("event_ticker").loc["EV003", "role"] == ROLE_TRAIN
    row = widened.set_index("event_ticker").loc["EV003"]
    assert row["role"] == ROLE_PURGED
    assert "CPI's 5-day purge" in row["reason"] and "EV004" in row["reason"]


def test_rolling_window_excludes_older_events():
    samples = make_samples([10 * i for i in range(8)], ["FOMC"] * 8, [1] * 8)
    roles = PurgedWalkForward(n_test_events=2, min_train_events=4, mode="rolling", window=3).roles(samples)
    fold1 = roles[roles["fold"] == 1].set_index("event_ticker")
    assert list(fold1.loc[["EV003", "EV004", "EV005"], "role"]) == [ROLE_TRAIN] * 3
    assert (fold1.loc[["EV000", "EV001", "EV002"], "role"] == ROLE_EXCLUDED).all()
    assert fold1.loc["EV000", "reason"].startswith("older than the rolling window")


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="rolling"):
        PurgedWalkForward(mode="rolling")
    with pytest.raises(ValueError, match="mode"):
        PurgedWalkForward(mode="sideways")
    samples = make_samples([0, 1], ["CPI", "CPI"], [1, 1])
    with pytest.raises(ValueError, match="lack columns"):
        PurgedWalkForward().roles(samples.drop(columns=["as_of"]))
    late = samples.assign(as_of=samples["label_time"] + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="t0 > t1"):
        PurgedWalkForward(min_train_events=1, n_test_events=1).roles(late)
    mixed = samples.assign(event_ticker="SAME")
    mixed.loc[1, "event_type"] = "GDP"
    with pytest.raises(ValueError, match="more than one event type"):
        PurgedWalkForward(min_train_events=1, n_test_events=1).roles(mixed)


# --- side by side with a reference splitter ---------------------------------------------------------

timeseriescv = pytest.importorskip("timeseriescv.cross_validation")


def reference_splits(samples: pd.DataFrame, n_splits: int, min_train_splits: int, max_train_splits, purge_windows=None):
    """timeseriescv's PurgedWalkForwardCV on the same samples.

    Configured equivalently: one sample per event in release order, folds of n_test_events samples,
    pred_times = asof and eval_times = release widened by the event type's purge window (timeseriescv
    purges a train sample when its eval time reaches the first test sample's pred time).
    """
    widened = samples["label_time"] + pd.to_timedelta(
        [purge_window_days(t, purge_windows) for t in samples["event_type"]], unit="D"
    )
    cv = timeseriescv.PurgedWalkForwardCV(
        n_splits=n_splits, n_test_splits=1, min_train_splits=min_train_splits, max_train_splits=max_train_splits
    )
    X = samples[["as_of"]]
    return list(cv.split(X, pred_times=samples["as_of"], eval_times=widened))


@settings(max_examples=100, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.5, max_value=20), min_size=24, max_size=24),
    types=st.lists(st.sampled_from(EVENT_TYPES), min_size=24, max_size=24),
    lead=st.floats(min_value=0, max_value=10),
    n_test=st.sampled_from([1, 2, 3, 4]),
    min_train_blocks=st.integers(1, 3),
    rolling_blocks=st.one_of(st.none(), st.integers(1, 3)),
)
def test_same_train_and_test_sets_as_timeseriescv(gaps, types, lead, n_test, min_train_blocks, rolling_blocks):
    # One sample per event and the same lead for all, so asof order equals release order (timeseriescv
    # assumes sorted prediction times) and 24 events split into blocks of n_test exactly.
    releases = np.cumsum(gaps)
    samples = make_samples(releases, types, [lead] * 24)
    n_splits = 24 // n_test
    if min_train_blocks >= n_splits - 1:
        return
    max_train = rolling_blocks if rolling_blocks and rolling_blocks <= n_splits - 1 else None
    ours = PurgedWalkForward(
        n_test_events=n_test,
        min_train_events=min_train_blocks * n_test,
        mode="rolling" if max_train else "expanding",
        window=max_train * n_test if max_train else None,
    )
    theirs = reference_splits(samples, n_splits, min_train_blocks, max_train)
    mine = list(ours.split(samples))
    assert len(mine) == len(theirs)
    for (train, test), (ref_train, ref_test) in zip(mine, theirs, strict=True):
        assert sorted(test) == sorted(ref_test)
        assert sorted(train) == sorted(ref_train)


def test_where_timeseriescv_differs_unsorted_prediction_times():
    """timeseriescv purges against the first test sample's prediction time only, assuming prediction
    times sorted; when a later-released test event is observed earlier (a longer horizon), it keeps a
    training event whose label interval overlaps that test event. The overlap rule purges it."""
    # EV002 (release day 20, features day 18) and EV003 (release day 22, features day 14: 8-day lead).
    samples = make_samples([0, 13, 20, 22, 40, 50], ["FOMC"] * 6, [1, 1, 2, 8, 1, 1])
    theirs = reference_splits(samples, n_splits=3, min_train_splits=1, max_train_splits=None)
    ours = PurgedWalkForward(n_test_events=2, min_train_events=2)
    mine = list(ours.split(samples))
    (train, test), (ref_train, ref_test) = mine[0], theirs[0]
    assert sorted(test) == sorted(ref_test) == [2, 3]
    # EV001: label interval [day 12, day 13 + 1-day FOMC purge = 14] touches EV003's [14, 22].
    assert 1 in ref_train and 1 not in train
    row = ours.roles(samples).query("fold == 0").set_index("event_ticker").loc["EV001"]
    assert row["role"] == ROLE_PURGED and "EV003" in row["reason"]
    # The next fold's test block is in prediction-time order again: the two agree.
    assert sorted(mine[1][0]) == sorted(theirs[1][0]) and sorted(mine[1][1]) == sorted(theirs[1][1])


def test_role_counts_stale_windows_and_labelled_samples():
    from kalshi_assets.analytics.purge import labelled_samples, roles_per_fold, stale_purge_windows

    samples = make_samples([7 * i for i in range(8)], ["CPI", "FOMC"] * 4, [1] * 8)
    roles = PurgedWalkForward(n_test_events=2, min_train_events=4).roles(samples)
    counts = roles_per_fold(roles).set_index("fold")
    assert list(counts.columns) == ["train", "test", "purged", "excluded"]
    assert (counts.sum(axis=1) == 8).all() and (counts["test"] == 2).all()
    assert roles_per_fold(roles.iloc[0:0]).empty
    assert stale_purge_windows(roles, {"CPI": 3, "FOMC": 1}) == []
    stale = stale_purge_windows(roles, {"CPI": 5, "FOMC": 1})
    assert stale and all("settings say 5" in p for p in stale)
    features = pd.DataFrame({"event_ticker": ["A", "B", "C"], "implied_mean": [1.0, None, 2.0]})
    labels = pd.DataFrame({"event_ticker": ["A", "B"], "label_known_at": pd.to_datetime(["2025-01-01"] * 2)})
    assert list(labelled_samples(features, labels)["event_ticker"]) == ["A"]  # B has no mean, C no label
