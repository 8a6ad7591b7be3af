"""Outcomes as vintages: first prints, revisions, values as of a knowledge time, and labels.

docs/METHODS.md section 2. Every release has a reference period and a sequence of vintages (knowledge
times). The first print is the earliest vintage; as of knowledge time T the current value of an event
is the vintage with realtime_start <= T < realtime_end, where a vintage's window runs from its own
vintage time to the next vintage's. Vintages are ordered by time, then by parsed version number
("v10" after "v9"), never by comparing strings.

Frames: times are naive UTC pandas Timestamps. A vintage frame has the columns VINTAGE_COLUMNS.
Pure functions: no I/O, no dagster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kalshi_assets.times import naive_utc_timestamp

LABEL_MODE_FIRST_PRINT = "first_print"
LABEL_MODE_LATEST = "latest"
LABEL_MODES: tuple[str, ...] = (LABEL_MODE_FIRST_PRINT, LABEL_MODE_LATEST)

VINTAGE_COLUMNS: tuple[str, ...] = ("event_ticker", "vintage_time", "vintage", "value", "source")
FIRST_PRINT_COLUMNS: tuple[str, ...] = ("event_ticker", "value", "release_time", "source")
IMPLIED_COLUMNS: tuple[str, ...] = ("event_ticker", "snapshot_ts", "implied_mean", "implied_sd")
LABEL_COLUMNS: tuple[str, ...] = (
    "event_ticker",
    "label_mode",
    "as_of",
    "realized_value",
    "label_known_at",
    "source",
    "vintage",
    "implied_snapshot_ts",
    "implied_mean",
    "implied_sd",
    "surprise",
    "surprise_z",
)

# Values printed to one or two decimals: two prints agree when they differ by less than this (choice).
DEFAULT_VALUE_TOLERANCE = 1e-9

_VERSION = re.compile(r"^\s*(?:v|ver|version|vintage|rev|r)?\s*(\d+(?:[._-]\d+)*)\s*$", re.IGNORECASE)


# --- versions ---------------------------------------------------------------------------------


def parse_version(label: str | int) -> tuple[int, ...]:
    """A version label as a tuple of integers: 'v9' -> (9,), 'v10' -> (10,), '1.2.10' -> (1, 2, 10).

    Tuples compare component by component as numbers, so 'v10' sorts after 'v9' and '1.10' after '1.9'.
    """
    if isinstance(label, bool):
        raise ValueError(f"not a version: {label!r}")
    if isinstance(label, (int, np.integer)):
        if label < 0:
            raise ValueError(f"a version number cannot be negative: {label}")
        return (int(label),)
    if (
        isinstance(label, float) and label.is_integer() and label >= 0
    ):  # ints that went through a float column
        return (int(label),)
    match = _VERSION.match(str(label)) if isinstance(label, str) else None
    if not match:
        raise ValueError(f"not a version label: {label!r} (expected forms like 7, 'v7', 'v1.2')")
    return tuple(int(part) for part in re.split(r"[._-]", match.group(1)))


def version_number(label: str | int) -> int:
    """A single-number version label as an int ('v10' -> 10); multi-part labels are an error."""
    parts = parse_version(label)
    if len(parts) != 1:
        raise ValueError(f"version {label!r} has {len(parts)} parts; expected one number")
    return parts[0]


# --- times ------------------------------------------------------------------------------------


def _naive_utc_column(series: pd.Series, name: str) -> pd.Series:
    column = pd.to_datetime(series, utc=True, errors="raise")
    if column.isna().any():
        raise ValueError(f"{name} has missing times")
    return column.dt.tz_convert("UTC").dt.tz_localize(None)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


# --- vintages ---------------------------------------------------------------------------------


def order_vintages(vintages: pd.DataFrame) -> pd.DataFrame:
    """Vintages sorted by (event, vintage_time, parsed version, source), with a fresh index.

    The source breaks ties between two sources publishing at the same instant, so the order (and every
    result built on it) does not depend on the order rows arrived in.
    """
    _require(vintages, VINTAGE_COLUMNS, "vintages")
    frame = vintages.copy()
    frame["vintage_time"] = _naive_utc_column(frame["vintage_time"], "vintage_time")
    if frame["event_ticker"].isna().any() or frame["source"].isna().any():
        raise ValueError("vintages need an event_ticker and a source on every row")
    keys = [
        (str(event), time, parse_version(version), str(source))
        for event, time, version, source in zip(
            frame["event_ticker"], frame["vintage_time"], frame["vintage"], frame["source"], strict=True
        )
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


def with_realtime_windows(vintages: pd.DataFrame) -> pd.DataFrame:
    """Ordered vintages with realtime_start (its vintage time) and realtime_end (the next vintage's
    time for the same event; NaT while it is the latest): the half-open window in which it was current."""
    frame = order_vintages(vintages)
    frame["realtime_start"] = frame["vintage_time"]
    frame["realtime_end"] = frame.groupby("event_ticker", sort=False)["vintage_time"].shift(-1)
    return frame


def first_prints_from_vintages(vintages: pd.DataFrame) -> pd.DataFrame:
    """Per event, the earliest vintage that carries a value: FIRST_PRINT_COLUMNS plus `vintage`."""
    frame = order_vintages(vintages)
    frame = frame[frame["value"].notna()]
    first = frame.groupby("event_ticker", sort=True).head(1)
    out = first.rename(columns={"vintage_time": "release_time"})
    return out[[*FIRST_PRINT_COLUMNS, "vintage"]].reset_index(drop=True)


def values_as_of(vintages: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Per event, the vintage current at knowledge time `as_of` (realtime_start <= T < realtime_end).

    Events with no vintage known at T are absent. Columns: event_ticker, value, vintage_time, vintage,
    source.
    """
    moment = naive_utc_timestamp(as_of)
    frame = with_realtime_windows(vintages)
    current = frame[
        (frame["realtime_start"] <= moment)
        & (frame["realtime_end"].isna() | (moment < frame["realtime_end"]))
    ]
    return current[["event_ticker", "value", "vintage_time", "vintage", "source"]].reset_index(drop=True)


