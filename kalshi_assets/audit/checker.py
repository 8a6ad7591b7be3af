"""The per-record checks of `verify`, streamed segment by segment in blocks of 1 MiB.

Most records are intact, so a block is first checked whole: every line decoded with msgspec into
the record's seven typed fields (the payload is checked to be a well-formed JSON object but not
built: nothing reads it), then each check made over the whole block by one comparison in C: the
next seqs, each prev_hash the hash before it, each stored hash SHA-256 of its bytes as stored
(never re-encoded), and the hashes the signed checkpoint and the published anchors name. A block
with anything unusual is checked line by line: the same checks per line (`_fast_link`), and a line
that fails them goes down the original slow path (`split_line` + `parse_record`, judged by the
standard `json` module), so a damaged line is named exactly as before. Memory is bounded by the
block size, whatever the log's size."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgspec

from kalshi_assets.audit.encoding import (
    GENESIS_HASH,
    RecordFormatError,
    body_hash,
    parse_record,
    split_line,
)
from kalshi_assets.audit.segments import SegmentFile

_READ_CHUNK = 1024 * 1024
_HASH_PREFIX = b',"hash":"'
_SUFFIX = len(_HASH_PREFIX) + 64 + 2  # ,"hash":"<64 hex>"}
_sha256 = hashlib.sha256


class _Object(msgspec.Struct, gc=False):
    """Any JSON object: its members are skipped (their syntax checked, not their strings' UTF-8)."""


class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A stored record's fields and types, for the fast path (every field required, no other)."""

    event_type: str
    payload: _Object
    prev_hash: str
    seq: int
    ts: str
    user_id: str | None
    hash: str


_decode_line = msgspec.json.Decoder(_Line).decode


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
class SegmentSummary:
    """Intact records checked by one Checker: how many, the first's seq and prev_hash, the last's."""

    total: int
    first_seq: int
    first_prev_hash: str
    last_seq: int
    last_hash: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Expectation:
    """A hash some record must have, and the problem to report if it does not."""

    hash: str
    kind: str
    detail: str


def _fast_link(raw: bytes) -> tuple[int, str, str] | None:
    """(seq, prev_hash, hash) of an intact line, or None to let the slow path judge it."""
    try:
        record = _decode_line(raw)
        if not raw.isascii():
            raw.decode("utf-8")  # msgspec skips the payload's strings without checking their UTF-8
    except ValueError:  # msgspec.DecodeError and UnicodeDecodeError are ValueErrors
        return None
    stored = record.hash
    if (
        len(raw) <= _SUFFIX
        or raw[-2:] != b'"}'
        or raw[-_SUFFIX : 9 - _SUFFIX] != _HASH_PREFIX
        or raw[-66:-2] != stored.encode()
        or _sha256(raw[:-_SUFFIX] + b"}").hexdigest() != stored
        or record.seq < 1
    ):
        return None
    return record.seq, record.prev_hash, stored


class Checker:
    """Checks records in sequence order; collects problems and notes."""

    def __init__(self, expectations: dict[int, list[Expectation]]) -> None:
        self.expectations = expectations
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.expected = 1
        self.prev_hash: str | None = GENESIS_HASH
        self.total = 0
        self.first_seq: int | None = None
        self.first_prev_hash: str | None = None  # the prev_hash of the first record checked
        self.last_seq: int | None = None
        self.last_hash: str | None = None

    def problem(
        self, seq: int | None, kind: str, detail: str, segment: str | None = None, line: int | None = None
    ) -> None:
        self.problems.append(Problem(seq, kind, detail, segment, line))

    def check_line(self, raw: bytes, segment: SegmentFile, lineno: int) -> None:
        self.total += 1
        link = _fast_link(raw)
        if link is None:
            link = self._slow_link(raw, segment, lineno)
            if link is None:
                return
        seq, prev_hash, stored = link
        position = self.expected
        if seq == position:
            self.expected = seq + 1
        else:
            self._out_of_order(seq, position, segment, lineno)
        if self.prev_hash is not None and prev_hash != self.prev_hash:
            self.problem(seq, "chain_break", "prev_hash is not the hash of the record before it", segment.path.name, lineno)
        if lineno == 1 and seq != segment.first_seq:
            self.problem(
                seq,
                "segment_name_mismatch",
                f"segment named for seq {segment.first_seq} starts with seq {seq}",
                segment.path.name,
                lineno,
            )
        expected = self.expectations.get(seq)
        if expected is not None:
            for expectation in expected:
                if stored != expectation.hash:
                    self.problem(seq, expectation.kind, expectation.detail, segment.path.name, lineno)
        self.prev_hash = stored
        if self.first_seq is None:
            self.first_seq, self.first_prev_hash = seq, prev_hash
        self.last_seq, self.last_hash = seq, stored

    def summary(self) -> SegmentSummary | None:
        """What was checked, for another Checker's `follow_with`; None unless every record was intact."""
        if self.problems or self.first_seq is None or self.first_prev_hash is None:
            return None
        assert self.last_seq is not None and self.last_hash is not None
        return SegmentSummary(
            self.total, self.first_seq, self.first_prev_hash, self.last_seq, self.last_hash, tuple(self.notes)
        )

    def follow_with(self, summary: SegmentSummary) -> bool:
        """Account for intact records checked by another Checker, if they follow on from what was
        checked here: the state is then what checking their lines here would leave. Else False, and
        nothing changes."""
        if summary.first_seq != self.expected or (
            self.prev_hash is not None and summary.first_prev_hash != self.prev_hash
        ):
            return False
        self.total += summary.total
        if self.first_seq is None:
            self.first_seq, self.first_prev_hash = summary.first_seq, summary.first_prev_hash
        self.expected = summary.last_seq + 1
        self.prev_hash = summary.last_hash
        self.last_seq, self.last_hash = summary.last_seq, summary.last_hash
        self.notes.extend(summary.notes)
        return True

    def _slow_link(self, raw: bytes, segment: SegmentFile, lineno: int) -> tuple[int, str, str] | None:
        """The original checks, for a line the fast path would not vouch for; None if it is damaged."""
        name = segment.path.name
        position = self.expected
        try:
            body, stored = split_line(raw)
            record = parse_record(raw)
        except RecordFormatError as exc:
            self.problem(position, "malformed", str(exc), name, lineno)
            self.expected += 1
            self.prev_hash = None  # the next link cannot be checked
            return None
        if body_hash(body) != stored or record["hash"] != stored:
            # An edited record's fields cannot be trusted, its seq included: it is named by its
            # position, and the sequence carries on as if it held the expected number.
            self.problem(position, "hash_mismatch", "the record's bytes do not match its hash", name, lineno)
            if self.first_seq is None:
                self.first_seq = position
            self.expected += 1
            self.prev_hash = stored
            self.last_seq, self.last_hash = position, stored
            return None
        return record["seq"], record["prev_hash"], stored

    def _out_of_order(self, seq: int, position: int, segment: SegmentFile, lineno: int) -> None:
        name = segment.path.name
        if seq > position:
            missing = f"seq {position}" if seq == position + 1 else f"seqs {position}..{seq - 1}"
            self.problem(
                position, "sequence_gap", f"expected seq {position}, found {seq}: {missing} missing or moved", name, lineno
            )
            self.expected = seq + 1
        else:
            self.problem(seq, "sequence_disorder", f"seq {seq} appears after seq {position - 1}", name, lineno)

    def check_segment(self, segment: SegmentFile, handle: BinaryIO, limit: int | None, *, is_last: bool) -> None:
        """Check every line of one segment (plain up to `limit` bytes, or compressed)."""
        name = segment.path.name
        lineno = 0
        source: Any = gzip.GzipFile(fileobj=handle, mode="rb") if segment.compressed else handle
        remaining = limit
        pending = b""
        try:
            while True:
                size = _READ_CHUNK if remaining is None else min(_READ_CHUNK, remaining)
                chunk = source.read(size) if size else b""
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                lines = (pending + chunk if pending else chunk).split(b"\n")
                pending = lines.pop()
                if lines:
                    self._check_block(lines, segment, lineno)
                    lineno += len(lines)
            if pending:
                lineno += 1
                self._unterminated(pending, segment, lineno, is_last=is_last)
        except (OSError, EOFError, zlib.error) as exc:
            self.problem(self.expected, "unreadable_segment", f"{type(exc).__name__}: {exc}", name, lineno + 1)
            self.prev_hash = None

    def _check_block(self, lines: list[bytes], segment: SegmentFile, lineno: int) -> None:
        """Check consecutive lines of a segment (`lineno` lines precede them): a block of intact next
        links at once, else line by line through `check_line`."""
        if lineno == 0:  # a segment's first line: `check_line` also checks the segment's name
            self.check_line(lines[0], segment, 1)
            lines, lineno = lines[1:], 1
        last_hash = self._intact_links(lines) if lines else None
        if last_hash is not None:
            self._pass_links(len(lines), last_hash)
            return
        for raw in lines:
            lineno += 1
            self.check_line(raw, segment, lineno)

    def _intact_links(self, lines: list[bytes]) -> str | None:
        """The last hash if `lines` are the next records, every one intact and matching any hash a check
        names for it, else None: `_fast_link`'s checks, each made over the whole block by one comparison
        in C (a block with anything unusual is checked again line by line)."""
        first, prev_hash = self.expected, self.prev_hash
        end = first + len(lines)
        if prev_hash is None:
            return None
        try:
            records = list(map(_decode_line, lines))
        except ValueError:  # msgspec.DecodeError
            return None
        hashes = [record.hash for record in records]
        if (
            [record.seq for record in records] != list(range(first, end))
            or [record.prev_hash for record in records] != [prev_hash, *hashes[:-1]]
            or [_sha256(raw[:-_SUFFIX] + b"}").hexdigest() for raw in lines] != hashes
            # every line ends with its hash field, `,"hash":"<hash>"}`
            or b"".join([raw[-_SUFFIX:] for raw in lines]) != (',"hash":"' + '"},"hash":"'.join(hashes) + '"}').encode()
            or any(expectation.hash != hashes[seq - first] for seq, named in self.expectations.items()
                   if first <= seq < end for expectation in named)
        ):
            return None
        if not all(map(bytes.isascii, lines)):
            try:
                for raw in lines:
                    raw.decode("utf-8")  # msgspec skips the payload's strings without checking their UTF-8
            except UnicodeDecodeError:
                return None
        return hashes[-1]

    def _pass_links(self, count: int, last_hash: str) -> None:
        """Account for `count` intact next links ending with `last_hash`."""
        self.total += count
        if self.first_seq is None:
            self.first_seq = self.expected
        self.expected += count
        self.last_seq, self.last_hash = self.expected - 1, last_hash
        self.prev_hash = last_hash

    def _unterminated(self, raw: bytes, segment: SegmentFile, lineno: int, *, is_last: bool) -> None:
        name = segment.path.name
        if is_last and segment.state == "active":
            self.notes.append(
                f"{name}: a torn last record of {len(raw)} bytes (a writer died mid-write); "
                "the next writer to open the log sets it aside"
            )
        else:
            self.total += 1
            self.problem(self.expected, "malformed", "unterminated line", name, lineno)
            self.expected += 1
            self.prev_hash = None
