"""An ALFRED-style vintage client: FRED's `fred/series/observations` endpoint in JSON.

FRED/ALFRED publish every value of a series together with the real-time window in which it was the
current value (`realtime_start` <= day < `realtime_end`, dates; `9999-12-31` means "still current").
`output_type=1` returns every vintage as real-time periods, `output_type=4` the initial release only
(docs/METHODS.md section 2). A missing value is published as ".".

The API key comes from the environment (FRED_API_KEY) and is sent as a query parameter because that is
the only way FRED accepts it; it is therefore kept out of every message this module produces and
redacted from urllib3's debug log, and errors from `requests` (whose texts carry the full URL) are
replaced by our own, unchained, so a traceback never shows the key.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from kalshi_assets.kalshi.breaker import CircuitBreaker, Outcome

log = logging.getLogger(__name__)

FRED_BASE_URL = "https://api.stlouisfed.org"
OBSERVATIONS_PATH = "/fred/series/observations"
API_KEY_ENV = "FRED_API_KEY"

# output_type values of fred/series/observations.
OUTPUT_ALL_VINTAGES = 1  # observations by real-time period
OUTPUT_INITIAL_RELEASE = 4  # observations, initial release only

# FRED's bounds of the real-time axis: asking for this window returns the whole vintage history.
EARLIEST_REALTIME = date(1776, 7, 4)
LATEST_REALTIME = date(9999, 12, 31)

MAX_PAGE_LIMIT = 100_000  # FRED's largest `limit`
MISSING_VALUE = "."

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_API_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s\"']+")


class FredError(Exception):
    """A FRED request failed or returned something this client cannot read. Never carries the key."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FredConfigError(FredError):
    """The client is not configured (no API key)."""


def classify_fred_outcome(exc: BaseException) -> Outcome:
    """For the ALFRED breaker: a 4xx other than 429 (a bad series id, a bad key) is the caller's, not an
    outage; everything else that escapes the retries is a failure."""
    status = getattr(exc, "status", None)
    if isinstance(exc, FredError) and status is not None and 400 <= status < 500 and status != 429:
        return Outcome.NEUTRAL
    return Outcome.FAILURE if isinstance(exc, Exception) else Outcome.NEUTRAL


@dataclass(frozen=True)
class Observation:
    """One value of one period, current during [realtime_start, realtime_end) (dates, end exclusive)."""

    series_id: str
    date: date  # the reference period (FRED's observation date: first day of the period)
    realtime_start: date
    realtime_end: date  # LATEST_REALTIME while the value is still current
    value: float | None  # None where FRED publishes "."
    # FRED clips each real-time window to the requested one: a value that was already current when the
    # requested window opened comes back with realtime_start = the window start. Such a start is not a
    # release date, so it must never be read as a vintage.
    carried_in: bool = False

    @property
    def is_current(self) -> bool:
        return self.realtime_end == LATEST_REALTIME


def redact(text: str) -> str:
    """`text` with any api_key query value replaced, for messages that may quote a URL."""
    return _API_KEY_IN_TEXT.sub(r"\1REDACTED", text)


