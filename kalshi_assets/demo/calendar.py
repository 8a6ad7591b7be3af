"""Release calendars of the demo exchange: when each macro value is published.

Dates follow the real agencies' habits closely enough for research code to meet the same shapes
(CPI mid-month, jobs on the first Friday, GDP advance a month after the quarter, eight FOMC meetings
a year); they are not an official calendar. The hour and time zone of each series' releases come from
its catalog entry (`catalog.ReleaseRule`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from kalshi_assets.catalog import ReleaseRule

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# FOMC decision days (statement at 14:00 ET), eight a year.
FOMC_DATES: tuple[date, ...] = tuple(
    date.fromisoformat(d)
    for d in (
        "2024-09-18", "2024-11-07", "2024-12-18",
        "2025-01-29", "2025-03-19", "2025-05-07", "2025-06-18", "2025-07-30", "2025-09-17", "2025-10-29",
        "2025-12-10",
        "2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17", "2026-07-29", "2026-09-16", "2026-10-28",
        "2026-12-09",
    )
)


@dataclass(frozen=True)
class Release:
    """One scheduled publication: the reference period it describes and the UTC instant it comes out."""

    period_code: str  # ticker suffix: 26SEP (a month), 26Q3 (a quarter), 26DEC (a meeting month)
    reference_period: date  # first day of the period the value describes (the meeting day for FOMC)
    release_time: datetime  # UTC, tz-aware


def _month_code(day: date) -> str:
    return f"{day.year % 100:02d}{MONTHS[day.month - 1]}"


def _next_month(day: date) -> date:
    return date(day.year + (day.month // 12), day.month % 12 + 1, 1)


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _business_day_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _months(first: date, last: date) -> list[date]:
    months, current = [], date(first.year, first.month, 1)
    while current <= last:
        months.append(current)
        current = _next_month(current)
    return months


def cpi_releases(first: date, last: date, at: Callable[[date], datetime]) -> list[Release]:
    """CPI for month M comes out around the 12th of M+1 (at 08:30 ET)."""
    out = []
    for ref in _months(first - timedelta(days=62), last):
        day = _business_day_on_or_after(_next_month(ref).replace(day=11 + (ref.month % 3)))
        out.append(Release(_month_code(ref), ref, at(day)))
    return [r for r in out if first <= r.release_time.date() <= last]


def jobs_releases(first: date, last: date, at: Callable[[date], datetime]) -> list[Release]:
    """The employment report for month M comes out on the first Friday of M+1 (at 08:30 ET)."""
    out = []
    for ref in _months(first - timedelta(days=62), last):
        day = _weekday_on_or_after(_next_month(ref), 4)
        out.append(Release(_month_code(ref), ref, at(day)))
    return [r for r in out if first <= r.release_time.date() <= last]


def gdp_releases(first: date, last: date, at: Callable[[date], datetime]) -> list[Release]:
    """The advance GDP estimate for quarter Q comes out near the end of the month after Q (08:30 ET)."""
    out = []
    for ref in _months(first - timedelta(days=130), last):
        if ref.month not in (1, 4, 7, 10):
            continue
        quarter = (ref.month - 1) // 3 + 1
        month_after = _next_month(_next_month(_next_month(ref)))
        day = _weekday_on_or_after(month_after.replace(day=24), 3)  # a Thursday in the last week
        out.append(Release(f"{ref.year % 100:02d}Q{quarter}", ref, at(day)))
    return [r for r in out if first <= r.release_time.date() <= last]


def fomc_releases(first: date, last: date, at: Callable[[date], datetime]) -> list[Release]:
    """FOMC statements on the scheduled decision days (at 14:00 ET)."""
    return [
        Release(_month_code(day), day, at(day)) for day in FOMC_DATES if first <= day <= last
    ]


_SCHEDULES: dict[str, Callable[[date, date, Callable[[date], datetime]], list[Release]]] = {
    "cpi": cpi_releases,
    "jobs": jobs_releases,
    "gdp": gdp_releases,
    "fomc": fomc_releases,
}


def releases(rule: ReleaseRule, first: date, last: date) -> list[Release]:
    """The releases of a series' schedule between two days, at its catalog release time."""
    return _SCHEDULES[rule.schedule](first, last, rule.at)
