"""Verify an audit log: every record, the chain, the sequence, the segments and the signed checkpoint.

Verification is read-only and never repairs anything. It takes the writers' lock (shared) only
long enough to read the checkpoint and open every segment, then reads without it, so appends go
on meanwhile: an open file stays readable after a rotation unlinks it, and the active segment is
read up to its size at that moment.

Problem kinds (each names the sequence number where the log first goes wrong):

- `malformed`           a line that is not a well-formed record (named by the position's seq)
- `hash_mismatch`       a record's bytes do not hash to its stored hash (edited in place)
- `chain_break`         a record's prev_hash is not the hash of the record before it
- `sequence_gap`        records are missing (named by the first missing seq)
- `sequence_disorder`   a seq appears after a later one (a swap or a duplicate)
- `segment_name_mismatch` a segment's first record is not the seq its name says
- `unreadable_segment`  a segment cannot be read (corrupt gzip, I/O error)
- `truncated`           the log ends before the seq the signed checkpoint names
- `checkpoint_mismatch` a record differs from the signed checkpoint (first or last): rewritten
- `checkpoint_missing`  records exist but the checkpoint is gone
- `checkpoint_invalid`  the checkpoint's signature does not verify (or no key to check it)
"""

from __future__ import annotations

import fcntl
import gzip
import os
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kalshi_assets.audit.checkpoint import (
    CHECKPOINT_FILE_NAME,
    KEY_ENV,
    Checkpoint,
    load_key,
    read_checkpoint_bytes,
)
from kalshi_assets.audit.encoding import (
    GENESIS_HASH,
    RecordFormatError,
    body_hash,
    parse_record,
    split_line,
)
from kalshi_assets.audit.segments import LOCK_FILE_NAME, SegmentFile, list_segments

_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    seq: int | None
    kind: str
    detail: str
    segment: str | None = None
    line: int | None = None

    def describe(self) -> str:
        where = f" [{self.segment} line {self.line}]" if self.segment else ""
        at = f"seq {self.seq}" if self.seq is not None else "log"
        return f"{at}: {self.kind}: {self.detail}{where}"


