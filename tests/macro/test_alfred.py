"""The ALFRED-style client against a loopback FRED server."""

from __future__ import annotations

import logging
import socket
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_assets.macro.alfred import (
    API_KEY_ENV,
    EARLIEST_REALTIME,
    LATEST_REALTIME,
    AlfredClient,
    FredConfigError,
    FredError,
    Observation,
    parse_observation,
    realtime_windows,
    redact,
    stitch_windows,
)
from tests.macro.fake_fred import LATEST, TEST_KEY, FakeFredServer, FakeFredState, Period, clip

d = date.fromisoformat


def client_for(server: FakeFredServer, **kwargs) -> AlfredClient:
    kwargs.setdefault("sleep", lambda _seconds: None)
    return AlfredClient(TEST_KEY, base_url=server.url, **kwargs)


def test_all_vintages_are_half_open_periods_with_missing_values(fred_server: FakeFredServer) -> None:
    rows = client_for(fred_server).vintages("PAYEMS")
    july = [(o.realtime_start, o.realtime_end, o.value) for o in rows if o.date == d("2026-07-01")]
    # FRED's inclusive end 2026-09-03 becomes the exclusive end 2026-09-04: the next vintage's start.
    assert july == [
        (d("2026-08-07"), d("2026-09-04"), 73.0),
        (d("2026-09-04"), d("2026-10-02"), 79.0),
        (d("2026-10-02"), LATEST_REALTIME, 81.0),
    ]
    august = [o.value for o in rows if o.date == d("2026-08-01")]
    assert august == [22.0, None]  # "." is a missing value, not zero and not an error
    assert not any(o.carried_in for o in rows)
    assert [o.is_current for o in rows if o.date == d("2026-09-01")] == [True]
    query = fred_server.state.requests[0]
    assert query["output_type"] == "1"
    assert (query["realtime_start"], query["realtime_end"]) == ("1776-07-04", "9999-12-31")


def test_pagination_follows_offset_until_count(fred_server: FakeFredServer) -> None:
    rows = client_for(fred_server, page_limit=2).vintages("PAYEMS")
    assert len(rows) == 6
    offsets = [(q["offset"], q["limit"]) for q in fred_server.state.requests]
    assert offsets == [("0", "2"), ("2", "2"), ("4", "2")]
    assert [(o.date, o.realtime_start) for o in rows] == sorted((o.date, o.realtime_start) for o in rows)


def test_pagination_that_stalls_is_an_error_not_a_loop(
    fred_server: FakeFredServer, fred_state: FakeFredState
) -> None:
    fred_state.stall_pagination = True
    with pytest.raises(FredError, match="pagination stalled"):
        client_for(fred_server, page_limit=4).vintages("PAYEMS")
    assert len(fred_state.requests) == 3  # pages at 0 and 4, then the empty page that stops it


def test_initial_release_keeps_each_periods_first_print(fred_server: FakeFredServer) -> None:
    rows = client_for(fred_server).initial_release("PAYEMS")
    assert [(o.date, o.realtime_start, o.value) for o in rows] == [
        (d("2026-07-01"), d("2026-08-07"), 73.0),
        (d("2026-08-01"), d("2026-09-04"), 22.0),
        (d("2026-09-01"), d("2026-10-02"), 119.0),
    ]
    assert fred_server.state.requests[0]["output_type"] == "4"


def test_vintage_window_marks_values_carried_in(fred_server: FakeFredServer) -> None:
    rows = client_for(fred_server).vintages(
        "PAYEMS", realtime_start=d("2026-09-10"), realtime_end=d("2026-09-30")
    )
    # Only the values current inside the window, clipped to it: they were released before it opened.
    assert [(o.date, o.realtime_start, o.realtime_end, o.value, o.carried_in) for o in rows] == [
        (d("2026-07-01"), d("2026-09-10"), d("2026-10-01"), 79.0, True),
        (d("2026-08-01"), d("2026-09-10"), d("2026-10-01"), 22.0, True),
    ]


def test_observation_window_is_sent(fred_server: FakeFredServer) -> None:
    rows = client_for(fred_server).vintages(
        "PAYEMS", observation_start=d("2026-09-01"), observation_end=d("2026-09-30")
    )
    assert [o.date for o in rows] == [d("2026-09-01")]


