"""The audit log's fast paths give exactly what the slow, obviously-canonical ones give.

Writing: payloads are encoded by msgspec when it prints the canonical text, else by the standard
encoder. Verifying: intact records take an inlined fast path, anything else the per-line checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_assets.audit import GENESIS_HASH, AuditLog, canonical_json, record_hash, verify_log
from kalshi_assets.audit import checker as checker_module
from kalshi_assets.audit.encoding import canonical_payload_bytes, encode_record
from kalshi_assets.audit.scrub import scrub_payload_noting_floats

SEGMENT = "segment-000000000001.jsonl"

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too
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


def _rehashed(line: bytes, body_text: bytes) -> bytes:
    """`body_text` (a record's bytes without its hash field) with the hash of those very bytes."""
    return body_text[:-1] + b',"hash":"%b"}' % hashlib.sha256(body_text).hexdigest().encode()


def _forged_variants(line: bytes) -> list[bytes]:
    """Records whose stored hash matches their bytes but which are not well-formed records, or are
    well-formed in ways the fast path does not see (key order, duplicate keys, escapes)."""
    body = line[: line.rindex(b',"hash":"')] + b"}"
    payload_at = body.index(b'"payload":{') + len(b'"payload":{')
    return [
        _rehashed(line, body[:payload_at] + b'"bad":"\xff\xfe",' + body[payload_at:]),  # not UTF-8
        _rehashed(line, body[:payload_at] + b'"x":[1,],' + body[payload_at:]),  # not JSON
        _rehashed(line, body.replace(b'"payload":{', b'"payload":{"k":1,"k":2,', 1)),  # duplicate key
        _rehashed(line, body.replace(b'"payload":{', b'"payload":{"e":"\\u00e9\\n",', 1)),  # escapes
        _rehashed(line, body.replace(b'"seq":', b'"seq":1e0,"s":', 1)),  # seq a float, extra field
        _rehashed(line, b'{"payload":[],' + body[1:]),  # payload twice, the first an array
        _rehashed(line, body.replace(b'"user_id":', b'"user_id":7,"u":', 1)),
        line[:-2] + b'" }',  # the hash field not last as written
    ]


def _damage(lines: list[bytes], operations: list[tuple[int, int, int]]) -> list[bytes]:
    lines = list(lines)
    for kind, i, j in operations:
        i %= len(lines)
        if kind == 0:  # flip one byte
            line = bytearray(lines[i])
            line[j % len(line)] ^= 1 << (j % 7)
            lines[i] = bytes(line)
        elif kind == 1 and len(lines) > 1:
            del lines[i]
        elif kind == 2:
            k = j % len(lines)
            lines[i], lines[k] = lines[k], lines[i]
        elif kind == 3:
            lines.insert(i, lines[j % len(lines)])
        else:
            variants = _forged_variants(lines[i]) if b',"hash":"' in lines[i] and b'"payload":{' in lines[i] else []
            if variants:
                lines[i] = variants[j % len(variants)]
    return lines


def _report(directory: Path, *, slow_only: bool, chunk: int) -> tuple:
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(checker_module, "_READ_CHUNK", chunk))
        if slow_only:  # every line through split_line + parse_record, judged by the standard json module
            refuse = mock.Mock(side_effect=msgspec.DecodeError("slow path only"))
            stack.enter_context(mock.patch.object(checker_module, "_decode_line", refuse))
            stack.enter_context(mock.patch.object(checker_module.Checker, "_intact_links", lambda self, lines: None))
        report = verify_log(directory)
    return report.problems, report.total_entries, report.first_seq, report.last_seq, report.last_hash


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 10_000), st.integers(0, 10_000)), min_size=0, max_size=4
    ),
    chunk=st.sampled_from([97, 700, 1 << 20]),
)
def test_the_fast_paths_give_the_slow_paths_verdict_on_any_damage(
    make_log, log_dir: Path, operations: list[tuple[int, int, int]], chunk: int
) -> None:
    """Whatever is done to the lines (bytes flipped, lines dropped, swapped, repeated, records forged
    with matching hashes), block and line fast paths report exactly what the slow path reports."""
    if not (log_dir / SEGMENT).exists():
        make_log(30)
    lines = (log_dir / SEGMENT).read_bytes().splitlines()
    with tempfile.TemporaryDirectory() as scratch:
        damaged = Path(scratch) / "audit"
        shutil.copytree(log_dir, damaged)
        (damaged / SEGMENT).write_bytes(b"".join(line + b"\n" for line in _damage(lines, operations)))
        fast = _report(damaged, slow_only=False, chunk=chunk)
        slow = _report(damaged, slow_only=True, chunk=chunk)
    assert fast == slow
    if not operations:
        assert fast[0] == () and fast[1] == 30


def test_every_forged_variant_is_judged_by_the_slow_path(make_log, log_dir: Path) -> None:
    """Each forged record alone: the report names it as the slow path does, with the fast paths on."""
    make_log(8)
    lines = (log_dir / SEGMENT).read_bytes().splitlines(keepends=True)
    variants = _forged_variants(lines[4].rstrip(b"\n"))
    assert len(variants) == 8
    kinds = []
    for variant in variants:
        (log_dir / SEGMENT).write_bytes(b"".join([*lines[:4], variant + b"\n", *lines[5:]]))
        fast = _report(log_dir, slow_only=False, chunk=1 << 20)
        assert fast == _report(log_dir, slow_only=True, chunk=1 << 20)
        kinds.append(sorted({problem.kind for problem in fast[0]}))
    assert all(kinds), kinds  # every variant is reported (a changed record breaks the chain after it at least)


def test_encode_record_accepts_text_or_bytes() -> None:
    as_text = encode_record(1, "2026-11-21T00:00:00.000000Z", "ORDER", "u", '{"a":1}', GENESIS_HASH)
    as_bytes = encode_record(1, "2026-11-21T00:00:00.000000Z", "ORDER", "u", b'{"a":1}', GENESIS_HASH)
    assert as_text == as_bytes