@dataclass(frozen=True)
class VerifyReport:
    directory: str
    total_entries: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    segments: int
    checkpoint_seq: int | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    elapsed_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest sequence number any problem names (None if none names one)."""
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["first_bad_seq"] = self.first_bad_seq
        return out


@dataclass
class _Snapshot:
    checkpoint_raw: bytes
    files: list[tuple[SegmentFile, BinaryIO, int | None]]  # (segment, open file, byte limit or None)
    notes: list[str]


def _take_snapshot(directory: Path) -> _Snapshot:
    lock_fd = -1
    try:
        lock_fd = os.open(directory / LOCK_FILE_NAME, os.O_RDONLY)
    except FileNotFoundError:
        pass  # a copied or read-only log: nothing to coordinate with
    try:
        if lock_fd >= 0:
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
        # The checkpoint is read first: it only ever names records already written, so every
        # record it names is in the segments opened next.
        try:
            checkpoint_raw = (directory / CHECKPOINT_FILE_NAME).read_bytes()
        except FileNotFoundError:
            checkpoint_raw = b""
        notes = []
        names = set(os.listdir(directory))
        for name in sorted(names):
            if name.endswith(".closing") or name.endswith(".gz.tmp"):
                notes.append(f"{name}: a rotation was interrupted; the next writer completes it")
        files: list[tuple[SegmentFile, BinaryIO, int | None]] = []
        for segment in list_segments(directory):
            handle = open(segment.path, "rb")  # noqa: SIM115 - closed by verify_log
            limit = os.fstat(handle.fileno()).st_size if segment.state == "active" else None
            files.append((segment, handle, limit))
        return _Snapshot(checkpoint_raw, files, notes)
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)


def _lines(handle: BinaryIO, limit: int | None) -> Iterator[tuple[bytes, bool]]:
    """(line without newline, terminated?) up to `limit` bytes."""
    remaining = limit
    pending = b""
    while True:
        size = _READ_CHUNK if remaining is None else min(_READ_CHUNK, remaining)
        chunk = handle.read(size) if size else b""
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            yield part, True
    if pending:
        yield pending, False


class _Checker:
    def __init__(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = checkpoint
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.expected = 1
        self.prev_hash: str | None = GENESIS_HASH
        self.total = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.last_hash: str | None = None

    def problem(self, seq: int | None, kind: str, detail: str, segment: str | None = None, line: int | None = None):
        self.problems.append(Problem(seq, kind, detail, segment, line))

    def check_line(self, raw: bytes, segment: SegmentFile, lineno: int, first_in_segment: bool) -> None:
        name = segment.path.name
        self.total += 1
        position = self.expected
        try:
            body, stored = split_line(raw)
            record = parse_record(raw)
        except RecordFormatError as exc:
            self.problem(position, "malformed", str(exc), name, lineno)
            self.expected += 1
            self.prev_hash = None  # the next link cannot be checked
            return
        if body_hash(body) != stored or record["hash"] != stored:
            # An edited record's fields cannot be trusted, its seq included: it is named by its
            # position, and the sequence carries on as if it held the expected number.
            self.problem(position, "hash_mismatch", "the record's bytes do not match its hash", name, lineno)
            if self.first_seq is None:
                self.first_seq = position
            self.expected += 1
            self.prev_hash = stored
            self.last_seq, self.last_hash = position, stored
            return
        seq = record["seq"]
        if seq > position:
            missing = f"seq {position}" if seq == position + 1 else f"seqs {position}..{seq - 1}"
            self.problem(
                position, "sequence_gap", f"expected seq {position}, found {seq}: {missing} missing or moved", name, lineno
            )
            self.expected = seq + 1
        elif seq < position:
            self.problem(
                seq, "sequence_disorder", f"seq {seq} appears after seq {position - 1}", name, lineno
            )
        else:
            self.expected = seq + 1
        if self.prev_hash is not None and record["prev_hash"] != self.prev_hash:
            self.problem(
                seq, "chain_break", "prev_hash is not the hash of the record before it", name, lineno
            )
        if first_in_segment and seq != segment.first_seq:
            self.problem(
                seq,
                "segment_name_mismatch",
                f"segment named for seq {segment.first_seq} starts with seq {seq}",
                name,
                lineno,
            )
        checkpoint = self.checkpoint
        if checkpoint is not None and checkpoint.seq > 0:
            if seq == checkpoint.first_seq and stored != checkpoint.first_hash:
                self.problem(
                    seq,
                    "checkpoint_mismatch",
                    "differs from the signed hash of the first record: the log was rewritten",
                    name,
                    lineno,
                )
            if seq == checkpoint.seq and stored != checkpoint.hash:
                self.problem(
                    seq,
                    "checkpoint_mismatch",
                    "differs from the signed checkpoint: the log was rewritten",
                    name,
                    lineno,
                )
        self.prev_hash = stored
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq, self.last_hash = seq, stored


def verify_log(
    directory: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    environ: Mapping[str, str] | None = None,
) -> VerifyReport:
    """Verify the log in `directory`; the key defaults to `KALSHI_AUDIT_HMAC_KEY` or the key file."""
    started = time.perf_counter()
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no audit log directory at {root}")
    if key is None:
        key = load_key(root, create=False, environ=environ)
    snapshot = _take_snapshot(root)
    checkpoint_read = read_checkpoint_bytes(snapshot.checkpoint_raw, key)
    checker = _Checker(checkpoint_read.checkpoint)
    checker.notes.extend(snapshot.notes)
    try:
        last_index = len(snapshot.files) - 1
        for index, (segment, handle, limit) in enumerate(snapshot.files):
            _check_segment(checker, segment, handle, limit, is_last=index == last_index)
    finally:
        for _, handle, _ in snapshot.files:
            handle.close()

    records_exist = checker.total > 0
    if checkpoint_read.state == "missing" and records_exist:
        checker.problem(None, "checkpoint_missing", "records exist but the signed checkpoint is gone")
    elif checkpoint_read.state == "invalid":
        reason = "no key to check it" if key is None else "its signature does not verify"
        checker.problem(
            None,
            "checkpoint_invalid",
            f"the checkpoint cannot be trusted: {reason} (is {KEY_ENV} the key it was signed with?)",
        )
    elif checkpoint_read.checkpoint is not None:
        for slot in checkpoint_read.bad_slots:
            # The other slot still verifies, but it may be older: a forger who cut the tail and
            # spoiled the newest slot would otherwise pass. After a power cut mid-write, it is benign.
            checker.problem(
                None,
                "checkpoint_invalid",
                f"checkpoint slot {slot} does not verify (a torn checkpoint write, or tampering)",
            )
        checkpoint = checkpoint_read.checkpoint
        last = checker.last_seq or 0
        if checkpoint.seq > last:
            checker.problem(
                last + 1,
                "truncated",
                f"the signed checkpoint names seq {checkpoint.seq} but the log ends at seq {last}",
            )
    return VerifyReport(
        directory=str(root),
        total_entries=checker.total,
        first_seq=checker.first_seq,
        last_seq=checker.last_seq,
        last_hash=checker.last_hash,
        segments=len(snapshot.files),
        checkpoint_seq=None if checkpoint_read.checkpoint is None else checkpoint_read.checkpoint.seq,
        problems=tuple(checker.problems),
        notes=tuple(checker.notes),
        elapsed_seconds=time.perf_counter() - started,
    )


def _check_segment(
    checker: _Checker, segment: SegmentFile, handle: BinaryIO, limit: int | None, *, is_last: bool
) -> None:
    name = segment.path.name
    lineno = 0
    source: BinaryIO = gzip.GzipFile(fileobj=handle, mode="rb") if segment.compressed else handle  # type: ignore[assignment]
    try:
        for raw, terminated in _lines(source, limit):
            lineno += 1
            if terminated:
                checker.check_line(raw, segment, lineno, first_in_segment=lineno == 1)
            elif is_last and segment.state == "active":
                checker.notes.append(
                    f"{name}: a torn last record of {len(raw)} bytes (a writer died mid-write); "
                    "the next writer to open the log sets it aside"
                )
            else:
                checker.total += 1
                checker.problem(checker.expected, "malformed", "unterminated line", name, lineno)
                checker.expected += 1
                checker.prev_hash = None
    except (OSError, EOFError, zlib.error) as exc:
        checker.problem(checker.expected, "unreadable_segment", f"{type(exc).__name__}: {exc}", name, lineno + 1)
        checker.prev_hash = None