def latest_values(vintages: pd.DataFrame) -> pd.DataFrame:
    """Per event, the last vintage (the value as of a knowledge time after every vintage)."""
    frame = order_vintages(vintages)
    last = frame.groupby("event_ticker", sort=True).tail(1)
    return last[["event_ticker", "value", "vintage_time", "vintage", "source"]].reset_index(drop=True)


# --- comparing prints -------------------------------------------------------------------------


def values_differ(a: Any, b: Any, tolerance: float = DEFAULT_VALUE_TOLERANCE) -> bool:
    """Two printed values differ (missing never equals a number; two missing values are equal)."""
    a_missing, b_missing = a is None or pd.isna(a), b is None or pd.isna(b)
    if a_missing or b_missing:
        return a_missing != b_missing
    return not math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=tolerance)


def first_print_disagreements(
    stored: pd.DataFrame, candidates: pd.DataFrame, tolerance: float = DEFAULT_VALUE_TOLERANCE
) -> pd.DataFrame:
    """Candidate first prints (event_ticker, value, source) that disagree with the stored first print.

    Columns: event_ticker, source, value, stored_value, stored_source.
    """
    _require(stored, ("event_ticker", "value", "source"), "stored first prints")
    _require(candidates, ("event_ticker", "value", "source"), "candidate first prints")
    joined = candidates[["event_ticker", "source", "value"]].merge(
        stored[["event_ticker", "value", "source"]].rename(
            columns={"value": "stored_value", "source": "stored_source"}
        ),
        on="event_ticker",
        how="inner",
    )
    differs = [
        values_differ(a, b, tolerance) for a, b in zip(joined["value"], joined["stored_value"], strict=True)
    ]
    return joined[np.asarray(differs, dtype=bool)].reset_index(drop=True)


def first_print_vs_earliest_vintage(
    first_prints: pd.DataFrame, vintages: pd.DataFrame, tolerance: float = DEFAULT_VALUE_TOLERANCE
) -> pd.DataFrame:
    """Events whose stored first print differs from their earliest valued vintage (where both exist).

    Columns: event_ticker, first_print_value, earliest_vintage_value, earliest_vintage_time.
    """
    earliest = first_prints_from_vintages(vintages).rename(
        columns={"value": "earliest_vintage_value", "release_time": "earliest_vintage_time"}
    )
    joined = (
        first_prints[["event_ticker", "value"]]
        .rename(columns={"value": "first_print_value"})
        .merge(
            earliest[["event_ticker", "earliest_vintage_value", "earliest_vintage_time"]], on="event_ticker"
        )
    )
    differs = [
        values_differ(a, b, tolerance)
        for a, b in zip(joined["first_print_value"], joined["earliest_vintage_value"], strict=True)
    ]
    return joined[np.asarray(differs, dtype=bool)].reset_index(drop=True)


