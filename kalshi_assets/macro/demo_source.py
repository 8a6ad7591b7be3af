"""The demo exchange's vintages as an outcome source (the default: no network, no key).

`extra_vintages` lets a caller publish more vintages on top of the demo's own (a test appending a
revision, or a what-if): each needs event_ticker, vintage_time and value; series, reference period and
vintage number are taken from the event's demo vintages when left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.macro.sources import EventRef, SourceError, VintageRecord, naive_utc, vintage_from_mapping


class DemoVintageSource:
    """Vintages published by the embedded demo exchange, plus any extra vintages given."""

    name = "demo"

    def __init__(
        self,
        exchange: DemoExchange | None = None,
        *,
        seed: int = 7,
        scale: int = 1,
        extra_vintages: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.exchange = exchange if exchange is not None else DemoExchange(seed=seed, scale=scale)
        self.extra_vintages = [dict(row) for row in extra_vintages]

    def now(self) -> datetime:
        """The demo's present: nothing after it has been published."""
        return naive_utc(self.exchange.now)

    def vintages(self, events: Sequence[EventRef] = ()) -> list[VintageRecord]:
        """Every vintage the demo published by its `now`, then the extra ones. `events` is not needed:
        the demo names its events itself."""
        records = [vintage_from_mapping(row, self.name) for row in self.exchange.vintages()]
        by_event: dict[str, list[VintageRecord]] = {}
        for record in records:
            by_event.setdefault(record.event_ticker, []).append(record)
        for row in self.extra_vintages:
            record = self._complete(row, by_event)
            by_event.setdefault(record.event_ticker, []).append(record)
            records.append(record)
        return records

    def _complete(self, row: Mapping[str, Any], by_event: Mapping[str, list[VintageRecord]]) -> VintageRecord:
        event = row.get("event_ticker")
        known = by_event.get(str(event), [])
        if not known and (row.get("series_ticker") is None or row.get("reference_period") is None):
            raise SourceError(
                f"extra vintage for {event!r}: unknown demo event, give series and reference period"
            )
        when = naive_utc(row.get("vintage_time"), field="vintage_time")
        completed = {
            "series_ticker": known[0].series_ticker if known else None,
            "reference_period": known[0].reference_period if known else None,
            "vintage": 1 + sum(1 for r in known if r.vintage_time < when),
            **{k: v for k, v in row.items() if v is not None},
        }
        if when > self.now():
            raise SourceError(f"extra vintage for {event!r} at {when} is after the demo's now {self.now()}")
        return vintage_from_mapping(completed, self.name)
