"""Combinatorial purged CV: roles, paths, the embargo, and a side by side with skfolio's CombinatorialPurgedCV."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_assets.analytics.cpcv import (
    CombinatorialPurgedCV,
    group_sizes,
    n_paths,
    path_assignment,
    path_trades,
    split_violations,
)
from kalshi_assets.analytics.purge import ROLE_EMBARGOED, ROLE_PURGED, ROLE_TEST, ROLE_TRAIN
from kalshi_assets.settings import EVENT_TYPES

START = pd.Timestamp("2025-01-01")
skfolio_cv = pytest.importorskip("skfolio.model_selection")


def regular_samples(n: int, gap_days: int, lead_days: int, types: list[str] | None = None) -> pd.DataFrame:
    """One sample per event: releases every gap_days, features lead_days before each release."""
    releases = [START + pd.Timedelta(days=gap_days * i) for i in range(n)]
    return pd.DataFrame(
        {
            "event_ticker": [f"EV{i:03d}" for i in range(n)],
            "event_type": types or ["CPI"] * n,
            "as_of": [r - pd.Timedelta(days=lead_days) for r in releases],
            "label_time": releases,
            "release_time": releases,
        }
    )


def all_types(window: int) -> dict[str, int]:
    return {t: window for t in EVENT_TYPES}


def skfolio_splits(n: int, n_groups: int, k: int, purged: int, embargo: int) -> list[tuple[list[int], list[int]]]:
    cv = skfolio_cv.CombinatorialPurgedCV(n_folds=n_groups, n_test_folds=k, purged_size=purged, embargo_size=embargo)
    return [
        (sorted(train.tolist()), sorted(np.concatenate(tests).tolist()))
        for train, tests in cv.split(np.zeros((n, 1)))
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_groups=st.integers(3, 7),
    k_offset=st.integers(0, 4),
    gap=st.integers(1, 4),
    lead=st.integers(0, 6),
    window=st.integers(0, 5),
    embargo=st.integers(0, 8),
    spare=st.integers(0, 3),
    remainder=st.integers(0, 6),
    types=st.lists(st.sampled_from(EVENT_TYPES), min_size=200, max_size=200),
)
def test_same_splits_and_paths_as_skfolio_on_regular_releases(
    n_groups, k_offset, gap, lead, window, embargo, spare, remainder, types
):
    """With releases every `gap` days, one lead and one purge window, the time rule purges the same
    number of events on each side of every test block, so skfolio's counts can express it:
    purged_size = floor((window + lead) / gap), and the embargo adds floor((window + lead + embargo) / gap)
    minus that after each block."""
    k = 2 + k_offset % (n_groups - 2)  # skfolio needs 2 <= k < N
    purged = (window + lead) // gap
    embargoed = (window + lead + embargo) // gap - purged
    size = purged + embargoed + 2 + spare  # skfolio needs purge + embargo < group size - 1
    n = n_groups * size + remainder
    samples = regular_samples(n, gap, lead, types[:n])
    ours = CombinatorialPurgedCV(
        n_groups=n_groups, n_test_groups=k, embargo=timedelta(days=embargo), purge_windows=all_types(window)
    )
    mine = [(sorted(train.tolist()), sorted(test.tolist())) for train, test in ours.split(samples)]
    assert mine == skfolio_splits(n, n_groups, k, purged, embargoed)
    reference = skfolio_cv.CombinatorialPurgedCV(n_folds=n_groups, n_test_folds=k)
    assert (path_assignment(n_groups, k) == reference.recombined_paths).all()
    assert ours.n_paths == reference.n_test_paths == n_paths(n_groups, k)
    assert ours.n_splits == reference.n_splits == math.comb(n_groups, k)
    roles = ours.roles(samples)
    assert split_violations(roles, timedelta(days=embargo)) == []


def test_where_skfolio_leaks_events_released_together():
    """A count cannot follow release times. Monthly releases, but the jobs report publishes unemployment
    and payrolls at the same instant: when a group boundary falls between the two, the payrolls event
    before the boundary has the very same label interval as the unemployment event being tested.
    skfolio with purged_size=0 (enough everywhere else) trains on it: a leak. purged_size=1 closes it
    but purges a clean event before every other test block. The time rule purges exactly the twin."""
    samples = regular_samples(12, 30, 1, ["CPI"] * 12)
    twin = samples.index[5]  # EV005 moves onto EV006's release: a second release of the same report
    for column in ("as_of", "label_time", "release_time"):
        samples.loc[twin, column] = samples.loc[6, column]
    samples.loc[[5, 6], "event_type"] = ["PAYROLLS", "UNEMPLOYMENT"]
    windows = all_types(1)
    ours = CombinatorialPurgedCV(n_groups=4, n_test_groups=2, purge_windows=windows)
    roles = ours.roles(samples)
    # Groups of 3: EV005 ends group 1 and EV006 starts group 2.
    split = roles[(roles["test_groups"] == "2,3")].set_index("event_ticker")
    assert split.loc["EV006", "role"] == ROLE_TEST
    assert split.loc["EV005", "role"] == ROLE_PURGED and "EV006" in split.loc["EV005", "reason"]
    assert split.loc["EV004", "role"] == ROLE_TRAIN
    split_index = int(split["split"].iloc[0])
    leaky_train, _ = skfolio_splits(12, 4, 2, purged=0, embargo=0)[split_index]
    assert 5 in leaky_train  # skfolio trains on EV005 while testing its twin EV006
    mine = [(sorted(a.tolist()), sorted(b.tolist())) for a, b in ours.split(samples)]
    assert mine[split_index][0] == [0, 1, 2, 3, 4]
    # purged_size=1 closes that leak but, testing groups 0 and 2, also drops EV003 and EV009, which sit a
    # month from any test event; the time rule keeps them and purges only the twin.
    other = int(roles.loc[roles["test_groups"] == "0,2", "split"].iloc[0])
    over_train, _ = skfolio_splits(12, 4, 2, purged=1, embargo=0)[other]
    assert {3, 5, 9}.isdisjoint(over_train)
    assert mine[other][0] == [3, 4, 9, 10, 11]


def test_embargo_removes_training_events_after_a_test_group():
    # Weekly events, features 1 day ahead, 1-day windows: nothing after a test group overlaps it.
    samples = regular_samples(18, 7, 1)
    windows = all_types(1)
    plain = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, purge_windows=windows).roles(samples)
    embargoed = CombinatorialPurgedCV(
        n_groups=6, n_test_groups=2, embargo=timedelta(days=10), purge_windows=windows
    ).roles(samples)
    assert (plain["role"] != ROLE_EMBARGOED).all()
    # Split 0 tests groups 0 and 1 (EV000..EV005); EV006 starts 6 days after EV005's widened end (day 36).
    first = embargoed[embargoed["split"] == 0].set_index("event_ticker")
    assert first.loc["EV006", "role"] == ROLE_EMBARGOED
    assert "embargo" in first.loc["EV006", "reason"]
    assert first.loc["EV007", "role"] == ROLE_TRAIN  # day 48: beyond the 10-day embargo
    train_plain = plain[plain["role"] == ROLE_TRAIN].groupby("split")["event_ticker"].apply(set)
    train_embargoed = embargoed[embargoed["role"] == ROLE_TRAIN].groupby("split")["event_ticker"].apply(set)
    shrunk = [s for s in train_plain.index if train_embargoed[s] < train_plain[s]]
    # Every split but the one testing the last two groups has a training group right after a test group,
    # and loses that group's first event.
    assert len(shrunk) == 14 and all(train_embargoed[s] <= train_plain[s] for s in train_plain.index)
    assert split_violations(embargoed, timedelta(days=10)) == []
    # The check sees an embargoed event relabelled as train.
    tampered = embargoed.copy()
    tampered.loc[(tampered["split"] == 0) & (tampered["event_ticker"] == "EV006"), "role"] = ROLE_TRAIN
    assert any("inside the embargo" in p for p in split_violations(tampered, timedelta(days=10)))


def test_every_event_is_tested_once_per_path():
    samples = regular_samples(20, 5, 2)
    cv = CombinatorialPurgedCV(n_groups=5, n_test_groups=2)
    roles = cv.roles(samples)
    tested = roles[roles["role"] == ROLE_TEST]
    assert sorted(tested["path"].unique()) == list(range(cv.n_paths)) == list(range(4))
    for _, path in tested.groupby("path"):
        assert sorted(path["event_ticker"]) == sorted(samples["event_ticker"])
    assert group_sizes(20, 5) == [4] * 5 and group_sizes(23, 5) == [4, 4, 4, 4, 7]
    # A trade of split s on a test event is credited to the path that event feeds in s.
    traces = tested[["split", "event_ticker"]].assign(pnl=1.0)
    credited = path_trades(traces, roles)
    assert len(credited) == len(traces) and credited["path"].notna().all()


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="n_groups"):
        CombinatorialPurgedCV(n_groups=2)
    with pytest.raises(ValueError, match="n_test_groups"):
        CombinatorialPurgedCV(n_groups=4, n_test_groups=4)
    with pytest.raises(ValueError, match="cannot fill"):
        CombinatorialPurgedCV(n_groups=6).roles(regular_samples(4, 7, 1))


def test_path_returns_and_their_sharpe_distribution():
    from kalshi_assets.analytics.cpcv import path_returns, path_sharpe_summary

    credited = pd.DataFrame({
        "candidate": ["x"] * 4 + ["y"],
        "path": [0, 0, 1, 1, 0],
        "event_ticker": ["E1", "E2", "E1", "E2", "E1"],
        "market_ticker": ["M1", "M2", "M1", "M2", "M1"],
        "release_time": pd.to_datetime(["2025-01-01", "2025-02-01"] * 2 + ["2025-01-01"]),
        "bankroll_return": [0.01, 0.03, -0.01, 0.01, 0.02],
        "pnl": [1.0, 3.0, -1.0, 1.0, 2.0],
    })
    paths = path_returns(credited, ["x", "y", "z"], paths=2).set_index(["candidate", "path"])
    assert len(paths) == 6 and paths.loc[("z", 1), "trades"] == 0
    assert paths.loc[("x", 0), "sharpe"] == pytest.approx(0.02 / np.std([0.01, 0.03], ddof=1))
    assert paths.loc[("x", 1), "total_pnl"] == 0.0
    assert np.isnan(paths.loc[("y", 0), "sharpe"])  # one trade: no Sharpe
    summary = path_sharpe_summary(paths.reset_index()).set_index("candidate")
    assert summary.loc["x", "paths"] == 2 and summary.loc["x", "share_positive"] == 0.5  # path 1: Sharpe 0
    assert summary.loc["x", "sharpe_min"] == pytest.approx(paths.loc[("x", 1), "sharpe"])
    assert np.isnan(summary.loc["z", "sharpe_mean"])
