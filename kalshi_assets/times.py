"""The project's one home for times. The warehouse's convention is naive datetimes holding UTC (DuckDB
TIMESTAMP); the helpers below turn any time the code meets into that, and back into an aware UTC time
where a protocol wants one. Nothing here reads a clock but `utc_now`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import pandas as pd


def utc_now() -> datetime:
    """Now, as a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...


def naive_utc(value: datetime | None) -> datetime | None:
    """The warehouse's convention: an aware datetime converted to UTC and made naive; a naive one is taken
    as UTC already and returned unchanged (None stays None: an unknown time)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def aware_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (the warehouse's convention)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_utc(value: datetime | date | str, name: str = "time") -> datetime:
    """A naive UTC datetime from a datetime (naive means UTC), a date (its midnight) or ISO 8601 text
    ("Z" allowed); anything else raises ValueError naming `name`."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 date or time, got {value!r}") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a date, a datetime or ISO 8601 text, got {value!r}")
    try:
        return naive_utc(value)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the first representable UTC instant
        raise ValueError(f"{name} {value.isoformat()} is outside the representable range of UTC times") from None


def naive_utc_timestamp(value: Any) -> pd.Timestamp:
    """Any time pandas reads (text, datetime, numpy or pandas time) as a naive UTC Timestamp; aware times
    are converted, naive ones are taken as UTC. A missing time raises ValueError."""
    import pandas as pd  # here, not at the top: the audit log and the CLI use this module without pandas

    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError(f"not a time: {value!r}")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def unix_seconds(moment: datetime) -> int:
    """Whole Unix seconds of a naive UTC (or aware) datetime."""
    return int(aware_utc(moment).timestamp())


def windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of `size` (the last one shorter), in order."""
    if size <= timedelta(0):
        raise ValueError(f"window size must be positive, got {size}")
    out = []
    while start < end:
        out.append((start, min(start + size, end)))
        start += size
    return out
