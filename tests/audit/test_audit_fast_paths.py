"""The audit log's fast paths give exactly what the slow, obviously-canonical ones give.

Writing: payloads are encoded by orjson when it prints the canonical text, else by the standard
encoder. Verifying: intact records take an inlined fast path, anything else the per-line checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_assets.audit import GENESIS_HASH, AuditLog, canonical_json, record_hash, verify_log
from kalshi_assets.audit import checker as checker_module
from kalshi_assets.audit.encoding import canonical_payload_bytes, encode_record
from kalshi_assets.audit.scrub import scrub_payload_noting_floats

SEGMENT = "segment-000000000001.jsonl"

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too: orjson refuses those
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)  # control chars, non-ASCII
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_payloads = st.dictionaries(st.text(max_size=8), _values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(_payloads)
def test_payload_bytes_are_the_canonical_encoding(payload: dict) -> None:
    clean, holds_float = scrub_payload_noting_floats(payload)
    assert canonical_payload_bytes(clean, holds_float) == canonical_json(clean).encode("utf-8")


def test_floats_and_big_integers_take_the_standard_encoder() -> None:
    clean, holds_float = scrub_payload_noting_floats({"tiny": 1e-9, "nested": {"x": [2.5e16]}})
    assert holds_float
    assert canonical_payload_bytes(clean, holds_float) == b'{"nested":{"x":[2.5e+16]},"tiny":1e-09}'
    clean, holds_float = scrub_payload_noting_floats({"big": 2**80})
    assert not holds_float
    assert canonical_payload_bytes(clean, holds_float) == f'{{"big":{2**80}}}'.encode()


def test_a_record_written_through_the_fast_encoder_rehashes_from_its_fields(log_dir: Path) -> None:
    with AuditLog(log_dir, fsync="off") as log:
        records = [
            log.append("ORDER", "ü", {"note": "tab\tquote\"é😀", "n": -(2**63), "ok": True, "none": None}),
            log.append("ORDER", None, {"x": [1, {"b": 2, "a": 1}], "f": 0.1}),
        ]
    lines = (log_dir / SEGMENT).read_bytes().splitlines()
    for record, line in zip(records, lines, strict=True):
        assert record_hash(record) == record["hash"]
        assert json.loads(line) == record
    assert verify_log(log_dir).ok


def _forge(log_dir: Path, seq: int, change) -> None:
    """Rewrite record `seq` with `change` applied and a hash that matches its new bytes (and re-chain)."""
    segment = log_dir / SEGMENT
    out, prev = [], GENESIS_HASH
    for line in segment.read_bytes().splitlines():
        record = json.loads(line)
        record["prev_hash"] = prev
        if record["seq"] == seq:
            change(record)
        body = canonical_json({k: v for k, v in record.items() if k != "hash"})
        prev = hashlib.sha256(body.encode()).hexdigest()
        out.append((body[:-1] + f',"hash":"{prev}"}}\n').encode())
    segment.write_bytes(b"".join(out))


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (lambda r: r.update(seq=True), "seq is not a positive integer"),
        (lambda r: r.update(payload=[1]), "payload is not an object"),
        (lambda r: r.update(ts=7), "ts is not a string"),
        (lambda r: r.update(user_id=3), "user_id is neither a string nor null"),
        (lambda r: r.update(extra=1), "fields differ from the record format"),
    ],
)
def test_a_record_whose_hash_matches_but_whose_fields_are_wrong_is_malformed(
    make_log, log_dir: Path, change, detail: str
) -> None:
    make_log(6)
    _forge(log_dir, 3, change)
    report = verify_log(log_dir)
    malformed = [p for p in report.problems if p.kind == "malformed"]
    assert malformed, report.problems
    assert (malformed[0].seq, malformed[0].detail) == (3, detail)


def test_small_blocks_give_the_same_verdicts(make_log, log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines cut across read blocks are reassembled: the same totals and problems at any block size."""
    make_log(40)
    lines = (log_dir / SEGMENT).read_bytes().splitlines(keepends=True)
    edited = lines[17].replace(b'"i":17', b'"i":71')
    (log_dir / SEGMENT).write_bytes(b"".join(lines[:17] + [edited] + lines[18:30] + lines[31:]))
    whole = verify_log(log_dir)
    expected = [(18, "hash_mismatch", 18), (31, "sequence_gap", 31), (32, "chain_break", 31)]
    assert [(p.seq, p.kind, p.line) for p in whole.problems] == expected
    assert (whole.total_entries, whole.last_seq) == (39, 40)
    monkeypatch.setattr(checker_module, "_READ_CHUNK", 97)  # smaller than one line
    small = verify_log(log_dir)
    assert (small.total_entries, small.last_seq, small.last_hash) == (whole.total_entries, whole.last_seq, whole.last_hash)
    assert small.problems == whole.problems


def test_encode_record_accepts_text_or_bytes() -> None:
    as_text = encode_record(1, "2026-11-21T00:00:00.000000Z", "ORDER", "u", '{"a":1}', GENESIS_HASH)
    as_bytes = encode_record(1, "2026-11-21T00:00:00.000000Z", "ORDER", "u", b'{"a":1}', GENESIS_HASH)
    assert as_text == as_bytes