def release_times(event_releases: pd.DataFrame, first_prints: pd.DataFrame) -> pd.DataFrame:
    """event_ticker, release_time: Kalshi's release time where known, else the stored first print's."""
    known = event_releases[["event_ticker", "release_time"]].dropna(subset=["release_time"])
    fallback = first_prints.loc[
        ~first_prints["event_ticker"].isin(known["event_ticker"]), ["event_ticker", "release_time"]
    ]
    parts = [frame for frame in (known, fallback) if len(frame)]
    if not parts:
        return pd.DataFrame(columns=["event_ticker", "release_time"])
    return pd.concat(parts, ignore_index=True)


def vintages_before_release(vintages: pd.DataFrame, releases: pd.DataFrame) -> pd.DataFrame:
    """Vintages dated before their event's release time (releases: event_ticker, release_time)."""
    _require(releases, ("event_ticker", "release_time"), "releases")
    frame = order_vintages(vintages)
    known = releases.dropna(subset=["release_time"]).copy()
    known["release_time"] = _naive_utc_column(known["release_time"], "release_time")
    joined = frame.merge(known[["event_ticker", "release_time"]], on="event_ticker")
    return joined[joined["vintage_time"] < joined["release_time"]].reset_index(drop=True)


# --- Kalshi settlements as a first-print source ----------------------------------------------

SETTLED_RESULTS = frozenset({"yes", "no", "scalar"})


def settlement_values(markets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each settled event's expiration value from its markets.

    markets: event_ticker, result, expiration_value_num, settlement_ts. One event's markets share one
    expiration value; events whose settled markets disagree are returned separately and not valued.
    Returns (values: event_ticker, value, settlement_ts; conflicts: event_ticker, values).
    """
    _require(markets, ("event_ticker", "result", "expiration_value_num", "settlement_ts"), "markets")
    settled = markets[
        markets["result"].isin(SETTLED_RESULTS) & markets["expiration_value_num"].notna()
    ].copy()
    settled["settlement_ts"] = pd.to_datetime(settled["settlement_ts"], utc=True).dt.tz_localize(None)
    values, conflicts = [], []
    for event, group in settled.groupby("event_ticker", sort=True):
        distinct: list[float] = []
        for value in group["expiration_value_num"]:
            if not any(not values_differ(value, seen) for seen in distinct):
                distinct.append(float(value))
        if len(distinct) == 1:
            values.append(
                {"event_ticker": event, "value": distinct[0], "settlement_ts": group["settlement_ts"].min()}
            )
        else:
            conflicts.append({"event_ticker": event, "values": sorted(distinct)})
    return (
        pd.DataFrame(values, columns=["event_ticker", "value", "settlement_ts"]),
        pd.DataFrame(conflicts, columns=["event_ticker", "values"]),
    )


KALSHI_SOURCE = "kalshi"
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "event_ticker",
    "series_ticker",
    "reference_period",
    "value",
    "release_time",
    "source",
    "settlement_ts",
)


def first_print_candidates(
    vintages: pd.DataFrame, markets: pd.DataFrame, releases: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every source's first print per event, in precedence order: the vintage source first (the agency's
    own print), then Kalshi's settlement value.

    vintages: VINTAGE_COLUMNS plus series_ticker, reference_period. markets: see settlement_values.
    releases: event_ticker, series_ticker, release_time. Kalshi's value counts as released at the event's
    release time (it settles a little later, but the number was public from the release).
    Returns (candidates: CANDIDATE_COLUMNS, settlement_conflicts: see settlement_values).
    """
    parts = []
    if len(vintages):
        from_source = first_prints_from_vintages(vintages)
        details = vintages.drop_duplicates("event_ticker")[
            ["event_ticker", "series_ticker", "reference_period"]
        ]
        parts.append(from_source.merge(details, on="event_ticker", how="left").assign(settlement_ts=pd.NaT))
    settled, conflicts = settlement_values(markets)
    if len(settled):
        known = releases[["event_ticker", "series_ticker", "release_time"]]
        from_kalshi = settled.merge(known, on="event_ticker", how="left")
        from_kalshi["release_time"] = from_kalshi["release_time"].fillna(from_kalshi["settlement_ts"])
        # Kalshi has no reference period: missing, typed as the vintages' one (pandas is deprecating concat's
        # skipping an all-missing column when it picks the dtype; an untyped None would turn dates into objects).
        reference_type = parts[0]["reference_period"].dtype if parts else "datetime64[ns]"
        missing = pd.Series(pd.NaT, index=from_kalshi.index, dtype=reference_type)
        parts.append(from_kalshi.assign(reference_period=missing, source=KALSHI_SOURCE))
    if not parts:
        return pd.DataFrame(columns=list(CANDIDATE_COLUMNS)), conflicts
    return pd.concat([p[list(CANDIDATE_COLUMNS)] for p in parts], ignore_index=True), conflicts


# --- implied distributions and labels ---------------------------------------------------------


def surprise(
    realized: Sequence[float] | np.ndarray | pd.Series,
    implied_mean: Sequence[float] | np.ndarray | pd.Series,
    implied_sd: Sequence[float] | np.ndarray | pd.Series,
) -> tuple[np.ndarray, np.ndarray]:
    """surprise = realized - implied mean; z = surprise / implied sd (NaN where the sd is not > 0)."""
    realized_arr = np.asarray(realized, dtype=float)
    mean_arr = np.asarray(implied_mean, dtype=float)
    sd_arr = np.asarray(implied_sd, dtype=float)
    gap = realized_arr - mean_arr
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd_arr > 0, gap / np.where(sd_arr > 0, sd_arr, 1.0), np.nan)
    return gap, z


