"""Combinatorial purged cross-validation over events (docs/METHODS.md section 3).

Events (one row per event from `purge.event_intervals`, in release order) are cut into `n_groups`
consecutive groups: the first n_groups - 1 hold floor(n / n_groups) events each and the last holds the
rest (skfolio's convention, so splits can be compared with its CombinatorialPurgedCV). Each split tests
`n_test_groups` groups, one of the C(N, k) combinations in lexicographic order, and trains on every
other event, before and after the test groups alike:

- purged: the event's widened interval [t0, t1 + purge days] meets the widened interval of a test event
  (both sides widened by their own event type's window, so the purge reaches before and after a test
  group);
- embargoed: not purged, and its features start in (end, end + embargo], where end is the latest
  widened label time of a test group it follows. After a test group the embargo really removes
  training events, which an expanding walk-forward never has.

The splits recombine into k C(N, k) / N backtest paths: path p takes, for each group g, the test results
of the p-th split (in split order) that tests g, so every event is tested exactly once per path.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from kalshi_assets.analytics.promotion import CPCV_SUMMARY_COLUMNS, sharpe_ratio
from kalshi_assets.analytics.purge import ROLE_EMBARGOED, ROLE_PURGED, ROLE_TEST, ROLE_TRAIN, event_intervals

CPCV_ROLES: tuple[str, ...] = (ROLE_TRAIN, ROLE_TEST, ROLE_PURGED, ROLE_EMBARGOED)
SPLIT_COLUMNS: tuple[str, ...] = (
    "split",
    "event_ticker",
    "event_type",
    "event_group",
    "role",
    "reason",
    "path",
    "t0",
    "t1",
    "t1_widened",
    "purge_days",
    "release_time",
    "test_groups",
)


def group_sizes(n_events: int, n_groups: int) -> list[int]:
    """Events per group: floor(n / N) for the first N - 1 groups, the rest in the last."""
    if n_groups < 2 or n_events < n_groups:
        raise ValueError(f"{n_events} events cannot fill {n_groups} groups")
    size = n_events // n_groups
    return [size] * (n_groups - 1) + [n_events - size * (n_groups - 1)]


def test_group_combinations(n_groups: int, n_test_groups: int) -> list[tuple[int, ...]]:
    """The C(N, k) test-group combinations, in lexicographic order (split i tests combinations[i])."""
    return list(itertools.combinations(range(n_groups), n_test_groups))


def path_assignment(n_groups: int, n_test_groups: int) -> np.ndarray:
    """paths[g, p]: the split whose test results fill group g on path p (shape N x k C(N, k) / N)."""
    combos = test_group_combinations(n_groups, n_test_groups)
    per_group = [[s for s, combo in enumerate(combos) if g in combo] for g in range(n_groups)]
    return np.array(per_group, dtype=int)


def n_paths(n_groups: int, n_test_groups: int) -> int:
    """phi = k C(N, k) / N."""
    return n_test_groups * math.comb(n_groups, n_test_groups) // n_groups


@dataclass(frozen=True)
class CombinatorialPurgedCV:
    """Scikit-learn style splitter over events: C(N, k) purged, embargoed splits and their paths.

    n_groups: N consecutive groups of events in release order. n_test_groups: k test groups per split.
    embargo: training events whose features start within this time after a test group's widened end are
    dropped. purge_windows: per-event-type overrides of settings' purge windows (days).
    """

    n_groups: int = 6
    n_test_groups: int = 2
    embargo: timedelta = timedelta(0)
    purge_windows: Mapping[str, int] | None = None
    t0_col: str = "as_of"
    t1_col: str = "label_time"
    release_col: str = "release_time"

    def __post_init__(self) -> None:
        if self.n_groups < 3:
            raise ValueError("n_groups must be at least 3")
        if not 1 <= self.n_test_groups < self.n_groups:
            raise ValueError("n_test_groups must be at least 1 and fewer than n_groups")
        if self.embargo < timedelta(0):
            raise ValueError("embargo must not be negative")

    @property
    def n_splits(self) -> int:
        return math.comb(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        return n_paths(self.n_groups, self.n_test_groups)

    def get_n_splits(self, samples: object = None, y: object = None, groups: object = None) -> int:
        return self.n_splits

    def _events(self, samples: pd.DataFrame) -> pd.DataFrame:
        events = event_intervals(
            samples, t0_col=self.t0_col, t1_col=self.t1_col, release_col=self.release_col,
            purge_windows=self.purge_windows,
        )
        events["event_group"] = np.repeat(np.arange(self.n_groups), group_sizes(len(events), self.n_groups))
        return events

    def roles(self, samples: pd.DataFrame) -> pd.DataFrame:
        """The role table: one row per (split, event) with role, reason and path (see SPLIT_COLUMNS)."""
        events = self._events(samples)
        paths = path_assignment(self.n_groups, self.n_test_groups)
        # Reasons quote times: format them once, not once per split.
        events["t0_text"] = events["t0"].astype(str)
        events["widened_text"] = events["t1_widened"].astype(str)
        frames = [
            _split_roles(events, split, combo, paths, self.embargo)
            for split, combo in enumerate(test_group_combinations(self.n_groups, self.n_test_groups))
        ]
        return pd.concat(frames, ignore_index=True)

    def split(
        self, samples: pd.DataFrame, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train, test) row positions of `samples` per split."""
        tickers = samples["event_ticker"].astype(str).to_numpy()
        table = self.roles(samples)
        for _, split in table.groupby("split", sort=True):
            train = split.loc[split["role"] == ROLE_TRAIN, "event_ticker"].to_numpy()
            test = split.loc[split["role"] == ROLE_TEST, "event_ticker"].to_numpy()
            yield np.flatnonzero(np.isin(tickers, train)), np.flatnonzero(np.isin(tickers, test))


