"""AuditLog basics: the record format, the chain, restarts, durability policies, fatal fsync errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kalshi_assets.audit.log as log_module
from kalshi_assets.audit import (
    API_CALL,
    BREAKER_STATE,
    EVENT_TYPES,
    GENESIS_HASH,
    ORDER,
    RISK_VIOLATION,
    TRADE,
    AuditLog,
    AuditLogClosedError,
    AuditLogFatalError,
    canonical_json,
    default_audit_directory,
    record_hash,
    verify_log,
)
from kalshi_assets.audit.checkpoint import read_checkpoint
from kalshi_assets.audit.encoding import encode_record

REPO = Path(__file__).resolve().parents[2]


def _lines(log_dir: Path) -> list[dict]:
    segment = sorted(log_dir.glob("segment-*.jsonl"))[-1]
    return [json.loads(line) for line in segment.read_bytes().splitlines()]


def test_append_returns_the_record_as_written(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        first = log.append(ORDER, "u1", {"ticker": "KXCPI", "count": 3, "price": 0.42})
        second = log.append(TRADE, None, {"fill": [1, 2]})
    assert set(first) >= {"seq", "ts", "event_type", "user_id", "payload", "prev_hash", "hash"}
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == first["hash"]
    assert first["ts"].endswith("Z") and len(first["ts"]) == 27
    assert _lines(log_dir) == [first, second]


def test_hash_is_sha256_of_the_canonical_encoding(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        record = log.append(ORDER, "ü", {"b": [1.5, None, True], "a": {"z": "line\nbreak", "y": 1e-9}})
    assert record_hash(record) == record["hash"]
    # The hand-assembled line equals the generic canonical encoding plus the hash field.
    line, digest = encode_record(
        record["seq"], record["ts"], ORDER, "ü", canonical_json(record["payload"]), record["prev_hash"]
    )
    assert digest == record["hash"]
    body = {k: v for k, v in record.items() if k != "hash"}
    assert line == (canonical_json(body)[:-1] + ',"hash":"' + digest + '"}\n').encode("utf-8")


def test_event_type_constants_and_validation(log_dir: Path) -> None:
    assert EVENT_TYPES == (API_CALL, ORDER, TRADE, RISK_VIOLATION, BREAKER_STATE)
    with AuditLog(log_dir) as log:
        with pytest.raises(ValueError, match="upper-case"):
            log.append("order", "u", {})
        with pytest.raises(TypeError, match="user_id"):
            log.append(ORDER, 7, {})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="payload must be a mapping"):
            log.append(ORDER, "u", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot write a object"):
            log.append(ORDER, "u", {"x": object()})
        # nothing was written by the refused appends
        assert log.append(ORDER, "u", {})["seq"] == 1


def test_typed_helpers_write_their_event_types(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        records = [
            log.log_api_call("u", method="GET", path="/markets", status_code=200, duration_ms=12.5),
            log.log_order(
                "u", client_order_id="c1", ticker="T", side="yes", action="buy", count=2, status="submitted",
                price_cents=40,
            ),
            log.log_trade("u", trade_id="t1", ticker="T", side="yes", action="buy", count=2, price_cents=40),
            log.log_risk_violation("u", rule="max_position", limit=100, observed=120, action="rejected"),
            log.log_breaker_state(None, breaker="orders", from_state="closed", to_state="open", reason="5xx"),
        ]
    assert [r["event_type"] for r in records] == list(EVENT_TYPES)
    assert records[1]["payload"]["client_order_id"] == "c1"
    assert records[3]["payload"]["observed"] == 120
    assert records[4]["payload"]["to_state"] == "open"
    assert verify_log(log_dir).ok


def test_reopen_continues_the_sequence_and_chain(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        last = [log.append(ORDER, "u", {"i": i}) for i in range(3)][-1]
    with AuditLog(log_dir) as log:
        nxt = log.append(ORDER, "u", {"i": 3})
    assert nxt["seq"] == last["seq"] + 1
    assert nxt["prev_hash"] == last["hash"]
    report = verify_log(log_dir)
    assert report.ok and (report.first_seq, report.last_seq) == (1, 4)


def test_a_new_process_continues_the_sequence_with_no_gap(log_dir: Path) -> None:
    """The old system restarted at 1 (or skipped) after a restart; every process here continues."""
    script = (
        "import sys; from kalshi_assets.audit import AuditLog\n"
        "with AuditLog(sys.argv[1]) as log:\n"
        "    print(log.append('ORDER', 'proc', {})['seq'])\n"
    )
    seqs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", script, str(log_dir)], capture_output=True, text=True, check=True, cwd=REPO
        )
        seqs.append(int(out.stdout))
        with AuditLog(log_dir) as log:
            seqs.append(log.append(ORDER, "here", {})["seq"])
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert verify_log(log_dir).ok


@pytest.mark.parametrize("policy", ["always", "batch", "off"])
def test_every_policy_writes_a_verifiable_chain(log_dir: Path, policy: str) -> None:
    with AuditLog(log_dir, fsync=policy) as log:
        for i in range(20):
            log.append(ORDER, "u", {"i": i})
    report = verify_log(log_dir)
    assert report.ok, report.problems
    assert report.total_entries == 20
    assert report.checkpoint_seq == 20  # close() checkpoints even under "off"


def test_durable_policies_checkpoint_each_acknowledged_append(log_dir: Path) -> None:
    for policy in ("always", "batch"):
        directory = log_dir / policy
        with AuditLog(directory, fsync=policy) as log:
            for _ in range(5):
                record = log.append(ORDER, "u", {})
                found = read_checkpoint(directory, log._key)
                assert found.checkpoint is not None and found.checkpoint.seq == record["seq"]
                assert found.checkpoint.hash == record["hash"]


def test_batch_returns_only_after_a_sync_covering_the_record(log_dir: Path, monkeypatch) -> None:
    """Group commit: each acknowledged record was written before some sync of its segment began."""
    synced: list[tuple[str, int]] = []
    real_sync = log_module._SegmentHandle.sync

    def recording_sync(self) -> None:
        size = os.fstat(self.fd).st_size  # bytes on the file when the sync starts
        real_sync(self)
        synced.append((self.path.name, size))

    monkeypatch.setattr(log_module._SegmentHandle, "sync", recording_sync)
    log = AuditLog(log_dir, fsync="batch")
    acknowledged: list[tuple[int, int]] = []  # (seq, end offset of its line)
    guard = threading.Lock()

    def writer() -> None:
        for _ in range(40):
            record = log.append(ORDER, "u", {"pad": "x" * 50})
            segment = log_dir / "segment-000000000001.jsonl"
            data = segment.read_bytes()
            end = data.index(record["hash"].encode()) + 66
            with guard:
                acknowledged.append((record["seq"], end))
                # the sync that released this append covered its bytes
                assert any(size >= end for _, size in synced), (record["seq"], end, synced[-3:])

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(acknowledged) == 320
    # fewer syncs than records: concurrent appends shared them
    assert len(synced) < 320
    assert verify_log(log_dir).ok


def test_fsync_error_is_fatal_and_not_retried(log_dir: Path, monkeypatch) -> None:
    log = AuditLog(log_dir, fsync="batch")
    log.append(ORDER, "u", {})
    calls = []

    def failing_sync(self) -> None:
        calls.append(self.path.name)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(log_module._SegmentHandle, "sync", failing_sync)
    with pytest.raises(AuditLogFatalError, match="Input/output error"):
        log.append(ORDER, "u", {"n": 2})
    with pytest.raises(AuditLogFatalError):
        log.append(ORDER, "u", {"n": 3})
    assert calls == ["segment-000000000001.jsonl"]  # one attempt, never retried
    with pytest.raises(AuditLogFatalError):
        log.flush()


def test_always_policy_fsync_error_is_fatal(log_dir: Path, monkeypatch) -> None:
    log = AuditLog(log_dir, fsync="always")

    def failing_sync(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(log_module._SegmentHandle, "sync", failing_sync)
    with pytest.raises(AuditLogFatalError, match="No space"):
        log.append(ORDER, "u", {})
    with pytest.raises(AuditLogFatalError):
        log.append(ORDER, "u", {})


def test_closed_log_refuses_appends(log_dir: Path) -> None:
    log = AuditLog(log_dir)
    log.close()
    with pytest.raises(AuditLogClosedError):
        log.append(ORDER, "u", {})


def test_invalid_arguments(log_dir: Path) -> None:
    with pytest.raises(ValueError, match="fsync"):
        AuditLog(log_dir, fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_segment_bytes"):
        AuditLog(log_dir, max_segment_bytes=10)
    with pytest.raises(ValueError, match="max_segment_age"):
        AuditLog(log_dir, max_segment_age=0)


def test_key_file_is_private_and_env_key_is_used(log_dir: Path, monkeypatch) -> None:
    with AuditLog(log_dir) as log:
        log.append(ORDER, "u", {})
    assert (log_dir / "checkpoint.key").stat().st_mode & 0o777 == 0o600
    other = log_dir.parent / "with-env-key"
    monkeypatch.setenv("KALSHI_AUDIT_HMAC_KEY", "a-key-kept-outside-the-log-dir")
    with AuditLog(other) as log:
        log.append(ORDER, "u", {})
    assert not (other / "checkpoint.key").exists()
    assert verify_log(other).ok
    monkeypatch.setenv("KALSHI_AUDIT_HMAC_KEY", "some-other-key-of-enough-length")
    report = verify_log(other)
    assert [p.kind for p in report.problems] == ["checkpoint_invalid"]
    monkeypatch.setenv("KALSHI_AUDIT_HMAC_KEY", "short")
    with pytest.raises(ValueError, match="at least 16"):
        verify_log(other)


def test_default_directory() -> None:
    assert default_audit_directory({"KALSHI_AUDIT_DIR": "/x/audit"}) == Path("/x/audit")
    assert default_audit_directory({"KALSHI_WAREHOUSE": "/w/wh.duckdb"}) == Path("/w/audit")
    assert default_audit_directory({}) == REPO / "data" / "audit"
    # A warehouse named by the caller (service, CLI --warehouse) wins over $KALSHI_WAREHOUSE, not over the dir.
    assert default_audit_directory({"KALSHI_WAREHOUSE": "/w/wh.duckdb"}, warehouse="/v/v.duckdb") == Path("/v/audit")
    assert default_audit_directory({"KALSHI_AUDIT_DIR": "/x/audit"}, warehouse="/v/v.duckdb") == Path("/x/audit")


def test_forked_child_uses_its_own_lock(log_dir: Path) -> None:
    log = AuditLog(log_dir)
    log.append(ORDER, "parent", {})
    pid = os.fork()
    if pid == 0:  # child: appends through the inherited object, which reopens its files
        code = 0
        try:
            log.append(ORDER, "child", {})
            log.close()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert log.append(ORDER, "parent", {})["seq"] == 3
    log.close()
    assert verify_log(log_dir).ok


def test_two_logs_on_one_directory_in_one_process_share_the_chain(log_dir: Path) -> None:
    """Each AuditLog holds its own lock file description, so they exclude each other like processes."""
    first, second = AuditLog(log_dir, max_segment_bytes=2048), AuditLog(log_dir, max_segment_bytes=2048)

    def writer(log: AuditLog) -> None:
        for i in range(60):
            log.append(ORDER, "u", {"i": i, "pad": "z" * 40})

    threads = [threading.Thread(target=writer, args=(log,)) for log in (first, second, first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.close()
    second.close()
    report = verify_log(log_dir)
    assert report.ok, report.problems
    assert (report.total_entries, report.last_seq) == (240, 240)