def implied_before_release(snapshots: pd.DataFrame, releases: pd.DataFrame) -> pd.DataFrame:
    """Per event, the last implied distribution snapshotted strictly before its release time.

    snapshots: IMPLIED_COLUMNS; releases: event_ticker, release_time. An as-of join backwards: the
    market's view just before the number came out, never a snapshot taken after it.
    """
    _require(snapshots, IMPLIED_COLUMNS, "distribution snapshots")
    _require(releases, ("event_ticker", "release_time"), "releases")
    snaps = snapshots[list(IMPLIED_COLUMNS)].dropna(subset=["snapshot_ts"]).copy()
    snaps["snapshot_ts"] = _naive_utc_column(snaps["snapshot_ts"], "snapshot_ts")
    known = releases[["event_ticker", "release_time"]].dropna().copy()
    known["release_time"] = _naive_utc_column(known["release_time"], "release_time")
    joined = snaps.merge(known, on="event_ticker")
    joined = joined[joined["snapshot_ts"] < joined["release_time"]]
    joined = joined.sort_values(["event_ticker", "snapshot_ts"], kind="stable")
    last = joined.groupby("event_ticker", sort=True).tail(1)
    return last[list(IMPLIED_COLUMNS)].reset_index(drop=True)


def event_labels(
    first_prints: pd.DataFrame,
    vintages: pd.DataFrame,
    implied: pd.DataFrame | None,
    as_of: Any,
    modes: Sequence[str] = LABEL_MODES,
) -> pd.DataFrame:
    """One label per (event, mode) known at knowledge time `as_of`; columns LABEL_COLUMNS.

    first_print: the stored first print, known from its release time; events released after `as_of`
      have no label yet.
    latest: the vintage current at `as_of` (only vintages with vintage_time <= as_of count), known from
      that vintage's time; an event with a first print but no vintage falls back to the first print.
    implied: IMPLIED_COLUMNS, one row per event (see implied_before_release), or None/empty when no
      distributions exist: then the surprise columns are NaN.
    """
    unknown = [m for m in modes if m not in LABEL_MODES]
    if unknown:
        raise ValueError(f"unknown label_mode {unknown}; expected {list(LABEL_MODES)}")
    _require(first_prints, FIRST_PRINT_COLUMNS, "first prints")
    moment = naive_utc_timestamp(as_of)
    prints = first_prints.copy()
    prints["release_time"] = _naive_utc_column(prints["release_time"], "release_time")
    prints = prints[prints["release_time"] <= moment]
    if "vintage" not in prints.columns:
        prints["vintage"] = pd.NA

    parts = []
    if LABEL_MODE_FIRST_PRINT in modes:
        part = prints.rename(columns={"value": "realized_value", "release_time": "label_known_at"})
        parts.append(part.assign(label_mode=LABEL_MODE_FIRST_PRINT))
    if LABEL_MODE_LATEST in modes:
        current = (
            values_as_of(vintages, moment)
            if len(vintages)
            else pd.DataFrame(columns=["event_ticker", "value", "vintage_time", "vintage", "source"])
        )
        current = current.rename(columns={"value": "realized_value", "vintage_time": "label_known_at"})
        fallback = prints[~prints["event_ticker"].isin(current["event_ticker"])].rename(
            columns={"value": "realized_value", "release_time": "label_known_at"}
        )
        pieces = [p for p in (current, fallback) if len(p)]
        latest = pd.concat(pieces, ignore_index=True) if pieces else current
        parts.append(latest.assign(label_mode=LABEL_MODE_LATEST))

    columns = ["event_ticker", "label_mode", "realized_value", "label_known_at", "source", "vintage"]
    nonempty = [p[columns] for p in parts if len(p)]
    labels = pd.concat(nonempty, ignore_index=True) if nonempty else pd.DataFrame(columns=columns)
    if implied is not None and len(implied):
        _require(implied, IMPLIED_COLUMNS, "implied distributions")
        if implied["event_ticker"].duplicated().any():
            raise ValueError("implied distributions must hold one row per event")
        labels = labels.merge(
            implied[list(IMPLIED_COLUMNS)].rename(columns={"snapshot_ts": "implied_snapshot_ts"}),
            on="event_ticker",
            how="left",
        )
    else:
        labels = labels.assign(implied_snapshot_ts=pd.NaT, implied_mean=np.nan, implied_sd=np.nan)
    gap, z = surprise(labels["realized_value"], labels["implied_mean"], labels["implied_sd"])
    labels["surprise"], labels["surprise_z"] = gap, z
    labels["as_of"] = moment
    labels["realized_value"] = labels["realized_value"].astype(float)
    labels["label_known_at"] = pd.to_datetime(labels["label_known_at"])
    labels["implied_snapshot_ts"] = pd.to_datetime(labels["implied_snapshot_ts"])
    labels = labels.sort_values(["event_ticker", "label_mode"], kind="stable").reset_index(drop=True)
    return labels[list(LABEL_COLUMNS)]


