"""`AuditLog.append_many`: one lock, one write, one sync for several records; gap-free across processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kalshi_assets.audit.log as log_module
from kalshi_assets.audit import API_CALL, ORDER, AuditLog, query_log, verify_log

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("audit_child.py")


def _lines(log_dir: Path) -> list[dict]:
    segment = sorted(log_dir.glob("segment-*.jsonl"))[-1]
    return [json.loads(line) for line in segment.read_bytes().splitlines()]


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"write": 0, "sync": 0}
    real_write, real_sync = log_module.AuditLog._write, log_module._SegmentHandle.sync

    def counting_write(self, handle, data: bytes) -> None:
        calls["write"] += 1
        real_write(self, handle, data)

    def counting_sync(self) -> None:
        calls["sync"] += 1
        real_sync(self)

    monkeypatch.setattr(log_module.AuditLog, "_write", counting_write)
    monkeypatch.setattr(log_module._SegmentHandle, "sync", counting_sync)
    return calls


@pytest.mark.parametrize("policy", ["always", "batch", "off"])
def test_append_many_writes_once_syncs_once_and_returns_the_records_in_order(
    log_dir: Path, policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AuditLog(log_dir, fsync=policy) as log:
        first = log.append(ORDER, "u", {"before": True})
        calls = _count_calls(monkeypatch)
        entries = [(API_CALL, "ingest", {"path": f"/markets/{i}", "status_code": 200}) for i in range(25)]
        entries.append((ORDER, None, None))
        records = log.append_many(entries)
        assert calls == {"write": 1, "sync": 0 if policy == "off" else 1}
        last = log.append(ORDER, "u", {"after": True})
    assert [r["seq"] for r in records] == list(range(2, 28))
    assert records[0]["prev_hash"] == first["hash"]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(records, records[1:], strict=False))
    assert last["prev_hash"] == records[-1]["hash"]
    assert [r["payload"] for r in records[:2]] == [{"path": "/markets/0", "status_code": 200}, {"path": "/markets/1", "status_code": 200}]
    assert records[-1]["payload"] == {} and records[-1]["user_id"] is None
    assert _lines(log_dir) == [first, *records, last]
    report = verify_log(log_dir)
    assert report.ok and report.checkpoint_seq == 28


def test_append_many_checkpoints_the_last_record_when_durable(log_dir: Path) -> None:
    from kalshi_assets.audit.checkpoint import read_checkpoint

    for policy in ("always", "batch"):
        directory = log_dir / policy
        with AuditLog(directory, fsync=policy) as log:
            records = log.append_many([(ORDER, "u", {"i": i}) for i in range(4)])
            found = read_checkpoint(directory, log._key)
            assert found.checkpoint is not None
            assert (found.checkpoint.seq, found.checkpoint.hash) == (4, records[-1]["hash"])


def test_append_many_checks_every_entry_before_writing_any(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        log.append(ORDER, "u", {})
        with pytest.raises(ValueError, match="upper-case"):
            log.append_many([(ORDER, "u", {"i": 1}), ("bad type", "u", {})])
        with pytest.raises(TypeError, match="cannot write a object"):
            log.append_many([(ORDER, "u", {"i": 1}), (ORDER, "u", {"x": object()})])
        with pytest.raises(TypeError, match="user_id"):
            log.append_many([(ORDER, 5, {})])  # type: ignore[list-item]
        assert log.append_many([]) == []
        assert log.append(ORDER, "u", {})["seq"] == 2  # nothing from the refused batches was written
    assert verify_log(log_dir).total_entries == 2


def test_append_many_scrubs_secrets_like_append(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        (record,) = log.append_many([(API_CALL, "u", {"headers": {"Authorization": "Bearer abc"}})])
    assert record["payload"] == {"headers": {"Authorization": "[REDACTED]"}}
    assert b"Bearer abc" not in b"".join(p.read_bytes() for p in log_dir.glob("segment-*"))


def test_append_many_that_overflows_the_segment_rotates_first(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_bytes=4096) as log:
        log.append(ORDER, "u", {"pad": "x" * 1000})
        records = log.append_many([(ORDER, "u", {"i": i, "pad": "y" * 400}) for i in range(20)])
    names = sorted(p.name for p in log_dir.glob("segment-*"))
    # the whole batch went into the new segment, which is named after its first record
    assert names == ["segment-000000000001.jsonl.gz", "segment-000000000002.jsonl"]
    assert records[0]["seq"] == 2
    assert verify_log(log_dir).ok


def test_append_many_after_a_torn_tail_sets_it_aside_and_continues_the_chain(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        log.append_many([(ORDER, "u", {"i": i}) for i in range(3)])
    segment = log_dir / "segment-000000000001.jsonl"
    with open(segment, "ab") as handle:
        handle.write(b'{"event_type":"ORDER","payload":{"i":')
    with AuditLog(log_dir) as log:
        assert any("torn record" in action for action in log.recovery_actions)
        records = log.append_many([(ORDER, "u", {"i": i}) for i in range(3, 6)])
    assert [r["seq"] for r in records] == [4, 5, 6]
    assert verify_log(log_dir).ok and len(list((log_dir / "torn").iterdir())) == 1


def _spawn_batches(log_dir: Path, writer_id: str, count: int, batch: int, tear: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(log_dir), writer_id, "2", str(count), str(64 * 1024)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "AUDIT_CHILD_BATCH": str(batch), "AUDIT_CHILD_TEAR": "1" if tear else "0"},
    )


def _acks(output: bytes) -> dict[int, str]:
    return {int(seq): digest.decode() for seq, digest in (line.split() for line in output.splitlines())}


def test_batches_from_several_processes_build_one_chain_with_each_batch_contiguous(log_dir: Path) -> None:
    AuditLog(log_dir).close()
    children = [_spawn_batches(log_dir, f"p{n}", count=15, batch=n + 2) for n in range(3)]
    with AuditLog(log_dir) as log:  # this process appends one record at a time meanwhile
        singles = [log.append(ORDER, "single", {"i": i})["seq"] for i in range(40)]
    acknowledged: dict[int, str] = {}
    for n, child in enumerate(children):
        output, errors = child.communicate(timeout=120)
        assert child.returncode == 0, errors.decode()
        acks = _acks(output)
        assert len(acks) == 2 * 15 * (n + 2)
        assert not acknowledged.keys() & acks.keys()
        acknowledged.update(acks)
    report = verify_log(log_dir)
    assert report.ok, [p.describe() for p in report.problems]
    assert report.total_entries == len(acknowledged) + len(singles)
    records = query_log(log_dir)
    assert [r["seq"] for r in records] == list(range(1, report.total_entries + 1))
    assert all(records[seq - 1]["hash"] == digest for seq, digest in acknowledged.items())
    # each batch's records are consecutive: no other writer's record falls inside a batch
    batches: dict[tuple[str, int, int], list[int]] = {}
    for record in records:
        if record["user_id"] != "single":
            key = (record["user_id"], record["payload"]["thread"], record["payload"]["i"])
            batches.setdefault(key, []).append(record["seq"])
    assert len(batches) == 3 * 2 * 15
    for key, seqs in batches.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), key


def test_sigkill_during_batches_loses_no_acknowledged_record(log_dir: Path) -> None:
    rng = random.Random(5)
    acknowledged: dict[int, str] = {}
    recoveries: list[str] = []
    for round_no in range(6):
        child = _spawn_batches(log_dir, f"k{round_no}", count=0, batch=5, tear=True)
        first = child.stdout.readline()
        assert first, child.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.08))
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate()
        acknowledged.update(_acks(first + output))
        with AuditLog(log_dir) as log:
            recoveries.extend(log.recovery_actions)
        report = verify_log(log_dir)
        assert report.ok, [p.describe() for p in report.problems]
    assert acknowledged
    records = {r["seq"]: r["hash"] for r in query_log(log_dir)}
    lost = [seq for seq, digest in acknowledged.items() if records.get(seq) != digest]
    assert not lost, lost[:10]
    torn = sum("torn record" in action for action in recoveries)
    print(f"\n{len(acknowledged)} acknowledged records survived 6 kills mid-batch; {torn} torn batches set aside")
    assert torn > 0
