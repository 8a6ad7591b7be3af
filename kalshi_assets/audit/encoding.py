"""The on-disk record format: one JSON object per line, chained by SHA-256.

A line is the canonical encoding of the record without its hash (keys sorted, no whitespace,
UTF-8, no NaN), with `,"hash":"<64 hex>"` spliced in before the closing brace:

    {"event_type":"ORDER","payload":{...},"prev_hash":"...","seq":7,"ts":"...Z","user_id":"u"<,"hash":"..."}>

`hash = sha256(canonical(record minus hash))`. Because the hash sits at a fixed place at the end,
a verifier hashes the exact bytes on disk (any edited byte is caught, even a semantically neutral
one) while anyone holding the parsed record can recompute the same hash with `record_hash`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

GENESIS_HASH = "0" * 64
RECORD_FIELDS = ("seq", "ts", "event_type", "user_id", "payload", "prev_hash", "hash")

_HASH_PREFIX = b',"hash":"'
_HASH_SUFFIX_LEN = len(_HASH_PREFIX) + 64 + 2  # ,"hash":"<64 hex>"}
_HEX = frozenset("0123456789abcdef")

# One encoder object, built once: `json.dumps` with non-default options builds a new one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The same encoding without the cycle check (a third of its cost), for scrubbed payloads: the
# scrubber builds fresh containers, so they cannot hold a cycle.
_CANONICAL_ACYCLIC = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
)
_timestamp_second: tuple[int, str] = (-1, "")  # (epoch second, its "YYYY-MM-DDTHH:MM:SS." prefix)


class RecordFormatError(ValueError):
    """A line is not a well-formed audit record."""


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a JSON-native value (sorted keys, compact, UTF-8, finite floats)."""
    return _CANONICAL.encode(value)


def canonical_payload_json(scrubbed: dict[str, Any]) -> str:
    """`canonical_json` of a payload returned by `scrub_payload` (which cannot hold a cycle)."""
    return _CANONICAL_ACYCLIC.encode(scrubbed)


def canonical_payload_bytes(scrubbed: dict[str, Any], holds_float: bool) -> bytes:
    """`canonical_payload_json(scrubbed)` as UTF-8 bytes, encoded by msgspec when that is the same text.

    msgspec (keys sorted) orders keys by code point and escapes strings exactly as the canonical
    encoder does, and prints integers alike; it may print floats differently, so a payload holding a
    float (`holds_float`, from `scrub_payload_noting_floats`) takes the standard encoder, as does one
    msgspec refuses. A lone surrogate raises UnicodeEncodeError in both, before anything is written.
    """
    if not holds_float:
        try:
            return encode_sorted_keys(scrubbed)
        except (TypeError, msgspec.EncodeError):
            pass
    return _CANONICAL_ACYCLIC.encode(scrubbed).encode()


#: Compact JSON with keys sorted by code point, as bytes: the canonical text for JSON-native values
#: other than floats (the standard encoder prints those).
encode_sorted_keys = msgspec.json.Encoder(order="sorted").encode


def utc_timestamp(now_ns: int | None = None) -> str:
    """UTC time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (fixed width, so text order is time order)."""
    global _timestamp_second
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_second, prefix = _timestamp_second
    if seconds != cached_second:  # formatting the date part once a second, not once a record
        t = time.gmtime(seconds)
        prefix = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}."
        _timestamp_second = (seconds, prefix)
    return f"{prefix}{rest // 1000:06d}Z"


def encode_record(
    seq: int, ts: str, event_type: str, user_id: str | None, payload_json: str | bytes, prev_hash: str
) -> tuple[bytes, str]:
    """Build the line (with trailing newline) and the hash of one record.

    `payload_json` must already be canonical (`canonical_json` of a JSON-native mapping, as text or
    UTF-8 bytes); the body is assembled by hand because re-encoding the payload on the hot path
    would double its cost. Keys appear in sorted order: event_type, payload, prev_hash, seq, ts, user_id.
    """
    payload = payload_json if type(payload_json) is bytes else payload_json.encode()  # type: ignore[union-attr]
    head = RecordHead(event_type, user_id, payload)
    line, digest = head.chain(prev_hash.encode("ascii"), seq, ts.encode("ascii"))
    return line, digest.decode("ascii")


