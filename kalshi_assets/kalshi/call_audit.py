"""Every API call and breaker change into the audit log, in group commits so ingestion is not slowed.

`ApiCallAuditor` is the `on_request` callback of a client (one API_CALL record per HTTP attempt:
method, path, status, latency, error code; never headers, signatures or keys) and the `on_state_change`
callback of a breaker registry (one BREAKER_STATE record per transition). Records are buffered and
written with `AuditLog.append_many` (one lock, one write, one sync under the log's fsync policy) once
`max_buffered` are waiting or the oldest has waited `max_delay_s`, at a breaker change, and always on
`flush()`/`close()` (the resources call it at the end of every step).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kalshi_assets.audit import BREAKER_STATE, api_call_entry
from kalshi_assets.kalshi.breaker import BreakerStats

logger = logging.getLogger(__name__)

Entry = tuple[str, str | None, dict[str, Any]]


class ApiCallAuditor:
    """Buffers API_CALL and BREAKER_STATE records of one user id and writes them in batches to the
    log that `audit_log()` returns (an `AuditLog`, or anything with its `append_many`)."""

    def __init__(
        self,
        audit_log: Callable[[], Any],
        user_id: str | None,
        *,
        max_buffered: int = 512,
        max_delay_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_buffered < 1 or max_delay_s < 0:
            raise ValueError("max_buffered must be >= 1 and max_delay_s >= 0")
        self._audit_log = audit_log  # called for the log at each write: a closed log is reopened by its owner
        self.user_id = user_id
        self.max_buffered = max_buffered
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._lock = threading.Lock()  # guards the buffer
        self._write_lock = threading.Lock()  # keeps batches in the order they were taken
        self._buffer: list[Entry] = []
        self._oldest: float | None = None
        self.written = 0

    def on_request(self, method: str, path: str, status: int | None, elapsed_ms: float, code: str | None) -> None:
        """KalshiClient's `on_request`: one API_CALL record for one HTTP attempt."""
        entry = api_call_entry(self.user_id, method=method, path=path, status_code=status,
                               duration_ms=round(elapsed_ms, 3), error=code)
        self._add(entry, force=False)

    def on_state_change(self, name: str, from_state: str, to_state: str, stats: BreakerStats) -> None:
        """BreakerRegistry's `on_state_change`: written at once, after the calls that led to it."""
        payload = {"breaker": name, "from_state": from_state, "to_state": to_state,
                   "reason": stats.last_failure, "details": stats.as_dict()}
        self._add((BREAKER_STATE, self.user_id, payload), force=True)

    def _add(self, entry: Entry, *, force: bool) -> None:
        with self._lock:
            self._buffer.append(entry)
            if self._oldest is None:
                self._oldest = self._clock()
            due = (force or len(self._buffer) >= self.max_buffered
                   or self._clock() - self._oldest >= self.max_delay_s)
        if due:
            self.flush()

    def flush(self) -> int:
        """Write every buffered record now; returns how many were written."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer, self._oldest = self._buffer, [], None
            if not batch:
                return 0
            try:
                self._audit_log().append_many(batch)
            except BaseException:
                with self._lock:  # kept for the next flush: a failed write loses no record
                    self._buffer[:0] = batch
                    self._oldest = self._oldest if self._oldest is not None else self._clock()
                raise
            self.written += len(batch)
            return len(batch)

    def close(self) -> None:
        self.flush()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)