def events_whose_latest_differs(
    first_prints: pd.DataFrame, vintages: pd.DataFrame, tolerance: float = DEFAULT_VALUE_TOLERANCE
) -> list[str]:
    """Events whose latest vintage value differs from the first print, sorted."""
    latest = latest_values(vintages)[["event_ticker", "value"]].rename(columns={"value": "latest_value"})
    joined = first_prints[["event_ticker", "value"]].merge(latest, on="event_ticker")
    return sorted(
        str(event)
        for event, a, b in zip(joined["event_ticker"], joined["value"], joined["latest_value"], strict=True)
        if values_differ(a, b, tolerance)
    )


# --- figures the outcomes assets report --------------------------------------------------------


def events_revised(revisions: pd.DataFrame) -> int:
    """Events with more than one vintage among the revisions."""
    return int((revisions.groupby("event_ticker")["vintage"].max() > 1).sum()) if len(revisions) else 0


def events_differing_between_modes(labels: pd.DataFrame, tolerance: float = DEFAULT_VALUE_TOLERANCE) -> int:
    """Events whose first_print and latest labels differ (0 unless both modes are present)."""
    modes = labels.pivot(index="event_ticker", columns="label_mode", values="realized_value")
    if not len(modes) or not set(LABEL_MODES) <= set(modes.columns):
        return 0
    return int(sum(values_differ(a, b, tolerance) for a, b in zip(modes["first_print"], modes["latest"], strict=True)))


def label_problems(labels: pd.DataFrame, first_prints: pd.DataFrame) -> dict[str, int]:
    """Labels known after their as-of time, and first_print labels that differ from the stored first print."""
    after_as_of = int((labels["label_known_at"] > labels["as_of"]).sum())
    fp_labels = labels[labels["label_mode"] == LABEL_MODE_FIRST_PRINT].merge(
        first_prints[["event_ticker", "value"]], on="event_ticker", how="left"
    )
    wrong = sum(values_differ(a, b) for a, b in zip(fp_labels["realized_value"], fp_labels["value"], strict=True))
    return {"labels_known_after_as_of": after_as_of, "first_print_labels_not_matching": int(wrong)}