class RecordHead:
    """The part of a record known before it is chained: its bytes up to `"prev_hash":"`, and their
    SHA-256 state, computed outside the writers' lock. `chain` adds what only the lock knows
    (prev_hash, seq, ts), hashing just those few bytes more: the payload is hashed once."""

    __slots__ = ("_hash", "_head", "_user")

    def __init__(self, event_type: str, user_id: str | None, payload_json: bytes) -> None:
        self._head = b'{"event_type":%b,"payload":%b,"prev_hash":"' % (json_string_bytes(event_type), payload_json)
        self._hash = _sha256(self._head)
        self._user = b"null" if user_id is None else json_string_bytes(user_id)

    def chain(self, prev_hash: bytes, seq: int, ts: bytes) -> tuple[bytes, bytes]:
        """(line with its newline, hash as ASCII hex) of this record at `seq` after `prev_hash`."""
        rest = b'%b","seq":%d,"ts":"%b","user_id":%b}' % (prev_hash, seq, ts, self._user)
        state = self._hash.copy()
        state.update(rest)
        digest = state.hexdigest().encode("ascii")
        return b'%b%b,"hash":"%b"}\n' % (self._head, rest[:-1], digest), digest


_sha256 = hashlib.sha256


#: An entry checked and encoded before any lock: (event_type, user_id, scrubbed payload, record head).
Prepared = tuple[str, str | None, dict[str, Any], RecordHead]


def chain_lines(prepared: Sequence[Prepared], first_seq: int, last_hash: str, ts: bytes) -> tuple[bytes, list[str]]:
    """(lines to write, joined; each record's hash) of records chained onto `last_hash` from `first_seq`."""
    prev = last_hash.encode("ascii")
    if len(prepared) == 1:  # most appends: no lists to build and join (an eighth of an append's time)
        line, digest = prepared[0][3].chain(prev, first_seq, ts)
        return line, [digest.decode("ascii")]
    lines: list[bytes] = []
    digests: list[str] = []
    seq = first_seq
    for entry in prepared:
        line, prev = entry[3].chain(prev, seq, ts)
        lines.append(line)
        digests.append(prev.decode("ascii"))
        seq += 1
    return b"".join(lines), digests


def records_as_written(
    prepared: Sequence[Prepared], first_seq: int, prev_hash: str, digests: list[str], ts: str
) -> list[dict[str, Any]]:
    """The records as written, for callers (built after the writers' lock is released)."""
    records = []
    seq = first_seq
    for (event_type, user_id, clean, _), digest in zip(prepared, digests, strict=True):
        records.append(
            {
                "seq": seq,
                "ts": ts,
                "event_type": event_type,
                "user_id": user_id,
                "payload": clean,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
        seq += 1
    return records


@functools.lru_cache(maxsize=1024)  # event types and user ids repeat from record to record
def json_string_bytes(text: str) -> bytes:
    """The canonical JSON encoding of a string, as UTF-8 bytes."""
    return _CANONICAL.encode(text).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """Recompute a record's hash from its fields (for independent verifiers)."""
    body = {key: record[key] for key in RECORD_FIELDS if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def split_line(line: bytes) -> tuple[bytes, str]:
    """Split a stored line (without newline) into the hashed body bytes and the stored hash."""
    if len(line) <= _HASH_SUFFIX_LEN or not line.endswith(b'"}'):
        raise RecordFormatError("line does not end with a hash field")
    suffix = line[-_HASH_SUFFIX_LEN:]
    if not suffix.startswith(_HASH_PREFIX):
        raise RecordFormatError("line does not end with a hash field")
    stored = suffix[len(_HASH_PREFIX) : -2].decode("ascii", errors="replace")
    if not _HEX.issuperset(stored):
        raise RecordFormatError("hash field is not 64 lower-case hex digits")
    return line[:-_HASH_SUFFIX_LEN] + b"}", stored


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_record(line: bytes) -> dict[str, Any]:
    """Parse a stored line into a record dict, checking field names and types (not the hash)."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordFormatError(f"not JSON: {exc}") from None
    if not isinstance(record, dict) or set(record) != set(RECORD_FIELDS):
        raise RecordFormatError("fields differ from the record format")
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise RecordFormatError("seq is not a positive integer")
    for name in ("ts", "event_type", "prev_hash", "hash"):
        if not isinstance(record[name], str):
            raise RecordFormatError(f"{name} is not a string")
    if record["user_id"] is not None and not isinstance(record["user_id"], str):
        raise RecordFormatError("user_id is neither a string nor null")
    if not isinstance(record["payload"], dict):
        raise RecordFormatError("payload is not an object")
    return record


def parse_chain_fields(line: bytes) -> tuple[int, str, str]:
    """(seq, hash, ts) of a stored line; raises RecordFormatError when it cannot be chained onto."""
    record = parse_record(line)
    return record["seq"], record["hash"], record["ts"]
