"""A loopback FRED/ALFRED server for tests: `fred/series/observations` in FRED's JSON shape.

It keeps each series as FRED stores it (real-time periods with inclusive end dates) and answers the
way FRED does: real-time windows are intersected with the request (starts and ends clipped), output_type
4 keeps each period's initial release, rows are paginated with offset/limit and a `count`, a request
spanning more vintage dates than allowed is refused with FRED's error body, and a wrong key is a 400.
Faults can be queued (status codes served before the real answer) and pagination can be made to stall.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LATEST = date(9999, 12, 31)
TEST_KEY = "abcdefghijklmnopqrstuvwxyz012345"  # a made-up 32-character key for the loopback server


@dataclass(frozen=True)
class Period:
    """A value of one observation date, current from start to end (both inclusive, as FRED writes)."""

    day: date
    start: date
    end: date
    value: str  # FRED sends values as text; "." is missing


def clip(periods: list[Period], window_start: date, window_end: date) -> list[Period]:
    """FRED's real-time window semantics: keep periods meeting the window, clipped to it."""
    out = [
        Period(p.day, max(p.start, window_start), min(p.end, window_end), p.value)
        for p in periods
        if p.start <= window_end and p.end >= window_start
    ]
    return sorted(out, key=lambda p: (p.day, p.start))


def initial_releases(periods: list[Period]) -> list[Period]:
    first: dict[date, Period] = {}
    for p in sorted(periods, key=lambda p: (p.day, p.start)):
        first.setdefault(p.day, p)
    return list(first.values())


@dataclass
class FakeFredState:
    api_key: str
    series: dict[str, list[Period]] = field(default_factory=dict)
    today: date = date(2026, 11, 1)
    max_vintage_dates: int = 2000
    queued_statuses: list[int] = field(default_factory=list)
    stall_pagination: bool = False  # report more rows than it ever sends
    requests: list[dict[str, str]] = field(default_factory=list)


def _error(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    body = json.dumps({"error_code": status, "error_message": message}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _answer(state: FakeFredState, query: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
    if query.get("api_key") != state.api_key:
        return 400, "Bad Request.  The value for variable api_key is not registered."
    if query.get("file_type") != "json":
        return 400, "Bad Request.  This test server speaks json only."
    series_id = query.get("series_id", "")
    if series_id not in state.series:
        return 400, "Bad Request.  The series does not exist."
    try:
        rt_start = date.fromisoformat(query.get("realtime_start", state.today.isoformat()))
        rt_end = date.fromisoformat(query.get("realtime_end", state.today.isoformat()))
        obs_start = date.fromisoformat(query.get("observation_start", "1776-07-04"))
        obs_end = date.fromisoformat(query.get("observation_end", "9999-12-31"))
        limit = int(query.get("limit", "100000"))
        offset = int(query.get("offset", "0"))
        output_type = int(query.get("output_type", "1"))
    except ValueError as exc:
        return 400, f"Bad Request.  {exc}"
    if not 1 <= limit <= 100_000:
        return 400, "Bad Request.  Variable limit is not between 1 and 100000."
    periods = [p for p in state.series[series_id] if obs_start <= p.day <= obs_end]
    if output_type == 4:
        periods = initial_releases(periods)
    rows = clip(periods, rt_start, rt_end)
    if len({p.start for p in rows}) > state.max_vintage_dates:
        return (
            400,
            f"Bad Request.  This exceeds the maximum number of vintage dates allowed ({state.max_vintage_dates}).",
        )
    page = rows[offset : offset + limit]
    count = len(rows) + (limit if state.stall_pagination else 0)
    if state.stall_pagination and offset >= len(rows):
        page = []
    return 200, {
        "realtime_start": rt_start.isoformat(),
        "realtime_end": rt_end.isoformat(),
        "observation_start": obs_start.isoformat(),
        "observation_end": obs_end.isoformat(),
        "units": query.get("units", "lin"),
        "output_type": output_type,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": "asc",
        "count": count,
        "offset": offset,
        "limit": limit,
        "observations": [
            {
                "realtime_start": p.start.isoformat(),
                "realtime_end": p.end.isoformat(),
                "date": p.day.isoformat(),
                "value": p.value,
            }
            for p in page
        ],
    }


class FakeFredServer:
    """Runs on 127.0.0.1 in a thread; `url` is the base URL to give the client."""

    def __init__(self, state: FakeFredState) -> None:
        self.state = state
        server_state = state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                server_state.requests.append(query)
                if parts.path != "/fred/series/observations":
                    _error(self, 404, "Not Found")
                    return
                if server_state.queued_statuses:
                    _error(self, server_state.queued_statuses.pop(0), "Queued fault")
                    return
                status, payload = _answer(server_state, query)
                if status != 200:
                    _error(self, status, str(payload))
                    return
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeFredServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
