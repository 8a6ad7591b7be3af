"""Purged walk-forward splits grouped by event (docs/METHODS.md section 3).

A sample is one row of features for one event (an event has one row per horizon). Its label interval
is [t0, t1]: t0 the time its features are observed (`asof`), t1 the time its label is known
(`label_time`, the release for first-print labels). Everything is decided per `event_ticker`: an event's
interval is [min t0, max t1] over its rows, so the snapshots of one event never straddle train and test.

Folds move forward in release order. Fold k tests the next `n_test_events` events; its training pool is
every earlier event (expanding) or the `window` latest of them (rolling). A pool event is purged when its
interval, widened by its event type's purge window ([t0, t1 + purge_days]), overlaps the interval of any
test event.

There is no embargo here. An embargo drops training events that start soon after a test block, whose
features may already carry the test outcomes; a walk-forward only ever trains on events released before
its test block, so an embargo could only relabel future events that are never trained on. The embargo
lives where it removes training events: `analytics.cpcv`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kalshi_assets.settings import purge_window_days

ROLE_TRAIN = "train"
ROLE_TEST = "test"
ROLE_PURGED = "purged"
ROLE_EMBARGOED = "embargoed"
ROLE_EXCLUDED = "excluded"
# The walk-forward's roles; ROLE_EMBARGOED is CPCV's (analytics.cpcv).
ROLES: tuple[str, ...] = (ROLE_TRAIN, ROLE_TEST, ROLE_PURGED, ROLE_EXCLUDED)

ROLE_COLUMNS: tuple[str, ...] = (
    "fold",
    "event_ticker",
    "event_type",
    "role",
    "reason",
    "t0",
    "t1",
    "t1_widened",
    "purge_days",
    "release_time",
    "test_start",
    "test_end",
)


def intervals_overlap(
    a_start: pd.Timestamp, a_end: pd.Timestamp, b_start: pd.Timestamp, b_end: pd.Timestamp
) -> bool:
    """docs/METHODS.md's overlap rule for closed intervals [a_start, a_end] and [b_start, b_end]."""
    return bool(
        (b_start <= a_start <= b_end) or (b_start <= a_end <= b_end) or (a_start <= b_start and b_end <= a_end)
    )