class _RedactApiKey(logging.Filter):
    """urllib3 logs request lines (with the query string) at DEBUG: strip the key from them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg, record.args = redact(message), None
        return True


def _install_log_redaction() -> None:
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactApiKey) for f in urllib3_log.filters):
        urllib3_log.addFilter(_RedactApiKey())


def parse_value(raw: Any, *, series_id: str, day: str) -> float | None:
    """FRED's value text as a float; "." (FRED's missing value) as None; anything else is an error."""
    if raw is None or raw == MISSING_VALUE:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise FredError(f"{series_id} {day}: value {raw!r} is neither a number nor '.'") from None


def _parse_date(raw: Any, *, field: str, series_id: str) -> date:
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise FredError(f"{series_id}: {field} {raw!r} is not a YYYY-MM-DD date") from None


def parse_observation(series_id: str, row: dict[str, Any]) -> Observation:
    """One element of the `observations` array."""
    missing = [k for k in ("date", "realtime_start", "realtime_end", "value") if k not in row]
    if missing:
        raise FredError(f"{series_id}: observation without {', '.join(missing)}: {row!r}")
    start = _parse_date(row["realtime_start"], field="realtime_start", series_id=series_id)
    end = _parse_date(row["realtime_end"], field="realtime_end", series_id=series_id)
    # FRED writes inclusive end dates in its JSON (a value current through day D has realtime_end D);
    # we store half-open windows, so the end moves one day on, except for the open-ended bound.
    return Observation(
        series_id=series_id,
        date=_parse_date(row["date"], field="date", series_id=series_id),
        realtime_start=start,
        realtime_end=end if end == LATEST_REALTIME else date.fromordinal(end.toordinal() + 1),
        value=parse_value(row["value"], series_id=series_id, day=str(row["date"])),
    )


def realtime_windows(
    start: date, end: date, window_days: int, last_vintage_day: date | None = None
) -> list[tuple[date, date]]:
    """[start, end] (inclusive dates, as FRED takes them) cut into consecutive windows of window_days.

    Past `last_vintage_day` (today, for a live source) nothing has been published yet, so the window
    that reaches it runs on to `end` in one piece instead of walking to 9999-12-31 a month at a time.
    """
    if window_days < 1:
        raise ValueError("window_days must be >= 1")
    windows, current = [], start
    while True:
        if (end - current).days < window_days or (last_vintage_day and current > last_vintage_day):
            windows.append((current, end))
            return windows
        last = current + timedelta(days=window_days - 1)
        windows.append((current, last))
        current = last + timedelta(days=1)


def stitch_windows(pieces: list[list[Observation]], window_starts: list[date]) -> list[Observation]:
    """Join per-window answers into whole real-time periods.

    A value current across a window boundary comes back twice: ending at the boundary in one window and
    `carried_in` at the start of the next. The two halves are one period when they meet exactly and
    hold the same value; otherwise the later row is a genuine new vintage on the boundary day.
    """
    by_period: dict[date, list[Observation]] = {}
    for index, piece in enumerate(pieces):
        for obs in sorted(piece, key=lambda o: (o.date, o.realtime_start)):
            rows = by_period.setdefault(obs.date, [])
            previous = rows[-1] if rows else None
            if index > 0 and obs.carried_in and obs.realtime_start == window_starts[index]:
                if (
                    previous is not None
                    and previous.realtime_end == obs.realtime_start
                    and previous.value == obs.value
                ):
                    rows[-1] = replace(previous, realtime_end=obs.realtime_end)
                    continue
                # Nothing earlier continues into this window: the value was released on the boundary day.
                obs = replace(obs, carried_in=False)
            rows.append(obs)
    return [obs for day in sorted(by_period) for obs in by_period[day]]


class AlfredClient:
    """FRED/ALFRED `series/observations` over HTTP with pagination and bounded retries.

    `api_key` defaults to $FRED_API_KEY. `base_url` points at FRED or at a loopback test server.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = FRED_BASE_URL,
        page_limit: int = MAX_PAGE_LIMIT,
        timeout_seconds: float = 30.0,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        breaker: CircuitBreaker | None = None,
        on_request: Callable[[str, str, int | None, float, str | None], None] | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not key.strip():
            raise FredConfigError(f"no FRED API key: set {API_KEY_ENV} in the environment")
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be in [1, {MAX_PAGE_LIMIT}], got {page_limit}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._api_key = key.strip()
        self.base_url = base_url.rstrip("/")
        self.page_limit = page_limit
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._session = session or requests.Session()
        self._sleep = sleep
        # A call (with its retries) passes the breaker once, like the Kalshi client's calls.
        self._breaker = breaker
        self._on_request = on_request  # (method, path, status, elapsed_ms, error code): never the key
        _install_log_redaction()

    def __repr__(self) -> str:  # the key never appears in a repr
        return f"AlfredClient(base_url={self.base_url!r}, page_limit={self.page_limit})"

    # --- public API ------------------------------------------------------------------------------

    def observations(
        self,
        series_id: str,
        *,
        realtime_start: date | None = None,
        realtime_end: date | None = None,
        observation_start: date | None = None,
        observation_end: date | None = None,
        output_type: int = OUTPUT_ALL_VINTAGES,
        units: str = "lin",
    ) -> list[Observation]:
        """Every observation of `series_id` inside the windows, all pages, in FRED's order.

        Without a real-time window FRED answers with today's vintage only; `vintages` and
        `initial_release` ask for the whole real-time axis.
        """
        if not series_id or not series_id.strip():
            raise ValueError("series_id is required")
        if output_type not in (1, 2, 3, 4):
            raise ValueError(f"output_type must be 1, 2, 3 or 4, got {output_type}")
        if realtime_start and realtime_end and realtime_start > realtime_end:
            raise ValueError(f"realtime_start {realtime_start} is after realtime_end {realtime_end}")
        params: dict[str, str | int] = {
            "series_id": series_id,
            "file_type": "json",
            "output_type": output_type,
            "units": units,
            "sort_order": "asc",
        }
        for name, value in (
            ("realtime_start", realtime_start),
            ("realtime_end", realtime_end),
            ("observation_start", observation_start),
            ("observation_end", observation_end),
        ):
            if value is not None:
                params[name] = value.isoformat()
        observations = [parse_observation(series_id, row) for row in self._pages(OBSERVATIONS_PATH, params)]
        if realtime_start is not None and realtime_start > EARLIEST_REALTIME:
            observations = [
                replace(o, carried_in=True) if o.realtime_start <= realtime_start else o for o in observations
            ]
        return observations

    def vintages(
        self,
        series_id: str,
        *,
        realtime_start: date = EARLIEST_REALTIME,
        realtime_end: date = LATEST_REALTIME,
        observation_start: date | None = None,
        observation_end: date | None = None,
        units: str = "lin",
        window_days: int | None = None,
    ) -> list[Observation]:
        """Every vintage of every period whose real-time window meets [realtime_start, realtime_end].

        `window_days` splits the real-time range into consecutive windows (FRED refuses requests that
        span more than 2000 vintage dates) and stitches the clipped pieces back into whole windows.
        Rows come back ordered by (date, realtime_start).
        """
        if realtime_start > realtime_end:
            raise ValueError(f"realtime_start {realtime_start} is after realtime_end {realtime_end}")
        if window_days is not None and window_days < 1:
            raise ValueError("window_days must be >= 1")
        windows = (
            [(realtime_start, realtime_end)]
            if window_days is None
            else realtime_windows(
                realtime_start, realtime_end, window_days, last_vintage_day=datetime.now(UTC).date()
            )
        )
        pieces = [
            self.observations(
                series_id,
                realtime_start=start,
                realtime_end=end,
                observation_start=observation_start,
                observation_end=observation_end,
                output_type=OUTPUT_ALL_VINTAGES,
                units=units,
            )
            for start, end in windows
        ]
        return stitch_windows(pieces, [start for start, _ in windows])

    def initial_release(
        self,
        series_id: str,
        *,
        observation_start: date | None = None,
        observation_end: date | None = None,
        units: str = "lin",
    ) -> list[Observation]:
        """The first print of every period (output_type=4 over the whole real-time axis)."""
        return self.observations(
            series_id,
            realtime_start=EARLIEST_REALTIME,
            realtime_end=LATEST_REALTIME,
            observation_start=observation_start,
            observation_end=observation_end,
            output_type=OUTPUT_INITIAL_RELEASE,
            units=units,
        )

    # --- HTTP ------------------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, str | int]) -> Iterator[dict[str, Any]]:
        """offset/limit pagination: FRED reports `count`; stop once `offset` reaches it."""
        offset = 0
        while True:
            body = self._get_json(path, {**params, "limit": self.page_limit, "offset": offset})
            rows = body.get("observations")
            if not isinstance(rows, list):
                raise FredError(f"{params['series_id']}: response without an 'observations' list")
            count = body.get("count")
            if not isinstance(count, int) or count < 0:
                raise FredError(f"{params['series_id']}: response without a valid 'count'")
            yield from rows
            offset += len(rows)
            if offset >= count:
                return
            if not rows:  # the server promised more rows and sent none: stop loudly, never loop forever
                raise FredError(
                    f"{params['series_id']}: empty page at offset {offset} of {count}: pagination stalled"
                )

    def _get_json(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        if self._breaker is None:
            return self._get_json_with_retries(path, params)
        return self._breaker.call(self._get_json_with_retries, path, params)

    def _report(self, path: str, status: int | None, started: float, code: str | None) -> None:
        if self._on_request is not None:
            try:
                self._on_request("GET", path, status, (time.perf_counter() - started) * 1000, code)
            except Exception:
                log.exception("on_request callback failed for GET %s", path)

    def _get_json_with_retries(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        url = self.base_url + path
        for attempt in range(self.max_retries + 1):
            log.debug("GET %s %s (attempt %d)", path, params, attempt + 1)  # params hold no key
            started = time.perf_counter()
            try:
                response = self._session.get(
                    url, params={**params, "api_key": self._api_key}, timeout=self.timeout_seconds
                )
            except requests.RequestException as exc:
                # requests' messages quote the URL with the key: report the exception type only.
                self._report(path, None, started, "connection_error")
                failure: FredError = FredError(f"GET {path} failed: {type(exc).__name__}")
            else:
                self._report(path, response.status_code, started, None if response.status_code == 200
                             else f"http_{response.status_code}")
                if response.status_code == 200:
                    return self._decode(path, response)
                failure = FredError(
                    f"GET {path} returned {response.status_code}: {self._error_message(response)}",
                    status=response.status_code,
                )
                if response.status_code not in _RETRY_STATUSES:
                    raise failure
            if attempt < self.max_retries:
                self._sleep(self.backoff_seconds * 2**attempt)
        raise failure

    @staticmethod
    def _decode(path: str, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise FredError(f"GET {path}: response is not JSON") from None
        if not isinstance(body, dict):
            raise FredError(f"GET {path}: response is not a JSON object")
        return body

    @staticmethod
    def _error_message(response: requests.Response) -> str:
        """FRED's error body is {"error_code": 400, "error_message": "..."}; keep it short and keyless."""
        try:
            body = response.json()
            message = str(body.get("error_message", "")) if isinstance(body, dict) else ""
        except ValueError:
            message = ""
        return redact(message or response.reason or "no message")[:300]
