"""Rotation by size and age, compressed segments, interrupted rotations, and query."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import time
from pathlib import Path

import pytest

from kalshi_assets.audit import ORDER, TRADE, AuditLog, query_log, verify_log


def _names(log_dir: Path) -> list[str]:
    return sorted(p.name for p in log_dir.glob("segment-*"))


def test_rotation_by_size_compresses_closed_segments(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_bytes=2048) as log:
        records = [log.append(ORDER, "u", {"i": i, "pad": "x" * 100}) for i in range(60)]
    names = _names(log_dir)
    assert names[-1].endswith(".jsonl") and all(n.endswith(".jsonl.gz") for n in names[:-1])
    assert len(names) > 5
    for path in log_dir.glob("segment-*.gz"):
        assert len(gzip.decompress(path.read_bytes())) <= 2048
    # each segment is named after its first record
    first_seqs = [int(n.split("-")[1].split(".")[0]) for n in names]
    assert first_seqs[0] == 1 and first_seqs == sorted(first_seqs)
    report = verify_log(log_dir)
    assert report.ok and report.segments == len(names) and report.total_entries == 60
    assert [r["hash"] for r in query_log(log_dir)] == [r["hash"] for r in records]


def test_a_record_larger_than_the_limit_gets_a_segment_of_its_own(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_bytes=1024) as log:
        log.append(ORDER, "u", {"pad": "x" * 5000})
        log.append(ORDER, "u", {"pad": "y" * 5000})
    assert _names(log_dir) == ["segment-000000000001.jsonl.gz", "segment-000000000002.jsonl"]
    assert verify_log(log_dir).ok


def test_rotation_by_age(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_age=dt.timedelta(seconds=0.2)) as log:
        log.append(ORDER, "u", {})
        log.append(ORDER, "u", {})
        time.sleep(0.25)
        log.append(ORDER, "u", {})
    assert _names(log_dir) == ["segment-000000000001.jsonl.gz", "segment-000000000003.jsonl"]
    # the age is measured from the segment's first record, also after a restart
    time.sleep(0.25)
    with AuditLog(log_dir, max_segment_age=0.2) as log:
        log.append(ORDER, "u", {})
    assert _names(log_dir)[-1] == "segment-000000000004.jsonl"
    assert verify_log(log_dir).ok


def test_interrupted_rotation_is_completed_on_open(log_dir: Path) -> None:
    with AuditLog(log_dir) as log:
        for i in range(5):
            log.append(ORDER, "u", {"i": i})
    active = log_dir / "segment-000000000001.jsonl"
    closing = log_dir / "segment-000000000001.jsonl.closing"
    os.rename(active, closing)  # crashed right after the rename
    (log_dir / "segment-000000000001.jsonl.gz.tmp").write_bytes(b"\x1f\x8b half")
    report = verify_log(log_dir)
    assert report.ok and any("interrupted" in note for note in report.notes)
    with AuditLog(log_dir) as log:
        assert "compressed segment-000000000001.jsonl.closing" in log.recovery_actions
        assert log.append(ORDER, "u", {})["seq"] == 6
    assert _names(log_dir) == ["segment-000000000001.jsonl.gz", "segment-000000000006.jsonl"]
    assert verify_log(log_dir).ok


def test_closing_beside_its_gzip_is_removed(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_bytes=1024) as log:
        for i in range(12):
            log.append(ORDER, "u", {"i": i, "pad": "p" * 100})
    gz = sorted(log_dir.glob("*.gz"))[0]
    closing = gz.with_name(gz.name[: -len(".gz")] + ".closing")
    closing.write_bytes(gzip.decompress(gz.read_bytes()))  # crashed after the rename of .gz
    assert verify_log(log_dir).ok  # the duplicate is not counted twice
    assert len(query_log(log_dir)) == 12
    with AuditLog(log_dir) as log:
        assert any("already compressed" in action for action in log.recovery_actions)
    assert not closing.exists()


def test_query_filters_across_plain_and_compressed_segments(log_dir: Path) -> None:
    with AuditLog(log_dir, max_segment_bytes=1500) as log:
        for i in range(40):
            log.append(ORDER if i % 2 == 0 else TRADE, f"u{i % 4}", {"i": i, "nested": {"k": [i]}})
    assert any(p.name.endswith(".gz") for p in log_dir.iterdir())
    everything = query_log(log_dir)
    assert [r["seq"] for r in everything] == list(range(1, 41))
    assert everything[5]["payload"] == {"i": 5, "nested": {"k": [5]}}
    assert set(everything[0]) == {"seq", "ts", "event_type", "user_id", "payload", "prev_hash", "hash"}
    orders_u2 = query_log(log_dir, event_type=ORDER, user_id="u2")
    assert [r["payload"]["i"] for r in orders_u2] == [i for i in range(40) if i % 2 == 0 and i % 4 == 2]
    assert [r["seq"] for r in query_log(log_dir, limit=3)] == [1, 2, 3]
    assert query_log(log_dir, limit=0) == []
    cut = everything[20]["ts"]
    later = query_log(log_dir, start=cut)
    assert later[0]["seq"] <= 21 and all(r["ts"] >= cut for r in later)
    earlier = query_log(log_dir, end=dt.datetime.fromisoformat(cut.replace("Z", "+00:00")))
    assert all(r["ts"] < cut for r in earlier) and len(earlier) + len(later) == 40
    assert query_log(log_dir, start="2999-01-01") == []
    with AuditLog(log_dir) as log:
        assert log.query(event_type=TRADE, limit=2)[1]["seq"] == 4


def test_query_skips_a_torn_tail_and_rejects_bad_input(log_dir: Path, tmp_path: Path) -> None:
    with AuditLog(log_dir) as log:
        log.append(ORDER, "u", {})
    with open(log_dir / "segment-000000000001.jsonl", "ab") as handle:
        handle.write(b'{"event_type":"ORD')
    assert [r["seq"] for r in query_log(log_dir)] == [1]
    with pytest.raises(FileNotFoundError):
        query_log(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="ISO 8601"):
        query_log(log_dir, start="yesterday")
    assert query_log(tmp_path) == []  # a directory without segments
