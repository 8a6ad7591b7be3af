"""The per-record checks of `verify`, streamed segment by segment in blocks of 1 MiB.

Most records are intact, so each line first takes a fast path, inlined in one loop per block:
parse it with orjson, check it is the next link (seq and prev_hash), compare its stored hash with
SHA-256 of its bytes as stored (never re-encoded), and check the field types. Anything unusual on
that path (a line orjson refuses, a hash that differs, a field of the wrong type) sends the line
down the original slow path (`split_line` + `parse_record`, judged by the standard `json` module),
so a damaged line is named exactly as before. Checks against the signed checkpoint and the
published anchors cost one set lookup per record: the sequence numbers they name are gathered up
front, and those records take the slow path. Memory is bounded by the block size, whatever the log's size.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from kalshi_assets.audit.encoding import (
    GENESIS_HASH,
    RECORD_FIELDS,
    RecordFormatError,
    body_hash,
    parse_record,
    split_line,
)
from kalshi_assets.audit.segments import SegmentFile

_READ_CHUNK = 1024 * 1024
_FIELDS = frozenset(RECORD_FIELDS)
_HASH_PREFIX = b',"hash":"'
_SUFFIX = len(_HASH_PREFIX) + 64 + 2  # ,"hash":"<64 hex>"}
_sha256 = hashlib.sha256


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
class Expectation:
    """A hash some record must have, and the problem to report if it does not."""

    hash: str
    kind: str
    detail: str


def _fast_record(raw: bytes) -> tuple[dict[str, Any], str] | None:
    """(record, hash) of an intact line, or None to let the slow path judge it."""
    if len(raw) <= _SUFFIX or raw[-2:] != b'"}' or raw[-_SUFFIX : -_SUFFIX + 9] != _HASH_PREFIX:
        return None
    stored = raw[-66:-2].decode("ascii", "replace")
    if _sha256(raw[:-_SUFFIX] + b"}").hexdigest() != stored:
        return None
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(record) is not dict or record.keys() != _FIELDS:
        return None
    seq, user_id = record["seq"], record["user_id"]
    if (
        type(seq) is not int  # also a seq past 64 bits, which orjson reads as a float
        or seq < 1
        or type(record["ts"]) is not str
        or type(record["event_type"]) is not str
        or type(record["prev_hash"]) is not str
        or record["hash"] != stored
        or type(record["payload"]) is not dict
        or (user_id is not None and type(user_id) is not str)
    ):
        return None
    return record, stored


class Checker:
    """Checks records in sequence order; collects problems and notes."""

    def __init__(self, expectations: dict[int, list[Expectation]]) -> None:
        self.expectations = expectations
        self._checked_seqs = frozenset(expectations)
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.expected = 1
        self.prev_hash: str | None = GENESIS_HASH
        self.total = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.last_hash: str | None = None

    def problem(
        self, seq: int | None, kind: str, detail: str, segment: str | None = None, line: int | None = None
    ) -> None:
        self.problems.append(Problem(seq, kind, detail, segment, line))

    def check_line(self, raw: bytes, segment: SegmentFile, lineno: int) -> None:
        self.total += 1
        fast = _fast_record(raw)
        if fast is None:
            fast = self._slow_record(raw, segment, lineno)
            if fast is None:
                return
        record, stored = fast
        seq = record["seq"]
        position = self.expected
        if seq == position:
            self.expected = seq + 1
        else:
            self._out_of_order(seq, position, segment, lineno)
        if self.prev_hash is not None and record["prev_hash"] != self.prev_hash:
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
            self.first_seq = seq
        self.last_seq, self.last_hash = seq, stored

    def _slow_record(self, raw: bytes, segment: SegmentFile, lineno: int) -> tuple[dict[str, Any], str] | None:
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
        return record, stored

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
        """Check consecutive lines of a segment (`lineno` lines precede them): intact next links on
        the fast path, anything else (or a seq some check names) through `check_line`."""
        if lineno == 0:  # a segment's first line: `check_line` also checks the segment's name
            self.check_line(lines[0], segment, 1)
            lines, lineno = lines[1:], 1
        expected, prev_hash = self.expected, self.prev_hash
        run_start = expected  # the fast records since the last slow one are seqs run_start..expected-1
        checked = self._checked_seqs
        loads, sha256, str_, dict_, int_ = orjson.loads, _sha256, str, dict, int
        for raw in lines:
            lineno += 1
            try:
                record = loads(raw)
                if not (
                    record["prev_hash"] == prev_hash
                    and record["seq"] == expected
                    and expected not in checked
                    and len(record) == 7  # with the six other keys read here: exactly the record's fields
                    and sha256(raw[:-_SUFFIX] + b"}").hexdigest() == (stored := record["hash"])
                    and raw[-66:-2] == stored.encode()
                    and raw[-_SUFFIX : 9 - _SUFFIX] == _HASH_PREFIX
                    and raw[-2:] == b'"}'
                    and type(record["seq"]) is int_  # not True, nor a float past 64 bits
                    and type(record["ts"]) is str_
                    and type(record["event_type"]) is str_
                    and type(record["payload"]) is dict_
                    and (record["user_id"] is None or type(record["user_id"]) is str_)
                ):
                    raise ValueError
            except (ValueError, KeyError, TypeError, IndexError):  # orjson.JSONDecodeError is a ValueError
                self._end_fast_run(run_start, expected, prev_hash)
                self.check_line(raw, segment, lineno)
                expected = run_start = self.expected
                prev_hash = self.prev_hash
                continue
            expected += 1
            prev_hash = stored
        self._end_fast_run(run_start, expected, prev_hash)

    def _end_fast_run(self, run_start: int, expected: int, prev_hash: str | None) -> None:
        """Account for the records `_check_block` passed on its fast path since `run_start`."""
        count = expected - run_start
        if count:
            self.total += count
            if self.first_seq is None:
                self.first_seq = run_start
            self.last_seq, self.last_hash = expected - 1, prev_hash
        self.expected, self.prev_hash = expected, prev_hash

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
