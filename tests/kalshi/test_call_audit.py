"""The API-call auditor: every request and breaker change becomes one record, written in batches with
AuditLog.append_many, never lost, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_assets.audit import API_CALL, BREAKER_STATE, AuditLog
from kalshi_assets.demo.server import DemoServer
from kalshi_assets.kalshi import BreakerRegistry, KalshiClient, KalshiServerError, RetryPolicy
from kalshi_assets.kalshi.call_audit import ApiCallAuditor


class CountingLog:
    """An AuditLog that counts its batches."""

    def __init__(self, log: AuditLog) -> None:
        self.log, self.batches = log, []

    def append_many(self, entries):
        self.batches.append(len(entries))
        return self.log.append_many(entries)


@pytest.fixture
def log(tmp_path: Path):
    with AuditLog(tmp_path / "audit") as audit_log:
        yield audit_log


def test_records_are_written_in_batches_by_count_and_always_on_close(log: AuditLog) -> None:
    counting = CountingLog(log)
    clock = [0.0]
    auditor = ApiCallAuditor(lambda: counting, "ingest", max_buffered=4, max_delay_s=60, clock=lambda: clock[0])
    for i in range(10):
        auditor.on_request("GET", f"/markets/{i}", 200, 1.5, None)
    assert counting.batches == [4, 4] and auditor.pending == 2
    auditor.close()
    assert counting.batches == [4, 4, 2] and auditor.pending == 0 and auditor.written == 10
    records = log.query(event_type=API_CALL)
    assert [r["payload"]["path"] for r in records] == [f"/markets/{i}" for i in range(10)]
    assert records[0]["payload"] | {"duration_ms": None} == {
        "method": "GET", "path": "/markets/0", "status_code": 200, "duration_ms": None, "request_id": None,
        "headers": {}, "params": {}, "error": None, "details": {}}
    assert log.verify().ok


def test_a_batch_is_written_once_its_oldest_record_has_waited_long_enough(log: AuditLog) -> None:
    counting = CountingLog(log)
    clock = [0.0]
    auditor = ApiCallAuditor(lambda: counting, "ingest", max_buffered=1000, max_delay_s=1.0, clock=lambda: clock[0])
    auditor.on_request("GET", "/a", 200, 1.0, None)
    clock[0] = 0.5
    auditor.on_request("GET", "/b", 503, 1.0, "injected_fault")
    assert counting.batches == []
    clock[0] = 1.2
    auditor.on_request("GET", "/c", None, 1.0, "connection_error")
    assert counting.batches == [3]


def test_breaker_changes_follow_the_calls_that_caused_them(log: AuditLog) -> None:
    auditor = ApiCallAuditor(lambda: log, "ingest", max_buffered=1000, max_delay_s=60)
    with DemoServer(rate_limits=None) as server:
        registry = BreakerRegistry(on_state_change=auditor.on_state_change, failure_threshold=2)
        client = KalshiClient(server.base_url, breaker_registry=registry, on_request=auditor.on_request,
                              retry=RetryPolicy(max_attempts=2, base_delay_s=0.001))
        server.faults.configure(error_rate=1.0)
        for _ in range(2):
            with pytest.raises(KalshiServerError):
                client.get_exchange_status()
    assert auditor.pending == 0, "a breaker change writes the batch at once"
    kinds = [(r["event_type"], r["payload"].get("status_code"), r["payload"].get("to_state")) for r in log.query()]
    assert kinds == [(API_CALL, 500, None)] * 4 + [(BREAKER_STATE, None, "open")]
    assert "injected fault" in log.query(event_type=BREAKER_STATE)[0]["payload"]["reason"]


def test_a_failed_write_keeps_the_records_for_the_next_flush(log: AuditLog) -> None:
    class FullDisk:
        def __init__(self) -> None:
            self.full = True

        def append_many(self, entries):
            if self.full:
                raise OSError(28, "No space left on device")
            return log.append_many(entries)

    disk = FullDisk()
    auditor = ApiCallAuditor(lambda: disk, "ingest", max_buffered=2)
    auditor.on_request("GET", "/a", 200, 1.0, None)
    with pytest.raises(OSError):
        auditor.on_request("GET", "/b", 200, 1.0, None)
    assert auditor.pending == 2
    disk.full = False
    auditor.close()
    assert [r["payload"]["path"] for r in log.query(event_type=API_CALL)] == ["/a", "/b"]
