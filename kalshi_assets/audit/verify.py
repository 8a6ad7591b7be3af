"""Verify an audit log: every record, the chain, the sequence, the segments, the checkpoint and its anchors.

Verification is read-only and never repairs anything. It reads the published anchors first, then
takes the writers' lock (shared) only long enough to read the checkpoint and open every segment,
then reads without it, so appends go on meanwhile: an open file stays readable after a rotation
unlinks it, and the active segment is read up to its size at that moment. Each of those reads
only names records that the next one already holds.

What the report trusts is its `anchor` (docs/AUDIT.md): an Ed25519 public key given explicitly
(`public_keys`, else $KALSHI_AUDIT_PUBLIC_KEY), an HMAC key kept outside the directory
($KALSHI_AUDIT_HMAC_KEY, or `key`), and/or a file of published checkpoints (`anchor_file`, else
$KALSHI_AUDIT_ANCHOR). With none of them the report is `anchored=False` ("unanchored"): an HMAC key
file found inside the directory proves nothing against whoever can write the directory.

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
- `rollback`            the log or its checkpoint ends before a published checkpoint's seq
- `anchor_mismatch`     a record differs from a published checkpoint: the log was rewritten
- `anchor_invalid`      the anchor file is missing, unreadable, or holds a line not signed by the key
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kalshi_assets.audit import anchor as anchors
from kalshi_assets.audit import parallel
from kalshi_assets.audit.checker import Checker, Expectation, Problem
from kalshi_assets.audit.checkpoint import (
    CHECKPOINT_FILE_NAME,
    KEY_ENV,
    Checkpoint,
    CheckpointRead,
    find_key,
    read_checkpoint_bytes,
)
from kalshi_assets.audit.segments import LOCK_FILE_NAME, SegmentFile, list_segments

__all__ = ["Problem", "VerifyReport", "verify_configured", "verify_log"]


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
    #: What the verdict rests on, e.g. "ed25519 key 1f0c...; checkpoints published in /x", or "unanchored: ...".
    anchor: str = "unanchored"
    #: True when something outside the directory vouches for the log (strict mode requires it).
    anchored: bool = False
    anchored_seq: int | None = None
    #: Processes that checked the segments (1: this one alone).
    workers: int = 1

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


@dataclass
class _Anchors:
    """What verify trusts, and what the published checkpoints say."""

    key: bytes | None
    public_keys: dict[str, Ed25519PublicKey] | None
    anchor_file: Path | None
    parts: list[str]
    problems: list[Problem] = field(default_factory=list)
    entries: list[anchors.AnchorEntry] = field(default_factory=list)

    @property
    def anchored(self) -> bool:
        return bool(self.parts)

    def describe(self, key_source: str) -> str:
        if self.parts:
            return "; ".join(self.parts)
        if key_source == "file":
            return "unanchored: the HMAC key was found inside the log directory, which proves nothing to a writer of it"
        return "unanchored: no key or anchor outside the log directory was given"


def _resolve_anchors(
    root: Path,
    key: bytes | None,
    environ: Mapping[str, str],
    public_keys: Mapping[str, Ed25519PublicKey] | None,
    anchor_file: str | os.PathLike[str] | None,
) -> tuple[_Anchors, str]:
    parts: list[str] = []
    if public_keys is None:
        paths = anchors.public_key_paths_from_env(environ)
        public_keys = anchors.load_public_keys(paths, audit_directory=root) if paths else None
    key_source = "given"
    if public_keys is not None:
        if not public_keys:
            raise ValueError("no public key given to check the audit checkpoint's signature")
        parts.append(f"ed25519 key {', '.join(sorted(public_keys))}")
    elif key is None:
        key, key_source = find_key(root, environ=environ)
    if public_keys is None and key_source == "env":
        parts.append(f"HMAC key from ${KEY_ENV}")
    elif public_keys is None and key_source == "given":
        parts.append("HMAC key given by the caller")
    if anchor_file is None:
        target = environ.get(anchors.ANCHOR_ENV)
        anchor_file = target if target and target != anchors.STDOUT_ANCHOR else None
    path = None
    if anchor_file is not None:
        path = anchors.outside_directory(Path(anchor_file), root, "anchor file")
        parts.append(f"checkpoints published in {path}")
    return _Anchors(key, dict(public_keys) if public_keys is not None else None, path, parts), key_source


def _read_anchor_file(found: _Anchors) -> None:
    """Load published checkpoints (before the snapshot: each names only records already written)."""
    if found.anchor_file is None:
        return
    try:
        entries, bad = anchors.read_anchor_entries(found.anchor_file)
    except FileNotFoundError:
        found.problems.append(Problem(None, "anchor_invalid", f"no anchor file at {found.anchor_file}"))
        return
    except OSError as exc:
        found.problems.append(Problem(None, "anchor_invalid", f"cannot read {found.anchor_file}: {exc}"))
        return
    if bad:
        found.problems.append(
            Problem(None, "anchor_invalid", f"{found.anchor_file} line {bad[0]} is not a published checkpoint")
        )
    for entry in entries:
        if found.public_keys is not None:
            problem = anchors.signature_problem(entry.fields, found.public_keys)
            if problem is not None:
                found.problems.append(
                    Problem(entry.seq, "anchor_invalid", f"{found.anchor_file} line {entry.line}: {problem}")
                )
                continue
        found.entries.append(entry)


def _expectations(checkpoint: Checkpoint | None, found: _Anchors) -> dict[int, list[Expectation]]:
    """The hash each of some records must have: the checkpoint's first and last, each published one."""
    expected: dict[int, list[Expectation]] = {}
    if checkpoint is not None and checkpoint.seq > 0:
        expected.setdefault(checkpoint.first_seq, []).append(
            Expectation(
                checkpoint.first_hash,
                "checkpoint_mismatch",
                "differs from the signed hash of the first record: the log was rewritten",
            )
        )
        expected.setdefault(checkpoint.seq, []).append(
            Expectation(checkpoint.hash, "checkpoint_mismatch", "differs from the signed checkpoint: the log was rewritten")
        )
    first_hashes = {entry.first_hash for entry in found.entries if entry.seq > 0}
    for first_hash in sorted(first_hashes):
        detail = f"differs from the first record's hash published in {found.anchor_file}: the log was rewritten"
        expected.setdefault(1, []).append(Expectation(first_hash, "anchor_mismatch", detail))
    seen: set[tuple[int, str]] = set()
    for entry in found.entries:
        if entry.seq > 0 and (entry.seq, entry.hash) not in seen:
            seen.add((entry.seq, entry.hash))
            detail = f"differs from the checkpoint published in {found.anchor_file} line {entry.line}: the log was rewritten"
            expected.setdefault(entry.seq, []).append(Expectation(entry.hash, "anchor_mismatch", detail))
    return expected