def _split_roles(
    events: pd.DataFrame, split: int, combo: tuple[int, ...], paths: np.ndarray, embargo: timedelta
) -> pd.DataFrame:
    t0 = events["t0"].to_numpy(dtype="datetime64[ns]")
    t1 = events["t1"].to_numpy(dtype="datetime64[ns]")
    widened = events["t1_widened"].to_numpy(dtype="datetime64[ns]")
    group = events["event_group"].to_numpy()
    is_test = np.isin(group, combo)
    # conflict[i, j]: event i's widened interval meets test event j's widened interval.
    b0, b1 = t0[is_test], widened[is_test]
    conflict = (t0[:, None] <= b1[None, :]) & (b0[None, :] <= widened[:, None])
    purged = ~is_test & conflict.any(axis=1)
    # Embargo after each test group: from its latest widened label time.
    embargo_ns = np.timedelta64(pd.Timedelta(embargo).value, "ns")
    ends = {g: widened[group == g].max() for g in combo}
    embargo_end = np.full(len(events), np.datetime64("NaT"), dtype="datetime64[ns]")
    embargoed = np.zeros(len(events), dtype=bool)
    for g, end in ends.items():
        hit = ~is_test & ~purged & (group > g) & (t0 > end) & (t0 <= end + embargo_ns)
        embargo_end[hit] = end
        embargoed |= hit
    role = np.where(is_test, ROLE_TEST, np.where(purged, ROLE_PURGED, np.where(embargoed, ROLE_EMBARGOED, ROLE_TRAIN)))
    tickers = events["event_ticker"].to_numpy(dtype=object)
    t0_text, widened_text = events["t0_text"].to_numpy(), events["widened_text"].to_numpy()
    test_positions = np.flatnonzero(is_test)
    first_conflict = conflict.argmax(axis=1)
    reasons = []
    for i in range(len(events)):
        if is_test[i]:
            reasons.append(f"in test group {group[i]} of groups {list(combo)}")
        elif purged[i]:
            j = test_positions[first_conflict[i]]
            reasons.append(
                f"[{t0_text[i]}, {widened_text[i]}] meets test event {tickers[j]} "
                f"[{t0_text[j]}, {widened_text[j]}] (both widened by their purge windows)"
            )
        elif embargoed[i]:
            reasons.append(
                f"features start {t0_text[i]} within the {pd.Timedelta(embargo)} embargo after a "
                f"test group ending {pd.Timestamp(embargo_end[i])}"
            )
        else:
            reasons.append("clears every test event's widened interval and the embargo")
    path = np.full(len(events), -1, dtype=int)
    for g in combo:
        path[group == g] = int(np.flatnonzero(paths[g] == split)[0])
    return pd.DataFrame(
        {
            "split": split,
            "event_ticker": tickers,
            "event_type": events["event_type"].to_numpy(dtype=object),
            "event_group": group,
            "role": role,
            "reason": reasons,
            "path": pd.array([int(p) if t else None for p, t in zip(path, is_test, strict=True)], dtype="Int64"),
            "t0": t0,
            "t1": t1,
            "t1_widened": widened,
            "purge_days": events["purge_days"].to_numpy(dtype=int),
            "release_time": events["release_time"].to_numpy(dtype="datetime64[ns]"),
            "test_groups": ",".join(str(g) for g in combo),
        },
        columns=list(SPLIT_COLUMNS),
    )


