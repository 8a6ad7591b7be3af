"""The per-record checks of `verify`, streamed segment by segment.

Most records are intact, so each line first takes a fast path: slice off the stored hash, hash
the body, parse with orjson and check the field types inline. Anything unusual on that path (a
hash that differs, a line orjson refuses, a field of the wrong type) sends the line down the
original slow path (`split_line` + `parse_record`, judged by the standard `json` module), so a
damaged line is named exactly as before. Checks against the signed checkpoint and the published
anchors cost one dict lookup per record: the sequence numbers they name are gathered up front.
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
        check_line = self.check_line
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
                for raw in lines:
                    lineno += 1
                    check_line(raw, segment, lineno)
            if pending:
                lineno += 1
                self._unterminated(pending, segment, lineno, is_last=is_last)
        except (OSError, EOFError, zlib.error) as exc:
            self.problem(self.expected, "unreadable_segment", f"{type(exc).__name__}: {exc}", name, lineno + 1)
            self.prev_hash = None

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
