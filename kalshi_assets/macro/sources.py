"""Outcome sources: what each release printed and when (vintages), from ALFRED or the demo exchange.

A source answers `vintages(events)` with VintageRecords: one row per (event, vintage), vintage 1 being
the first print. Records carry naive UTC datetimes (what DuckDB TIMESTAMP columns hold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from kalshi_assets.analytics.outcomes import version_number
from kalshi_assets.catalog import FredSeriesSpec, load_catalog
from kalshi_assets.macro.alfred import AlfredClient, Observation
from kalshi_assets.times import naive_utc_timestamp, utc_now


class SourceError(ValueError):
    """A source returned a record this pipeline cannot use."""


@dataclass(frozen=True)
class VintageRecord:
    event_ticker: str
    series_ticker: str
    reference_period: date
    vintage_time: datetime  # naive UTC: when this value became known
    vintage: int  # 1 = first print
    value: float
    source: str


@dataclass(frozen=True)
class EventRef:
    """What a source needs to know about a Kalshi event to find its outcome."""

    event_ticker: str
    series_ticker: str
    release_time: datetime | None  # naive UTC


class VintageSource(Protocol):
    name: str

    def vintages(self, events: Sequence[EventRef]) -> list[VintageRecord]: ...

    def now(self) -> datetime: ...


def naive_utc(value: Any, *, field: str = "time") -> datetime:
    """An ISO string or datetime as a naive UTC datetime; naive inputs are taken as UTC."""
    try:
        return naive_utc_timestamp(value).to_pydatetime()
    except (TypeError, ValueError):
        raise SourceError(f"{field} {value!r} is not a time") from None


def vintage_from_mapping(row: Mapping[str, Any], source: str) -> VintageRecord:
    """A vintage dict (the demo exchange's shape) as a record; bad rows are a clear error."""
    required = ("event_ticker", "series_ticker", "reference_period", "vintage_time", "vintage", "value")
    missing = [k for k in required if row.get(k) is None]
    if missing:
        raise SourceError(f"vintage row lacks {missing}: {dict(row)!r}")
    try:
        reference = row["reference_period"]
        reference_period = reference if isinstance(reference, date) else date.fromisoformat(str(reference))
        vintage = version_number(row["vintage"])
        value = float(row["value"])
    except (TypeError, ValueError) as exc:
        raise SourceError(f"bad vintage row {dict(row)!r}: {exc}") from None
    if vintage < 1:
        raise SourceError(f"vintage numbers start at 1 (the first print): {dict(row)!r}")
    if value != value:  # NaN is not a print
        raise SourceError(f"vintage value is NaN: {dict(row)!r}")
    return VintageRecord(
        event_ticker=str(row["event_ticker"]),
        series_ticker=str(row["series_ticker"]),
        reference_period=reference_period,
        vintage_time=naive_utc(row["vintage_time"], field="vintage_time"),
        vintage=vintage,
        value=value,
        source=source,
    )


# --- ALFRED ------------------------------------------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_CODE = re.compile(r"^(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})?$")
_QUARTER_CODE = re.compile(r"^(?P<yy>\d{2})Q(?P<q>[1-4])$")


def reference_period_from_ticker(event_ticker: str) -> date:
    """The first day of the period an event describes, from its ticker's date code.

    `KXCPI-26SEP` -> 2026-09-01, `KXGDP-26Q3` -> 2026-07-01, `KXFED-26DEC` -> 2026-12-01 (the meeting
    month; sources that need the meeting day use the release time instead).
    """
    code = event_ticker.rsplit("-", 1)[-1].upper()
    if match := _QUARTER_CODE.match(code):
        return date(2000 + int(match["yy"]), 3 * (int(match["q"]) - 1) + 1, 1)
    if (match := _MONTH_CODE.match(code)) and match["mon"] in _MONTHS:
        return date(2000 + int(match["yy"]), _MONTHS.index(match["mon"]) + 1, 1)
    raise SourceError(f"cannot read a reference period from event ticker {event_ticker!r}")


def fred_series_from_catalog() -> dict[str, FredSeriesSpec]:
    """The FRED series of every catalog series that has one, keyed by series ticker (a choice made in
    the catalog: the FRED series closest to what each Kalshi series settles on). A series without one
    (KXFEDDECISION, a change in basis points) settles on Kalshi's first print only."""
    return {entry.ticker: entry.macro for entry in load_catalog().series.values() if entry.macro is not None}


def fred_spec_for_series(
    series_ticker: str, specs: Mapping[str, FredSeriesSpec] | None = None
) -> FredSeriesSpec | None:
    """The FRED series of a Kalshi series: by ticker, else by the catalog's name for it (an older alias
    such as CPI -> KXCPI, or a demo replica KXCPIR2 -> KXCPI). `specs` defaults to the catalog's."""
    specs = fred_series_from_catalog() if specs is None else specs
    if series_ticker in specs:
        return specs[series_ticker]
    entry = load_catalog().lookup(series_ticker)
    return specs.get(entry.ticker) if entry is not None else None


def vintage_time_from_realtime_start(realtime_start: date, release_time: datetime | None) -> datetime:
    """When a FRED vintage dated `realtime_start` became known, as a UTC instant.

    FRED dates vintages by day. On the event's release day the value came out at the release time;
    on any other day we only know it was out by the end of that day, so it counts from the next
    midnight (UTC): later than the truth by some hours, never earlier, so no label sees the future.
    """
    if release_time is not None and realtime_start == release_time.date():
        return release_time
    return datetime.combine(realtime_start + timedelta(days=1), datetime.min.time())


class AlfredVintageSource:
    """Vintages of Kalshi events from FRED/ALFRED real-time periods."""

    name = "alfred"

    def __init__(
        self,
        client: AlfredClient,
        series: Mapping[str, FredSeriesSpec] | None = None,
        window_days: int | None = 1000,  # FRED refuses requests spanning more than 2000 vintage dates
    ) -> None:
        self.client = client
        self.series = dict(fred_series_from_catalog() if series is None else series)
        self.window_days = window_days
        self.skipped_missing = 0  # vintages FRED published as "." (counted, not stored)
        self.unmapped_events: list[str] = []

    def now(self) -> datetime:
        return utc_now()

    def observation_date(self, event: EventRef, spec: FredSeriesSpec) -> date:
        if spec.meeting_effective_next_day:
            if event.release_time is None:
                raise SourceError(f"{event.event_ticker}: a meeting event needs its release time")
            return event.release_time.date() + timedelta(days=1)
        return reference_period_from_ticker(event.event_ticker)

    def vintages(self, events: Sequence[EventRef]) -> list[VintageRecord]:
        self.skipped_missing, self.unmapped_events = 0, []
        by_series: dict[str, list[tuple[EventRef, FredSeriesSpec, date]]] = {}
        for event in events:
            spec = fred_spec_for_series(event.series_ticker, self.series)
            if spec is None:
                self.unmapped_events.append(event.event_ticker)
                continue
            by_series.setdefault(spec.series_id, []).append((event, spec, self.observation_date(event, spec)))
        records: list[VintageRecord] = []
        for series_id, wanted in sorted(by_series.items()):
            spec = wanted[0][1]
            days = [day for _, _, day in wanted]
            observations = self.client.vintages(
                series_id,
                # No period is printed before it starts. The range opens a month earlier so that a print
                # on the first day is seen as released there, not as carried in at the window's edge.
                realtime_start=min(days) - timedelta(days=31),
                observation_start=min(days),
                observation_end=max(days),
                units=spec.units,
                window_days=self.window_days,
            )
            by_day: dict[date, list[Observation]] = {}
            for obs in observations:
                by_day.setdefault(obs.date, []).append(obs)
            for event, _, day in wanted:
                records.extend(self._event_vintages(event, spec, by_day.get(day, [])))
        return records

    def _event_vintages(
        self, event: EventRef, spec: FredSeriesSpec, observations: Iterable[Observation]
    ) -> list[VintageRecord]:
        out: list[VintageRecord] = []
        for obs in sorted(observations, key=lambda o: o.realtime_start):
            if obs.carried_in:  # its start is a window edge, not a release date
                continue
            if obs.value is None:
                self.skipped_missing += 1
                continue
            value = round(obs.value * spec.scale, spec.decimals)
            if out and out[-1].value == value:  # a new vintage that rounds to the same print
                continue
            out.append(
                VintageRecord(
                    event_ticker=event.event_ticker,
                    series_ticker=event.series_ticker,
                    reference_period=(
                        event.release_time.date()
                        if spec.meeting_effective_next_day and event.release_time is not None
                        else obs.date
                    ),
                    vintage_time=vintage_time_from_realtime_start(obs.realtime_start, event.release_time),
                    vintage=len(out) + 1,
                    value=value,
                    source=self.name,
                )
            )
        return out


# --- shaping for the outcomes assets -----------------------------------------------------------

VINTAGE_FRAME_COLUMNS: tuple[str, ...] = (
    "event_ticker", "series_ticker", "reference_period", "vintage_time", "vintage", "value", "source",
)


def event_refs(releases: pd.DataFrame) -> list[EventRef]:
    """The events to ask a source about, from rows of event_ticker, series_ticker and release_time
    (a missing release time stays None)."""
    return [
        EventRef(
            event_ticker=row.event_ticker,
            series_ticker=row.series_ticker,
            release_time=None if pd.isna(row.release_time) else pd.Timestamp(row.release_time).to_pydatetime(),
        )
        for row in releases.itertuples(index=False)
    ]


def vintages_known_at(records: Sequence[VintageRecord], now: datetime) -> list[VintageRecord]:
    """The vintages that had become known by `now` (a source's clock), in their order."""
    return [r for r in records if r.vintage_time <= now]


def vintage_frame(records: Sequence[VintageRecord]) -> pd.DataFrame:
    """Vintage records as a frame with VINTAGE_FRAME_COLUMNS (the columns even when there are none)."""
    columns = list(VINTAGE_FRAME_COLUMNS)
    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in records], columns=columns)
