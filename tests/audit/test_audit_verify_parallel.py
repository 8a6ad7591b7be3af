"""Verify with worker processes gives exactly the report of verify in one process."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_assets.audit import AuditLog, verify_log
from kalshi_assets.audit import parallel as parallel_module
from kalshi_assets.audit.segments import list_segments

RECORDS = 60


def _write_log(directory: Path) -> None:
    # Small segments: about a dozen records each, every closed one compressed.
    with AuditLog(directory, fsync="off", max_segment_bytes=2048) as log:
        for i in range(RECORDS):
            log.append("ORDER", f"u{i % 3}", {"i": i, "ticker": "KXCPI-26DEC", "note": "é"})


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("parallel") / "audit"
    _write_log(directory)
    return directory


def _outcome(report) -> tuple:
    return (report.problems, report.notes, report.total_entries, report.first_seq, report.last_seq,
            report.last_hash, report.checkpoint_seq, report.segments)


def _both(directory: Path) -> tuple[tuple, tuple, int]:
    serial = verify_log(directory, workers=1)
    forked = verify_log(directory, workers=3)
    assert serial.workers == 1
    return _outcome(serial), _outcome(forked), forked.workers


def _read_segments(directory: Path) -> list[tuple[Path, list[bytes]]]:
    out = []
    for segment in list_segments(directory):
        data = gzip.decompress(segment.path.read_bytes()) if segment.compressed else segment.path.read_bytes()
        out.append((segment.path, data.split(b"\n")[:-1]))
    return out


def _write_segment(path: Path, lines: list[bytes], *, torn: bytes = b"") -> None:
    data = b"".join(line + b"\n" for line in lines) + torn
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def test_an_intact_log_is_checked_by_workers_with_the_same_report(pristine: Path) -> None:
    segments = list_segments(pristine)
    assert len(segments) >= 4 and sum(s.compressed for s in segments) >= 3
    serial, forked, workers = _both(pristine)
    assert workers == 3
    assert serial == forked
    assert serial[0] == () and serial[2] == RECORDS


def test_a_torn_last_record_is_noted_by_workers_as_by_one_process(pristine: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "audit"
    shutil.copytree(pristine, damaged)
    active = list_segments(damaged)[-1]
    assert active.state == "active"
    with open(active.path, "ab") as handle:
        handle.write(b'{"event_type":"ORDER","payl')  # a writer killed mid-write
    serial, forked, workers = _both(damaged)
    assert workers == 3
    assert serial == forked
    assert serial[0] == () and len(serial[1]) == 1 and "torn last record" in serial[1][0]


_operation = st.tuples(
    st.sampled_from(["flip", "drop", "move", "repeat", "drop_segment", "tear"]),
    st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_operation, min_size=1, max_size=3))
def test_any_damage_gets_the_same_report_from_workers(pristine: Path, operations: list[tuple]) -> None:
    """Bytes flipped, lines dropped, moved between segments or repeated, a segment deleted, a torn
    last line: the workers' report equals the serial one, problem for problem."""
    with tempfile.TemporaryDirectory() as scratch:
        damaged = Path(scratch) / "audit"
        shutil.copytree(pristine, damaged)
        segments = _read_segments(damaged)
        torn: dict[int, bytes] = {}
        for kind, a, b, c in operations:
            s = a % len(segments)
            path, lines = segments[s]
            if not lines:
                continue
            i = b % len(lines)
            if kind == "flip":
                line = bytearray(lines[i])
                line[c % len(line)] ^= 1 << (c % 7)
                lines[i] = bytes(line)
            elif kind == "drop":
                del lines[i]
            elif kind == "move":
                target = segments[c % len(segments)][1]
                target.insert(c % (len(target) + 1), lines.pop(i))
            elif kind == "repeat":
                lines.insert(i, lines[c % len(lines)])
            elif kind == "drop_segment" and len(segments) > 1:
                path.unlink()
                segments = segments[:s] + segments[s + 1:]
                torn = {}
            elif kind == "tear":
                torn[s] = lines.pop()[: 1 + c % 40]
        for index, (path, lines) in enumerate(segments):
            _write_segment(path, lines, torn=torn.get(index, b""))
        serial, forked, workers = _both(damaged)
    assert workers > 1
    assert serial == forked


def _die(*_args: object) -> None:
    os._exit(3)  # a worker killed mid-check


def test_a_worker_that_dies_leaves_its_segments_to_the_parent(pristine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _outcome(verify_log(pristine, workers=1))
    monkeypatch.setattr(parallel_module, "summarize_segment", _die)
    report = verify_log(pristine, workers=2)
    assert report.workers == 2
    assert _outcome(report) == expected and report.ok


def test_verify_stays_in_one_process_when_forking_is_unsafe_or_not_worth_it(pristine: Path) -> None:
    assert verify_log(pristine).workers == 1  # a few KiB: below what forking pays for
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert verify_log(pristine, workers=2).workers == 1  # another thread: no fork
    finally:
        release.set()
        thread.join()
    with pytest.raises(ValueError, match="at least 1"):
        verify_log(pristine, workers=0)