def verify_log(
    directory: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    environ: Mapping[str, str] | None = None,
    public_keys: Mapping[str, Ed25519PublicKey] | None = None,
    anchor_file: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the log in `directory` against the anchors given, else those the environment names.

    `workers`: processes that check segments (kalshi_assets.audit.parallel); None chooses (one per
    segment up to twice the CPUs for a log of several MiB, when this process has no other thread),
    1 checks everything in this process. The report is the same either way."""
    started = time.perf_counter()
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no audit log directory at {root}")
    env = os.environ if environ is None else environ
    found, key_source = _resolve_anchors(root, key, env, public_keys, anchor_file)
    _read_anchor_file(found)
    snapshot = _take_snapshot(root)
    checkpoint_read = read_checkpoint_bytes(snapshot.checkpoint_raw, found.key, found.public_keys)
    checker = Checker(_expectations(checkpoint_read.checkpoint, found))
    checker.notes.extend(snapshot.notes)
    try:
        processes = parallel.worker_count(snapshot.files, workers)
        _check_segments(checker, snapshot.files, processes)
    finally:
        for _, handle, _ in snapshot.files:
            handle.close()
    _check_checkpoint(checker, checkpoint_read, found)
    latest = _check_rollback(checker, checkpoint_read.checkpoint, found)
    checker.problems.extend(found.problems)
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
        anchor=found.describe(key_source),
        anchored=found.anchored,
        anchored_seq=latest,
        workers=processes,
    )


def _check_segments(checker: Checker, files: list[tuple[SegmentFile, BinaryIO, int | None]], processes: int) -> None:
    """Every segment in order: intact ones as summarized by worker processes, the rest line by line here."""
    last_index = len(files) - 1
    found = parallel.summaries(files, checker.expectations, processes) if processes > 1 else None
    try:
        for index, (segment, handle, limit) in enumerate(files):
            summary = None if found is None else next(found)
            if summary is None or not checker.follow_with(summary):
                checker.check_segment(segment, handle, limit, is_last=index == last_index)
    finally:
        if found is not None:
            found.close()


def verify_configured(
    directory: str | os.PathLike[str],
    *,
    signing_key_path: str | os.PathLike[str] | None = None,
    public_key_paths: list[str] | None = None,
    anchor: str | os.PathLike[str] | None = None,
) -> VerifyReport:
    """Verify with a writer's configuration: the public keys given, else the signing key's own
    public key; the anchor when it is a file (not stdout). Falls back to the environment for the rest."""
    root = Path(directory)
    public_keys = None
    if public_key_paths:
        public_keys = anchors.load_public_keys(public_key_paths, audit_directory=root)
    elif signing_key_path:
        passphrase = os.environ.get(anchors.SIGNING_KEY_PASSPHRASE_ENV)
        signer = anchors.Signer(anchors.load_signing_key(signing_key_path, audit_directory=root, passphrase=passphrase))
        public_keys = {signer.key_id: signer.public_key}
    anchor_file = None if anchor is None or str(anchor) == anchors.STDOUT_ANCHOR else anchor
    return verify_log(root, public_keys=public_keys, anchor_file=anchor_file)


def _check_checkpoint(checker: Checker, checkpoint_read: CheckpointRead, found: _Anchors) -> None:
    if checkpoint_read.state == "missing" and checker.total > 0:
        checker.problem(None, "checkpoint_missing", "records exist but the signed checkpoint is gone")
    elif checkpoint_read.state == "invalid":
        if found.public_keys is not None:
            reason = (
                f"no slot carries a valid Ed25519 signature by the given key ({', '.join(sorted(found.public_keys))}): "
                "re-signed with another key, or replaced"
            )
        elif found.key is None:
            reason = f"no key to check it (is {KEY_ENV} the key it was signed with?)"
        else:
            reason = f"its signature does not verify (is {KEY_ENV} the key it was signed with?)"
        checker.problem(None, "checkpoint_invalid", f"the checkpoint cannot be trusted: {reason}")
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


def _check_rollback(checker: Checker, checkpoint: Checkpoint | None, found: _Anchors) -> int | None:
    """Compare the log and its checkpoint with the latest published checkpoint; its seq."""
    latest = anchors.latest_entry(found.entries)
    if latest is None:
        if found.anchor_file is not None and checker.total > 0 and not found.problems:
            checker.problem(None, "anchor_invalid", f"{found.anchor_file} names no checkpoint of this log")
        return None
    last = checker.last_seq or 0
    if latest.seq > last:
        checker.problem(
            last + 1,
            "rollback",
            f"{found.anchor_file} published seq {latest.seq} but the log ends at seq {last}: records were removed",
        )
    checkpoint_seq = 0 if checkpoint is None else checkpoint.seq
    if checkpoint is not None and latest.seq > checkpoint_seq:
        # Not a problem by itself: the checkpoint is synced only on flush and close, so after a power
        # cut it may lag what was published. The records are compared with the published hashes.
        checker.notes.append(
            f"the checkpoint names seq {checkpoint_seq}, behind seq {latest.seq} published in {found.anchor_file}: "
            "it lags (normal after a crash) or was rolled back"
        )
    return latest.seq