def test_window_days_stitch_to_the_unwindowed_answer(
    fred_server: FakeFredServer, fred_state: FakeFredState
) -> None:
    fred_state.max_vintage_dates = 2
    client = client_for(fred_server)
    with pytest.raises(FredError, match="maximum number of vintage dates") as refused:
        client.vintages("PAYEMS")
    assert refused.value.status == 400
    fred_state.max_vintage_dates = 2000
    whole = client.vintages("PAYEMS")
    fred_state.max_vintage_dates = 2
    stitched = client.vintages(
        "PAYEMS", realtime_start=d("2026-08-01"), realtime_end=d("2026-10-31"), window_days=20
    )
    # The stitched rows end at the requested window end instead of 9999-12-31; otherwise the same.
    clipped_whole = [(o.date, o.realtime_start, min(o.realtime_end, d("2026-11-01")), o.value) for o in whole]
    assert [(o.date, o.realtime_start, o.realtime_end, o.value) for o in stitched] == clipped_whole
    assert not any(o.carried_in for o in stitched)  # the range opens before the first release


def test_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch, fred_server: FakeFredServer) -> None:
    monkeypatch.setenv(API_KEY_ENV, TEST_KEY)
    client = AlfredClient(base_url=fred_server.url)
    assert len(client.initial_release("PAYEMS")) == 3
    assert fred_server.state.requests[0]["api_key"] == TEST_KEY


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(FredConfigError, match=API_KEY_ENV):
        AlfredClient()
    monkeypatch.setenv(API_KEY_ENV, "   ")
    with pytest.raises(FredConfigError):
        AlfredClient()


def test_wrong_key_is_an_error_that_does_not_quote_it(fred_server: FakeFredServer) -> None:
    wrong = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    client = AlfredClient(wrong, base_url=fred_server.url, sleep=lambda _s: None)
    with pytest.raises(FredError) as failure:
        client.vintages("PAYEMS")
    assert failure.value.status == 400
    assert "not registered" in str(failure.value)
    assert wrong not in str(failure.value) and wrong not in repr(client)
    assert len(fred_server.state.requests) == 1  # a 400 is not retried


def test_key_never_reaches_logs(caplog: pytest.LogCaptureFixture, fred_server: FakeFredServer) -> None:
    with caplog.at_level(logging.DEBUG):
        client_for(fred_server, page_limit=3).vintages("PAYEMS")
    messages = [record.getMessage() for record in caplog.records]
    assert any("/fred/series/observations" in m for m in messages)  # urllib3 did log the requests
    assert not any(TEST_KEY in m for m in messages)


def test_connection_error_does_not_carry_the_url() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AlfredClient(TEST_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=1, sleep=lambda _s: None)
    with pytest.raises(FredError, match="ConnectionError") as failure:
        client.vintages("PAYEMS")
    assert TEST_KEY not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__context__ is None


def test_retries_server_errors_with_backoff(fred_server: FakeFredServer, fred_state: FakeFredState) -> None:
    waits: list[float] = []
    fred_state.queued_statuses = [503, 429]
    rows = client_for(fred_server, backoff_seconds=0.5, sleep=waits.append).initial_release("PAYEMS")
    assert len(rows) == 3
    assert waits == [0.5, 1.0]
    fred_state.queued_statuses = [500, 500, 500]
    with pytest.raises(FredError) as failure:
        client_for(fred_server, max_retries=2).initial_release("PAYEMS")
    assert failure.value.status == 500