def split_violations(roles: pd.DataFrame, embargo: timedelta = timedelta(0)) -> list[str]:
    """An independent re-check of a CPCV role table: no train event meets a test event's widened
    interval or starts inside an embargo, every event is tested once per path, roles are complete."""
    problems: list[str] = []
    embargo_ns = np.timedelta64(pd.Timedelta(embargo).value, "ns")
    events = set(roles["event_ticker"])
    for split, group in roles.groupby("split"):
        if set(group["event_ticker"]) != events or group["event_ticker"].duplicated().any():
            problems.append(f"split {split}: not exactly one role per event")
        test, train = group[group["role"] == ROLE_TEST], group[group["role"] == ROLE_TRAIN]
        if test.empty:
            problems.append(f"split {split}: no test events")
            continue
        a0 = train["t0"].to_numpy(dtype="datetime64[ns]")[:, None]
        a1 = train["t1_widened"].to_numpy(dtype="datetime64[ns]")[:, None]
        b0 = test["t0"].to_numpy(dtype="datetime64[ns]")[None, :]
        b1 = test["t1_widened"].to_numpy(dtype="datetime64[ns]")[None, :]
        for i, j in zip(*np.nonzero((a0 <= b1) & (b0 <= a1)), strict=True):
            problems.append(
                f"split {split}: train {train['event_ticker'].iloc[i]} meets test {test['event_ticker'].iloc[j]}"
            )
        for g, members in test.groupby("event_group"):
            end = members["t1_widened"].to_numpy(dtype="datetime64[ns]").max()
            after = train["event_group"].to_numpy() > g
            inside = after & (a0[:, 0] > end) & (a0[:, 0] <= end + embargo_ns)
            problems.extend(
                f"split {split}: train {name} starts inside the embargo after group {g}"
                for name in train["event_ticker"].to_numpy()[inside]
            )
    tested = roles[roles["role"] == ROLE_TEST]
    per_path = tested.groupby("path")["event_ticker"].agg(lambda s: (len(s), s.nunique()))
    for path, (count, unique) in per_path.items():
        if count != len(events) or unique != len(events):
            problems.append(f"path {path}: {unique} distinct of {count} tested events, expected {len(events)}")
    return problems


# --- paths ---------------------------------------------------------------------------------------------


def path_trades(traces: pd.DataFrame, roles: pd.DataFrame) -> pd.DataFrame:
    """Trades of each path: a split's trades on its test events carry the path those events feed.

    traces: one row per trade with split and event_ticker. roles: the CPCV role table.
    """
    tested = roles.loc[roles["role"] == ROLE_TEST, ["split", "event_ticker", "path"]]
    return traces.merge(tested, on=["split", "event_ticker"], how="inner", validate="many_to_one")


PATH_COLUMNS: tuple[str, ...] = ("candidate", "path", "trades", "events_traded", "mean_return", "sharpe", "total_pnl")


def path_returns(
    credited: pd.DataFrame, candidates: list[str], paths: int, return_col: str = "bankroll_return"
) -> pd.DataFrame:
    """One row per (candidate, path): trades, mean return, Sharpe of the path's trades in release order
    (NaN without two trades) and total P&L; a path without trades is a row with 0 trades."""
    rows = []
    ordered = credited.sort_values(["release_time", "event_ticker", "market_ticker"], kind="mergesort")
    groups = {key: group for key, group in ordered.groupby(["candidate", "path"])} if len(ordered) else {}
    for name in candidates:
        for path in range(paths):
            mine = groups.get((name, path))
            returns = mine[return_col].astype(float).to_numpy() if mine is not None else np.zeros(0)
            rows.append(
                {
                    "candidate": name,
                    "path": path,
                    "trades": len(returns),
                    "events_traded": int(mine["event_ticker"].nunique()) if mine is not None else 0,
                    "mean_return": float(returns.mean()) if len(returns) else float("nan"),
                    "sharpe": sharpe_ratio(returns),
                    "total_pnl": float(mine["pnl"].astype(float).sum()) if mine is not None else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=list(PATH_COLUMNS))


def path_sharpe_summary(paths: pd.DataFrame) -> pd.DataFrame:
    """Per candidate, the distribution of its finite path Sharpe ratios (CPCV_SUMMARY_COLUMNS)."""
    rows = []
    for name, group in paths.groupby("candidate", sort=False):
        finite = group["sharpe"].astype(float)
        finite = finite[np.isfinite(finite)].to_numpy()
        known = len(finite) > 0
        rows.append(
            {
                "candidate": name,
                "paths": len(group),
                "sharpe_mean": float(finite.mean()) if known else float("nan"),
                "sharpe_sd": float(finite.std(ddof=1)) if len(finite) >= 2 else float("nan"),
                "sharpe_min": float(finite.min()) if known else float("nan"),
                "sharpe_median": float(np.median(finite)) if known else float("nan"),
                "sharpe_max": float(finite.max()) if known else float("nan"),
                "share_positive": float((finite > 0).mean()) if known else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["candidate", *CPCV_SUMMARY_COLUMNS])


def paths_in(roles: pd.DataFrame) -> int:
    """How many backtest paths a split table's test events feed (0 when no split was made)."""
    return int(roles["path"].max()) + 1 if roles["path"].notna().any() else 0