def event_intervals(
    samples: pd.DataFrame,
    *,
    t0_col: str = "as_of",
    t1_col: str = "label_time",
    release_col: str = "release_time",
    purge_windows: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """One row per event: its type, [t0, t1], purge window, widened t1 and release, in release order.

    `release_col` orders the events (defaults to t1 when the column is absent); without a t1 column the
    label is known at the release (first-print labels). An event whose rows disagree on its event type
    is an error: the purge window would be ambiguous.
    """
    if t1_col not in samples.columns and release_col in samples.columns:
        t1_col = release_col
    required = {"event_ticker", "event_type", t0_col, t1_col}
    missing = required - set(samples.columns)
    if missing:
        raise ValueError(f"samples lack columns {sorted(missing)}")
    if samples.empty:
        return pd.DataFrame(
            columns=["event_ticker", "event_type", "t0", "t1", "release_time", "purge_days", "t1_widened"]
        )
    frame = pd.DataFrame(
        {
            "event_ticker": samples["event_ticker"].astype(str).to_numpy(),
            "event_type": samples["event_type"].astype(str).to_numpy(),
            "t0": pd.to_datetime(samples[t0_col]).to_numpy(),
            "t1": pd.to_datetime(samples[t1_col]).to_numpy(),
            "release_time": pd.to_datetime(
                samples[release_col] if release_col in samples.columns else samples[t1_col]
            ).to_numpy(),
        }
    )
    if frame[["t0", "t1", "release_time"]].isna().any().any():
        raise ValueError("samples have missing t0, t1 or release times")
    if (frame["t0"] > frame["t1"]).any():
        bad = frame.loc[frame["t0"] > frame["t1"], "event_ticker"].unique()[:5]
        raise ValueError(f"features observed after their label time (t0 > t1) for events {list(bad)}")
    types_per_event = frame.groupby("event_ticker")["event_type"].nunique()
    if (types_per_event > 1).any():
        raise ValueError(f"events with more than one event type: {list(types_per_event[types_per_event > 1].index)}")
    events = (
        frame.groupby("event_ticker", sort=False)
        .agg(event_type=("event_type", "first"), t0=("t0", "min"), t1=("t1", "max"), release_time=("release_time", "max"))
        .reset_index()
    )
    events["purge_days"] = [purge_window_days(t, dict(purge_windows or {})) for t in events["event_type"]]
    events["t1_widened"] = events["t1"] + pd.to_timedelta(events["purge_days"], unit="D")
    return events.sort_values(["release_time", "event_ticker"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: event tickers per role, with the reason for each."""

    fold: int
    test_events: tuple[str, ...]
    train_events: tuple[str, ...]
    roles: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class PurgedWalkForward:
    """Scikit-learn style splitter: purged walk-forward over events.

    n_test_events: events per test block. min_train_events: events released before the first test block.
    mode: "expanding" (train on all earlier events) or "rolling" (the `window` latest earlier events,
    counted before purging). purge_windows: per-event-type overrides of settings' purge windows (days).
    """

    n_test_events: int = 5
    min_train_events: int = 10
    mode: str = "expanding"
    window: int | None = None
    purge_windows: Mapping[str, int] | None = None
    t0_col: str = "as_of"
    t1_col: str = "label_time"
    release_col: str = "release_time"

    def __post_init__(self) -> None:
        if self.n_test_events < 1:
            raise ValueError("n_test_events must be at least 1")
        if self.min_train_events < 1:
            raise ValueError("min_train_events must be at least 1")
        if self.mode not in ("expanding", "rolling"):
            raise ValueError(f"mode must be 'expanding' or 'rolling', got {self.mode!r}")
        if self.mode == "rolling" and (self.window is None or self.window < 1):
            raise ValueError("rolling mode needs window >= 1 (events)")
        if self.mode == "expanding" and self.window is not None:
            raise ValueError("window applies to rolling mode only")

    def _events(self, samples: pd.DataFrame) -> pd.DataFrame:
        return event_intervals(
            samples,
            t0_col=self.t0_col,
            t1_col=self.t1_col,
            release_col=self.release_col,
            purge_windows=self.purge_windows,
        )

    def _test_blocks(self, n_events: int) -> list[tuple[int, int]]:
        """[start, stop) positions of each test block in release order; the last block may be shorter."""
        return [
            (start, min(start + self.n_test_events, n_events))
            for start in range(self.min_train_events, n_events, self.n_test_events)
        ]

    def get_n_splits(self, samples: pd.DataFrame | None = None, y: object = None, groups: object = None) -> int:
        if samples is None:
            raise ValueError("the number of folds depends on the samples")
        return len(self._test_blocks(len(self._events(samples))))

    def folds(self, samples: pd.DataFrame) -> list[Fold]:
        """Every fold with the role of every event and why."""
        events = self._events(samples)
        tickers = events["event_ticker"].to_numpy(dtype=object)
        types = events["event_type"].to_numpy(dtype=object)
        t0 = events["t0"].to_numpy(dtype="datetime64[ns]")
        t1 = events["t1"].to_numpy(dtype="datetime64[ns]")
        widened = events["t1_widened"].to_numpy(dtype="datetime64[ns]")
        purge_days = events["purge_days"].to_numpy(dtype=int)
        positions = np.arange(len(events))
        # Reasons quote times; format them once, not once per fold.
        t0_text, t1_text, widened_text = ([str(pd.Timestamp(v)) for v in values] for values in (t0, t1, widened))
        out: list[Fold] = []
        for fold_number, (start, stop) in enumerate(self._test_blocks(len(events))):
            test_t0, test_t1 = t0[start:stop], t1[start:stop]
            test_start, test_end = test_t0.min(), test_t1.max()
            pool_start = 0 if self.mode == "expanding" else max(0, start - int(self.window or 0))
            # overlap[i, j]: event i's widened interval meets test event j's interval (docs/METHODS.md section 3).
            a0, a1 = t0[:, None], widened[:, None]
            overlap = (
                ((test_t0 <= a0) & (a0 <= test_t1))
                | ((test_t0 <= a1) & (a1 <= test_t1))
                | ((a0 <= test_t0) & (test_t1 <= a1))
            )
            is_test = (positions >= start) & (positions < stop)
            is_future = positions >= stop
            in_pool = (positions >= pool_start) & (positions < start)
            purged = in_pool & overlap.any(axis=1)
            role = np.full(len(events), ROLE_EXCLUDED, dtype=object)
            role[in_pool] = ROLE_TRAIN
            role[purged] = ROLE_PURGED
            role[is_test] = ROLE_TEST
            block = f"{tickers[start]} .. {tickers[stop - 1]}"
            reasons = []
            for i in positions:
                if role[i] == ROLE_TEST:
                    reasons.append(f"in the test block {block}")
                elif is_future[i]:
                    reasons.append("released after the test block: a walk-forward never trains on the future")
                elif i < pool_start:
                    reasons.append(f"older than the rolling window of {self.window} events")
                elif role[i] == ROLE_PURGED:
                    j = int(np.flatnonzero(overlap[i])[0])
                    reasons.append(
                        f"label interval [{t0_text[i]}, {t1_text[i]}] widened by {types[i]}'s "
                        f"{purge_days[i]}-day purge to {widened_text[i]} overlaps test event "
                        f"{tickers[start + j]} [{t0_text[start + j]}, {t1_text[start + j]}]"
                    )
                else:
                    reasons.append(
                        f"released before the test block; [{t0_text[i]}, {widened_text[i]}] "
                        f"({purge_days[i]}-day purge) clears every test interval"
                    )
            roles = pd.DataFrame(
                {
                    "fold": fold_number,
                    "event_ticker": tickers,
                    "event_type": types,
                    "role": role,
                    "reason": reasons,
                    "t0": t0,
                    "t1": t1,
                    "t1_widened": widened,
                    "purge_days": purge_days,
                    "release_time": events["release_time"].to_numpy(dtype="datetime64[ns]"),
                    "test_start": test_start,
                    "test_end": test_end,
                },
                columns=list(ROLE_COLUMNS),
            )
            out.append(
                Fold(
                    fold=fold_number,
                    test_events=tuple(tickers[role == ROLE_TEST]),
                    train_events=tuple(tickers[role == ROLE_TRAIN]),
                    roles=roles,
                )
            )
        return out

    def roles(self, samples: pd.DataFrame) -> pd.DataFrame:
        """The role table: one row per (fold, event) with role and reason (see ROLE_COLUMNS)."""
        folds = self.folds(samples)
        if not folds:
            return pd.DataFrame(columns=list(ROLE_COLUMNS))
        return pd.concat([f.roles for f in folds], ignore_index=True)

    def split(
        self, samples: pd.DataFrame, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train, test) row positions of `samples` per fold, like scikit-learn's splitters."""
        tickers = samples["event_ticker"].astype(str).to_numpy()
        for fold in self.folds(samples):
            train = np.flatnonzero(np.isin(tickers, fold.train_events))
            test = np.flatnonzero(np.isin(tickers, fold.test_events))
            yield train, test


def role_table_violations(roles: pd.DataFrame) -> list[str]:
    """Every train event that overlaps its fold's test block (widened) or is released after it; [] if clean.

    An independent re-check of the role table, used by the asset check on `walkforward_folds`.
    """
    problems: list[str] = []
    for fold, group in roles.groupby("fold"):
        test = group[group["role"] == ROLE_TEST]
        train = group[group["role"] == ROLE_TRAIN]
        if test.empty:
            problems.append(f"fold {fold}: no test events")
            continue
        both = set(train["event_ticker"]) & set(test["event_ticker"])
        problems.extend(f"fold {fold}: {name} is both train and test" for name in sorted(both))
        a0 = train["t0"].to_numpy(dtype="datetime64[ns]")[:, None]
        a1 = train["t1_widened"].to_numpy(dtype="datetime64[ns]")[:, None]
        b0 = test["t0"].to_numpy(dtype="datetime64[ns]")
        b1 = test["t1"].to_numpy(dtype="datetime64[ns]")
        overlap = ((b0 <= a0) & (a0 <= b1)) | ((b0 <= a1) & (a1 <= b1)) | ((a0 <= b0) & (b1 <= a1))
        train_names, test_names = train["event_ticker"].to_numpy(), test["event_ticker"].to_numpy()
        for i, j in zip(*np.nonzero(overlap), strict=True):
            problems.append(f"fold {fold}: train {train_names[i]} overlaps test {test_names[j]}")
        first_test_release = test["release_time"].min()
        later = train["release_time"].to_numpy() > np.datetime64(first_test_release)
        problems.extend(f"fold {fold}: train {name} is released after its test block" for name in train_names[later])
    return problems


def roles_per_fold(roles: pd.DataFrame, role_names: tuple[str, ...] = ROLES, by: str = "fold") -> pd.DataFrame:
    """Events per role in each fold (or split): one row per fold, one column per role."""
    if roles.empty:
        return pd.DataFrame(columns=[by, *role_names])
    return (
        roles.pivot_table(index=by, columns="role", values="event_ticker", aggfunc="count", fill_value=0)
        .reindex(columns=list(role_names), fill_value=0)
        .reset_index()
    )


def stale_purge_windows(roles: pd.DataFrame, windows: Mapping[str, int], limit: int = 5) -> list[str]:
    """Role rows cut with a purge window other than the current setting for their event type."""
    if roles.empty:
        return []
    stale = roles[roles["purge_days"] != roles["event_type"].map(dict(windows))]
    return [
        f"{row.event_ticker}: purge {row.purge_days} days, settings say {windows.get(row.event_type)}"
        for row in stale.head(limit).itertuples(index=False)
    ]


def labelled_samples(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Feature rows with an implied distribution and a label: the samples folds and splits are cut from,
    with the label's known-at time as `label_time`."""
    usable = features[features["implied_mean"].notna()]
    return usable.merge(
        labels[["event_ticker", "label_known_at"]].rename(columns={"label_known_at": "label_time"}),
        on="event_ticker",
        how="inner",
    )


def events_without_label(features: pd.DataFrame, samples: pd.DataFrame) -> int:
    """Events with an implied distribution in event_features but no label, so no fold can use them
    (`samples` is `labelled_samples(features, labels)`)."""
    with_features = features.loc[features["implied_mean"].notna(), "event_ticker"].nunique()
    return int(with_features - samples["event_ticker"].nunique())


def purged_by_event_type(roles: pd.DataFrame) -> dict[str, int]:
    """How many (fold, event) rows were purged, per event type."""
    purged = roles[roles["role"] == ROLE_PURGED].groupby("event_type").size()
    return {str(k): int(v) for k, v in purged.items()}