def test_bad_values_and_arguments_are_clear_errors(fred_server: FakeFredServer) -> None:
    with pytest.raises(FredError, match="neither a number"):
        parse_observation(
            "X",
            {
                "date": "2026-01-01",
                "realtime_start": "2026-02-01",
                "realtime_end": "9999-12-31",
                "value": "n/a",
            },
        )
    with pytest.raises(FredError, match="without realtime_end"):
        parse_observation("X", {"date": "2026-01-01", "realtime_start": "2026-02-01", "value": "1"})
    with pytest.raises(FredError, match="not a YYYY-MM-DD"):
        parse_observation(
            "X",
            {"date": "Jan 2026", "realtime_start": "2026-02-01", "realtime_end": "9999-12-31", "value": "1"},
        )
    client = client_for(fred_server)
    with pytest.raises(ValueError, match="after realtime_end"):
        client.vintages("PAYEMS", realtime_start=d("2026-10-01"), realtime_end=d("2026-09-01"))
    with pytest.raises(ValueError, match="page_limit"):
        client_for(fred_server, page_limit=0)
    assert redact("http://h/p?api_key=secret&x=1") == "http://h/p?api_key=REDACTED&x=1"


def test_realtime_windows_cover_the_range_without_gaps() -> None:
    windows = realtime_windows(d("2026-01-01"), d("2026-01-10"), 4)
    assert windows == [
        (d("2026-01-01"), d("2026-01-04")),
        (d("2026-01-05"), d("2026-01-08")),
        (d("2026-01-09"), d("2026-01-10")),
    ]
    assert realtime_windows(d("2026-01-01"), d("2026-01-02"), 2) == [(d("2026-01-01"), d("2026-01-02"))]
    # nothing is published after today: one window runs on to the end of the real-time axis
    open_ended = realtime_windows(d("2026-01-01"), LATEST_REALTIME, 30, last_vintage_day=d("2026-03-15"))
    assert open_ended[-1] == (d("2026-04-01"), LATEST_REALTIME) and len(open_ended) == 4
    assert all(b + timedelta(days=1) == c for (_, b), (c, _) in zip(open_ended, open_ended[1:], strict=False))


# --- stitching, as a property: any history, any window size, same periods as one request ----------


@st.composite
def histories(draw: st.DrawFn) -> list[Period]:
    periods: list[Period] = []
    for month in range(draw(st.integers(1, 3))):
        day = date(2026, month + 1, 1)
        start = d("2026-01-01") + timedelta(days=draw(st.integers(0, 30)))
        steps = draw(st.lists(st.integers(1, 25), min_size=0, max_size=4))
        values = draw(
            st.lists(
                st.sampled_from(["1.0", "2.0", "3.5", "."]), min_size=len(steps) + 1, max_size=len(steps) + 1
            )
        )
        # consecutive real-time periods must carry different values (FRED merges equal neighbours)
        values = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
        bounds = [start]
        for step in steps[: len(values) - 1]:
            bounds.append(bounds[-1] + timedelta(days=step))
        for i, value in enumerate(values[: len(bounds)]):
            end = bounds[i + 1] - timedelta(days=1) if i + 1 < len(bounds) else LATEST
            periods.append(Period(day, bounds[i], end, value))
    return periods


def _as_observations(periods: list[Period]) -> list[Observation]:
    return [
        parse_observation(
            "S",
            {
                "date": p.day.isoformat(),
                "realtime_start": p.start.isoformat(),
                "realtime_end": p.end.isoformat(),
                "value": p.value,
            },
        )
        for p in periods
    ]


@settings(max_examples=150, deadline=None)
@given(history=histories(), window_days=st.integers(1, 40))
def test_stitched_windows_equal_one_request(history: list[Period], window_days: int) -> None:
    start, end = EARLIEST_REALTIME, d("2026-06-30")
    whole = _as_observations(clip(history, start, end))
    windows = realtime_windows(d("2025-12-01"), end, window_days)
    windows[0] = (start, windows[0][1])
    pieces = []
    for w_start, w_end in windows:
        rows = _as_observations(clip(history, w_start, w_end))
        pieces.append(
            [
                Observation(
                    o.series_id,
                    o.date,
                    o.realtime_start,
                    o.realtime_end,
                    o.value,
                    carried_in=w_start > EARLIEST_REALTIME and o.realtime_start <= w_start,
                )
                for o in rows
            ]
        )
    stitched = stitch_windows(pieces, [w for w, _ in windows])
    key = [(o.date, o.realtime_start, o.realtime_end, o.value) for o in whole]
    assert [(o.date, o.realtime_start, o.realtime_end, o.value) for o in stitched] == key
    assert not any(o.carried_in for o in stitched)
