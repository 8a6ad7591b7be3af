"""kalshi_assets.times: every time the code meets becomes the warehouse's naive UTC, and back."""

from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_assets import times

PLUS_ONE = timezone(timedelta(hours=1))


def test_utc_now_is_naive_and_current() -> None:
    now = times.utc_now()
    assert now.tzinfo is None
    assert abs(now - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)


def test_naive_utc_converts_aware_keeps_naive_and_none() -> None:
    assert times.naive_utc(datetime(2026, 11, 1, 1, tzinfo=PLUS_ONE)) == datetime(2026, 11, 1)
    assert times.naive_utc(datetime(2026, 11, 1, 1)) == datetime(2026, 11, 1, 1)
    assert times.naive_utc(None) is None


def test_aware_utc_takes_naive_as_utc_and_refuses_non_times() -> None:
    assert times.aware_utc(datetime(2026, 11, 1)) == datetime(2026, 11, 1, tzinfo=UTC)
    assert times.aware_utc(datetime(2026, 11, 1, 1, tzinfo=PLUS_ONE)).tzinfo is UTC
    with pytest.raises(TypeError, match="expected a datetime"):
        times.aware_utc("2026-11-01")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-01T00:00:00Z", datetime(2026, 11, 1)),
        (" 2026-11-01T01:00:00+01:00 ", datetime(2026, 11, 1)),
        ("2026-11-01", datetime(2026, 11, 1)),
        (date(2026, 11, 1), datetime(2026, 11, 1)),
        (datetime(2026, 11, 1, 5), datetime(2026, 11, 1, 5)),
    ],
)
def test_parse_utc_reads_text_dates_and_datetimes(value: object, expected: datetime) -> None:
    assert times.parse_utc(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday; --", "start must be an ISO 8601 date or time"),
        (42, "start must be a date, a datetime or ISO 8601 text"),
        ("0001-01-01T00:00+05:00", "outside the representable range"),
    ],
)
def test_parse_utc_names_the_argument_in_its_error(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        times.parse_utc(value, "start")  # type: ignore[arg-type]


def test_naive_utc_timestamp() -> None:
    assert times.naive_utc_timestamp("2026-11-01T00:00:00Z") == pd.Timestamp("2026-11-01")
    assert times.naive_utc_timestamp("2026-11-01T01:00:00+01:00") == pd.Timestamp("2026-11-01")
    with pytest.raises(ValueError, match="not a time"):
        times.naive_utc_timestamp(None)


def test_unix_seconds_of_naive_utc() -> None:
    assert times.unix_seconds(datetime(1970, 1, 2)) == 86_400
    assert times.unix_seconds(datetime(1970, 1, 2, 1, tzinfo=PLUS_ONE)) == 86_400


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=0, max_value=24 * 400),
    st.integers(min_value=1, max_value=24 * 100),
)
def test_windows_tile_the_range_in_order(start: datetime, hours: int, size_hours: int) -> None:
    end = start + timedelta(hours=hours)
    cut = times.windows(start, end, timedelta(hours=size_hours))
    assert [a for a, _ in cut[1:]] == [b for _, b in cut[:-1]]  # consecutive, no gap, no overlap
    if hours == 0:
        assert cut == []
    else:
        assert cut[0][0] == start and cut[-1][1] == end
        assert all(timedelta(0) < b - a <= timedelta(hours=size_hours) for a, b in cut)


def test_windows_refuse_an_empty_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        times.windows(datetime(2026, 1, 1), datetime(2026, 1, 2), timedelta(0))
