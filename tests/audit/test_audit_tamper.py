"""Tampering is detected and named by the first bad sequence number; nothing is silently repaired."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kalshi_assets.audit import GENESIS_HASH, AuditLog, AuditLogDamagedError, canonical_json, verify_log
from kalshi_assets.audit.encoding import encode_record

SEGMENT = "segment-000000000001.jsonl"


def _segment(log_dir: Path) -> Path:
    return log_dir / SEGMENT


def _split(log_dir: Path) -> list[bytes]:
    return _segment(log_dir).read_bytes().splitlines(keepends=True)


def test_intact_log_verifies(make_log, log_dir: Path) -> None:
    make_log(10)
    report = verify_log(log_dir)
    assert report.ok
    assert (report.total_entries, report.first_seq, report.last_seq, report.checkpoint_seq) == (10, 1, 10, 10)
    assert report.first_bad_seq is None


def test_every_single_byte_edit_of_a_middle_record_is_named(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    original = b"".join(lines)
    start = sum(len(line) for line in lines[:4])  # record 5
    for offset in range(start, start + len(lines[4]) - 1):  # every byte but its newline
        edited = bytearray(original)
        edited[offset] ^= 0x01
        _segment(log_dir).write_bytes(bytes(edited))
        report = verify_log(log_dir)
        assert not report.ok, f"edit at byte {offset - start} of record 5 went unnoticed"
        assert report.first_bad_seq == 5, (offset - start, report.problems)
    _segment(log_dir).write_bytes(original)
    assert verify_log(log_dir).ok


def test_semantically_neutral_edit_is_detected(make_log, log_dir: Path) -> None:
    """Hashing the bytes on disk (not a re-encoding) catches even added whitespace."""
    make_log(10)
    lines = _split(log_dir)
    lines[4] = lines[4].replace(b'"seq":5', b'"seq": 5')
    _segment(log_dir).write_bytes(b"".join(lines))
    report = verify_log(log_dir)
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "hash_mismatch")]


def test_deleted_record_is_named(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    del lines[4]
    _segment(log_dir).write_bytes(b"".join(lines))
    report = verify_log(log_dir)
    assert report.first_bad_seq == 5
    assert report.problems[0].kind == "sequence_gap" and "seq 5 missing" in report.problems[0].detail
    assert {p.kind for p in report.problems} == {"sequence_gap", "chain_break"}


def test_swapped_records_are_named(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    lines[4], lines[5] = lines[5], lines[4]
    _segment(log_dir).write_bytes(b"".join(lines))
    report = verify_log(log_dir)
    assert report.first_bad_seq == 5
    assert "sequence_disorder" in {p.kind for p in report.problems}


def test_truncated_tail_is_named(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    _segment(log_dir).write_bytes(b"".join(lines[:7]))
    report = verify_log(log_dir)
    assert [(p.seq, p.kind) for p in report.problems] == [(8, "truncated")]
    # and a writer refuses to continue over the hole rather than re-chain from seq 8
    with pytest.raises(AuditLogDamagedError, match="removed from the tail"):
        AuditLog(log_dir)
    assert verify_log(log_dir).first_bad_seq == 8


def test_tail_cut_mid_record_is_named(make_log, log_dir: Path) -> None:
    make_log(10)
    data = _segment(log_dir).read_bytes()
    _segment(log_dir).write_bytes(data[: len(data) - 40])
    report = verify_log(log_dir)
    assert [(p.seq, p.kind) for p in report.problems] == [(10, "truncated")]


def test_wholesale_rewrite_is_named(make_log, log_dir: Path) -> None:
    """A forger re-chains every record with valid hashes; only the signed checkpoint can tell."""
    make_log(10)
    forged = []
    prev = GENESIS_HASH
    for line in _split(log_dir):
        record = json.loads(line)
        record["payload"]["i"] = 1000 + record["payload"]["i"]
        out, prev = encode_record(
            record["seq"], record["ts"], record["event_type"], record["user_id"],
            canonical_json(record["payload"]), prev,
        )
        forged.append(out)
    _segment(log_dir).write_bytes(b"".join(forged))
    report = verify_log(log_dir)
    assert report.first_bad_seq == 1
    assert [(p.seq, p.kind) for p in report.problems] == [(1, "checkpoint_mismatch"), (10, "checkpoint_mismatch")]
    with pytest.raises(AuditLogDamagedError, match="rewritten"):
        AuditLog(log_dir)


def test_rewrite_with_a_shorter_forged_log_is_named(make_log, log_dir: Path) -> None:
    make_log(10)
    forged, prev = [], GENESIS_HASH
    for seq in range(1, 6):
        line, prev = encode_record(seq, "2026-11-21T00:00:00.000000Z", "ORDER", "x", "{}", prev)
        forged.append(line)
    _segment(log_dir).write_bytes(b"".join(forged))
    report = verify_log(log_dir)
    assert report.first_bad_seq == 1
    assert {p.kind for p in report.problems} == {"checkpoint_mismatch", "truncated"}


def test_deleted_or_forged_checkpoint_is_reported(make_log, log_dir: Path) -> None:
    make_log(5)
    checkpoint = log_dir / "checkpoint"
    original = checkpoint.read_bytes()
    checkpoint.unlink()
    assert [p.kind for p in verify_log(log_dir).problems] == ["checkpoint_missing"]
    with pytest.raises(AuditLogDamagedError, match="no checkpoint"):
        AuditLog(log_dir)
    # forging the seq in both slots without the key breaks their signatures
    checkpoint.write_bytes(original.replace(b'"seq":5', b'"seq":9').replace(b'"seq":4', b'"seq":9'))
    assert [p.kind for p in verify_log(log_dir).problems] == ["checkpoint_invalid"]
    with pytest.raises(AuditLogDamagedError, match="does not verify"):
        AuditLog(log_dir)


def test_missing_first_records_are_named(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    _segment(log_dir).write_bytes(b"".join(lines[3:]))
    report = verify_log(log_dir)
    assert report.first_bad_seq == 1
    assert report.problems[0].kind == "sequence_gap"


def test_damage_in_a_compressed_segment_is_named(make_log, log_dir: Path) -> None:
    records = make_log(60, max_segment_bytes=4096)
    segments = sorted(log_dir.glob("segment-*.jsonl.gz"))
    assert len(segments) >= 3
    target = segments[1]
    first = int(target.name.split("-")[1].split(".")[0])
    lines = gzip.decompress(target.read_bytes()).splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"i":', b'"j":')
    target.write_bytes(gzip.compress(b"".join(lines)))
    report = verify_log(log_dir)
    assert [(p.seq, p.kind) for p in report.problems] == [(first + 1, "hash_mismatch")]
    assert report.total_entries == len(records)


def test_corrupt_gzip_and_deleted_segment_are_named(make_log, log_dir: Path) -> None:
    make_log(60, max_segment_bytes=4096)
    segments = sorted(log_dir.glob("segment-*.jsonl.gz"))
    second_first = int(segments[1].name.split("-")[1].split(".")[0])
    third_first = int(segments[2].name.split("-")[1].split(".")[0])
    data = bytearray(segments[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    segments[1].write_bytes(bytes(data))
    report = verify_log(log_dir)
    assert not report.ok
    assert report.first_bad_seq is not None and second_first <= report.first_bad_seq < third_first
    assert "unreadable_segment" in {p.kind for p in report.problems} or "hash_mismatch" in {
        p.kind for p in report.problems
    }
    segments[1].unlink()
    report = verify_log(log_dir)
    assert report.problems[0].kind == "sequence_gap" and report.first_bad_seq == second_first


def test_torn_tail_is_recovered_on_open_and_kept_aside(make_log, log_dir: Path) -> None:
    make_log(5)
    with open(_segment(log_dir), "ab") as handle:
        handle.write(b'{"event_type":"ORDER","payload":{"i":')
    report = verify_log(log_dir)
    assert report.ok  # an unacknowledged torn write is a crash, not damage
    assert any("torn" in note for note in report.notes)
    with AuditLog(log_dir) as log:
        assert any("torn record" in action for action in log.recovery_actions)
        assert log.append("ORDER", "u", {})["seq"] == 6
    kept = list((log_dir / "torn").iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == b'{"event_type":"ORDER","payload":{"i":'
    assert verify_log(log_dir).ok


def test_damage_before_the_tail_is_not_repaired_on_open(make_log, log_dir: Path) -> None:
    make_log(10)
    lines = _split(log_dir)
    lines[2] = lines[2].replace(b'"i":2', b'"i":7')
    _segment(log_dir).write_bytes(b"".join(lines))
    with AuditLog(log_dir) as log:
        log.append("ORDER", "u", {})
    assert _split(log_dir)[2] == lines[2]  # left exactly as found
    report = verify_log(log_dir)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "hash_mismatch")]


def test_unparseable_last_record_refuses_appends(make_log, log_dir: Path) -> None:
    make_log(3)
    lines = _split(log_dir)
    lines[-1] = b"garbage that ends in a newline\n"
    _segment(log_dir).write_bytes(b"".join(lines))
    with pytest.raises(AuditLogDamagedError, match="cannot be read"):
        AuditLog(log_dir)
    assert verify_log(log_dir).first_bad_seq == 3


def test_spoiled_newest_checkpoint_slot_is_reported(make_log, log_dir: Path) -> None:
    """Spoiling the newest slot to fall back on the older one (after cutting the tail) is seen."""
    make_log(5, fsync="always")
    lines = _split(log_dir)
    _segment(log_dir).write_bytes(b"".join(lines[:4]))  # cut seq 5
    checkpoint = log_dir / "checkpoint"
    raw = bytearray(checkpoint.read_bytes())
    newest = 0 if b'"seq":5' in raw[:512] else 1
    raw[newest * 512 + 10] ^= 0x01
    checkpoint.write_bytes(bytes(raw))
    report = verify_log(log_dir)
    assert [p.kind for p in report.problems] == ["checkpoint_invalid"]
    assert f"slot {newest}" in report.problems[0].detail
