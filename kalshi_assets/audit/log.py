"""`AuditLog`: a tamper-evident, crash-safe, multi-process append-only log.

Before any lock, each entry is checked, scrubbed, encoded and its head (event type and payload)
hashed (`encoding.RecordHead`). Then, under a per-process thread lock and an exclusive `flock` on
`<dir>/audit.lock`, so every process and thread sees one sequence and one chain:

1. Refresh the tail: `stat` the active segment; if another process rotated it (inode gone or
   changed) rescan the directory; if it grew (another process appended), re-read its last line.
   A torn last record found here (a writer killed mid-write) is copied into `torn/` and cut off.
   When only this process wrote since it last looked, nothing is read.
2. seq = last seq + 1, prev_hash = last hash (only these, ts and the user are hashed under the
   lock); rotate the segment first if it is too big or old.
3. One `write` of every line to the active segment opened `O_APPEND`.

Then durability, by policy (`append` returns only when its records are durable under it):

- "always": fdatasync the segment, then advance the signed checkpoint; one fsync per call.
- "batch": group commit (kalshi_assets.audit.groupcommit): appends queued by the process's threads
  are written together (one flock, one write), and one fdatasync covers every record written since
  the previous sync began, then the checkpoint advances.
- "off": no sync; the checkpoint advances only on `flush`/`close`. For tests and benchmarks.

The checkpoint is written after the sync that made its records durable, and is itself synced by
`flush` and `close` (a checkpoint that lags the log is normal after a crash; one ahead of it is
not, and cannot happen). With a signing key the checkpoint is signed, and with an anchor it is also
published outside the directory (kalshi_assets.audit.anchor; docs/AUDIT.md).

Any write or fsync error is fatal: the log refuses every later append (never retried, since a
failed fsync may have dropped the dirty pages it was meant to persist).
"""

from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kalshi_assets.audit import anchor as anchors
from kalshi_assets.audit import events
from kalshi_assets.audit.checkpoint import Checkpoint, CheckpointWriter, load_key
from kalshi_assets.audit.encoding import (
    GENESIS_HASH,
    Prepared,
    RecordHead,
    canonical_payload_bytes,
    chain_lines,
    parse_record,
    records_as_written,
    utc_timestamp,
)
from kalshi_assets.audit.errors import (
    AuditLogClosedError,
    AuditLogDamagedError,
    AuditLogError,
    AuditLogFatalError,
    storage_error,
)
from kalshi_assets.audit.groupcommit import GroupCommit, WriteCombiner, _Group
from kalshi_assets.audit.query import query_log
from kalshi_assets.audit.scrub import scrub_payload_noting_floats
from kalshi_assets.audit.segments import (
    LOCK_FILE_NAME,
    SegmentHandle,
    finish_interrupted_rotation,
    fsync_directory,
    list_segments,
    read_first_line,
)
from kalshi_assets.audit.tail import SegmentTail
from kalshi_assets.audit.typed import Entry, TypedEvents
from kalshi_assets.audit.verify import VerifyReport, verify_log

FsyncPolicy = Literal["batch", "always", "off"]
FSYNC_POLICIES: tuple[str, ...] = ("batch", "always", "off")

AUDIT_DIR_ENV = "KALSHI_AUDIT_DIR"
WAREHOUSE_ENV = "KALSHI_WAREHOUSE"
DEFAULT_MAX_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SEGMENT_AGE_SECONDS = 24 * 3600.0

_SegmentHandle = SegmentHandle  # the name tests and benchmarks wrap to watch segment syncs

_log = logging.getLogger(__name__)
_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def _mark_forked() -> None:
    # A forked child shares the parent's open file descriptions, and an flock belongs to the
    # description: each log reopens its own files before the child's first append.
    for log in list(_OPEN_LOGS):
        log._forked = True


def _publish_pending_anchors() -> None:
    for log in list(_OPEN_LOGS):
        log._publish_pending_anchor()


os.register_at_fork(after_in_child=_mark_forked)
atexit.register(_publish_pending_anchors)


def default_audit_directory(
    environ: Mapping[str, str] | None = None, warehouse: str | os.PathLike[str] | None = None
) -> Path:
    """`$KALSHI_AUDIT_DIR`, else `audit/` beside the warehouse file (`warehouse`, else `$KALSHI_WAREHOUSE`,
    else the repository's `data/warehouse.duckdb`, as in `kalshi_assets.settings.warehouse_path`)."""
    from kalshi_assets.settings import REPO_ROOT

    env = os.environ if environ is None else environ
    if env.get(AUDIT_DIR_ENV):
        return Path(env[AUDIT_DIR_ENV])
    if warehouse is not None:
        return Path(warehouse).parent / "audit"
    if env.get(WAREHOUSE_ENV):
        return Path(env[WAREHOUSE_ENV]).parent / "audit"
    return REPO_ROOT / "data" / "audit"


_VALID_EVENT_TYPES: set[str] = set(events.EVENT_TYPES)


def _prepare(event_type: str, user_id: str | None, payload: Mapping[str, Any] | None) -> Prepared:
    """Check and scrub one entry before anything is locked or written."""
    if event_type not in _VALID_EVENT_TYPES:
        events.validate_event_type(event_type)
        if len(_VALID_EVENT_TYPES) < 1024:
            _VALID_EVENT_TYPES.add(event_type)
    if user_id is not None and type(user_id) is not str and not isinstance(user_id, str):
        raise TypeError(f"user_id must be a string or None, got {type(user_id).__name__}")
    clean, holds_float = scrub_payload_noting_floats(payload)
    return event_type, user_id, clean, RecordHead(event_type, user_id, canonical_payload_bytes(clean, holds_float))


def _signer(signing_key: Ed25519PrivateKey | str | os.PathLike[str] | None, directory: Path) -> anchors.Signer | None:
    if signing_key is None:
        path = os.environ.get(anchors.SIGNING_KEY_ENV)
        if not path:
            return None
        signing_key = path
    if isinstance(signing_key, Ed25519PrivateKey):
        return anchors.Signer(signing_key)
    passphrase = os.environ.get(anchors.SIGNING_KEY_PASSPHRASE_ENV)
    return anchors.Signer(anchors.load_signing_key(signing_key, audit_directory=directory, passphrase=passphrase))


class AuditLog(SegmentTail, TypedEvents):
    """Append-only hash-chained audit log in `directory` (see the module docstring).

    Anchors (docs/AUDIT.md), each defaulting to its environment variable: `signing_key` (an
    Ed25519 private key, or the path of its PEM file outside the directory: $KALSHI_AUDIT_SIGNING_KEY)
    signs every checkpoint; `trusted_public_keys` (paths: $KALSHI_AUDIT_PUBLIC_KEY) are earlier
    keys whose signatures the log accepts on open, after a key rotation; `anchor` (a file path
    outside the directory, or "stdout": $KALSHI_AUDIT_ANCHOR) receives published checkpoints, at
    most one per `anchor_interval` seconds plus one per flush and close. A log whose checkpoint
    is not signed by a configured key refuses to open unless `adopt_unsigned_checkpoint`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        fsync: FsyncPolicy = "batch",
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age: float | dt.timedelta = DEFAULT_MAX_SEGMENT_AGE_SECONDS,
        *,
        hmac_key: bytes | None = None,
        signing_key: Ed25519PrivateKey | str | os.PathLike[str] | None = None,
        trusted_public_keys: Sequence[str | os.PathLike[str]] | None = None,
        anchor: str | os.PathLike[str] | None = None,
        anchor_interval: float = anchors.DEFAULT_ANCHOR_INTERVAL_SECONDS,
        adopt_unsigned_checkpoint: bool = False,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if max_segment_bytes < 1024:
            raise ValueError("max_segment_bytes must be at least 1024")
        age = max_segment_age.total_seconds() if isinstance(max_segment_age, dt.timedelta) else max_segment_age
        if not age > 0:
            raise ValueError("max_segment_age must be positive")
        self.directory = Path(directory)
        self.fsync: FsyncPolicy = fsync
        self.max_segment_bytes = int(max_segment_bytes)
        self.max_segment_age = float(age)
        try:
            if not self.directory.is_dir():
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
                fsync_directory(self.directory.parent)
            key = hmac_key if hmac_key is not None else load_key(self.directory, create=True)
        except OSError as exc:
            raise storage_error("create the audit log in", self.directory, exc) from exc
        if not key:
            raise ValueError("the checkpoint HMAC key is empty")
        self._key: bytes = key
        self._key_given = hmac_key is not None  # else the environment's or the directory's: verify finds it
        self._signer = _signer(signing_key, self.directory)
        paths = anchors.public_key_paths_from_env() if trusted_public_keys is None else list(trusted_public_keys)
        self._trusted = anchors.load_public_keys(paths, audit_directory=self.directory)
        if self._signer is not None:
            self._trusted[self._signer.key_id] = self._signer.public_key
        target = anchor if anchor is not None else os.environ.get(anchors.ANCHOR_ENV) or None
        self._anchor_target = None if target is None else str(target)
        self._anchor_interval = float(anchor_interval)
        self._adopt_unsigned = adopt_unsigned_checkpoint
        #: What opening the log had to repair (torn tails set aside, rotations finished).
        self.recovery_actions: list[str] = []
        self._open_process_state()
        _OPEN_LOGS.add(self)

    # --- process state -------------------------------------------------------------------------

    def _open_process_state(self) -> None:
        self._forked = False
        self._write_lock = threading.Lock()
        self._group = GroupCommit(self._sync_group)
        self._combiner = WriteCombiner(self._write_and_join, self._group)
        self._active: SegmentHandle | None = None
        self._known_size = 0
        self._last_seq = 0
        self._last_hash = GENESIS_HASH
        self._fatal: BaseException | None = None
        self._closed = False
        self._lock_fd = -1
        self._checkpoint: CheckpointWriter | None = None
        self._publisher: anchors.AnchorPublisher | None = None
        try:
            self._lock_fd = os.open(self.directory / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o640)
            self._checkpoint = CheckpointWriter(self.directory, self._key, self._signer)
            if self._anchor_target is not None:
                self._publisher = anchors.AnchorPublisher(self._anchor_target, self.directory, self._anchor_interval)
            with self._write_lock, self._exclusive():
                self._recover()
        except BaseException as exc:
            self._close_files()
            if isinstance(exc, OSError) and not isinstance(exc, AuditLogError):
                raise storage_error("open the audit log in", self.directory, exc) from exc
            raise

    def _close_files(self) -> None:
        self._retire_active()
        if self._checkpoint is not None:
            self._checkpoint.close()
        if self._publisher is not None:
            self._publisher.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _close_inherited_files(self) -> None:
        inherited = {self._lock_fd}
        if self._checkpoint is not None:
            inherited.add(self._checkpoint.fileno())
        if self._publisher is not None:
            inherited.add(self._publisher.fileno())
        if self._active is not None:
            inherited.add(self._active.fd)
        for fd in inherited:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _check_process(self) -> None:
        if self._forked:
            self._close_inherited_files()
            self._open_process_state()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # --- recovery (callers hold the write lock and the flock) -----------------------------------

    def _recover(self) -> None:
        assert self._checkpoint is not None
        self.recovery_actions.extend(finish_interrupted_rotation(self.directory))
        self._rescan()
        found = self._checkpoint.read()
        if found.state == "invalid":
            raise AuditLogDamagedError(
                f"{self.directory}: the signed checkpoint does not verify (tampered, or not the key it "
                "was signed with); run `kalshi-assets audit verify`"
            )
        if found.checkpoint is None:
            if self._last_seq > 0:
                raise AuditLogDamagedError(
                    f"{self.directory}: records up to seq {self._last_seq} but no checkpoint; "
                    "run `kalshi-assets audit verify`"
                )
            self._check_anchor(None)
            # A genesis checkpoint before the first record: a checkpoint is never legitimately
            # absent once records exist, so its later disappearance is evidence.
            self._checkpoint.advance(0, GENESIS_HASH, lambda: GENESIS_HASH, sync=True)
            return
        checkpoint = found.checkpoint
        if found.bad_slots:
            message = f"checkpoint slot {found.bad_slots[0]} does not verify; the next commit overwrites it"
            _log.warning("audit log recovery: %s", message)
            self.recovery_actions.append(message)
        if self._last_seq < checkpoint.seq:
            raise AuditLogDamagedError(
                f"{self.directory}: the log ends at seq {self._last_seq} but the signed checkpoint names "
                f"seq {checkpoint.seq}: records were removed from the tail; refusing to append"
            )
        if self._last_seq == checkpoint.seq and self._last_hash != checkpoint.hash:
            raise AuditLogDamagedError(
                f"{self.directory}: seq {self._last_seq} differs from the signed checkpoint: "
                "the log was rewritten; refusing to append"
            )
        self._check_signature(checkpoint)
        self._check_anchor(checkpoint)

    def _check_signature(self, checkpoint: Checkpoint) -> None:
        """With a signing key, extend only a checkpoint signed by a trusted key (never launder a forgery)."""
        if self._signer is None or checkpoint.seq == 0:
            return
        assert self._checkpoint is not None
        problem = anchors.signature_problem(checkpoint.fields, self._trusted)
        if problem is None:
            if checkpoint.fields.get("kid") != self._signer.key_id:
                self._checkpoint.resign()
                self.recovery_actions.append(f"re-signed the checkpoint at seq {checkpoint.seq} with the new key")
            return
        if "sig" not in checkpoint.fields and self._adopt_unsigned:
            self._checkpoint.resign()
            self.recovery_actions.append(f"adopted the unsigned checkpoint at seq {checkpoint.seq}; signing from now on")
            return
        raise AuditLogDamagedError(
            f"{self.directory}: the checkpoint at seq {checkpoint.seq} cannot be trusted: {problem}; "
            "run `kalshi-assets audit verify --strict` (docs/AUDIT.md: rotating keys, adopting a log)"
        )

    def _check_anchor(self, checkpoint: Checkpoint | None) -> None:
        """Refuse a log that ends before, or differs from, the latest published checkpoint (a rollback).

        The checkpoint itself may lag the published one after a power cut (it is synced only on
        flush and close, the records it names always first), so the records are what is compared."""
        if self._anchor_target is None or self._anchor_target == anchors.STDOUT_ANCHOR:
            return
        try:
            entries, _ = anchors.read_anchor_entries(Path(self._anchor_target), tail_bytes=256 * 1024)
        except FileNotFoundError:
            return
        latest = anchors.latest_entry(entries)
        if latest is None or latest.seq == 0:
            return
        if latest.seq > self._last_seq:
            raise AuditLogDamagedError(
                f"{self.directory}: the log ends at seq {self._last_seq} but {self._anchor_target} published seq "
                f"{latest.seq}: the log was rolled back; refusing to append"
            )
        assert checkpoint is not None
        if latest.first_hash != checkpoint.first_hash or (latest.seq == self._last_seq and latest.hash != self._last_hash):
            raise AuditLogDamagedError(
                f"{self.directory}: the checkpoint differs from the one published in {self._anchor_target}: "
                "the log was rewritten; refusing to append"
            )

    # --- appending -----------------------------------------------------------------------------

    def append(self, event_type: str, user_id: str | None, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        """Append one record; returns it as written once it is durable under the fsync policy."""
        return self._append_prepared([_prepare(event_type, user_id, payload)])[0]

    def append_many(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """Append several records at once: one lock acquisition, one write, one sync under the policy.

        `entries` are `(event_type, user_id, payload)` tuples (`typed.api_call_entry` builds API
        calls). Every entry is checked before anything is written, so a bad one leaves the log
        unchanged. The records get consecutive sequence numbers (no other writer's record falls
        between them) and are returned in order, once durable. A crash mid-write may leave a
        prefix of an unacknowledged batch, like any written but unsynced record.
        """
        prepared = [_prepare(*entry) for entry in entries]
        return self._append_prepared(prepared) if prepared else []

    def _append_prepared(self, prepared: list[Prepared]) -> list[dict[str, Any]]:
        if self._forked:
            self._check_process()
        if self.fsync == "batch":
            return self._combiner.append(prepared)
        with self._write_lock:
            records, handle = self._write_records(prepared)
            if self.fsync == "always":
                last = records[-1]
                self._sync_group([handle], last["seq"], last["hash"])
            return records

    def _write_and_join(self, prepared: list[Prepared]) -> tuple[list[dict[str, Any]], _Group]:
        """Batch policy: write what the combiner gathered, and join the group commit (one at a time)."""
        with self._write_lock:
            records, handle = self._write_records(prepared)
            last = records[-1]
            return records, self._group.join(handle, last["seq"], last["hash"])

    def _write_records(self, prepared: list[Prepared]) -> tuple[list[dict[str, Any]], SegmentHandle]:
        """Write records under the flock with one write; caller holds the write lock."""
        if self._closed or self._fatal is not None:
            self._check_usable()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # not `_exclusive()`: this is the hot path
        try:
            try:
                self._refresh()
                first_seq, prev_hash = self._last_seq + 1, self._last_hash
                now_ns = time.time_ns()
                ts = utc_timestamp(now_ns)
                data, digests = chain_lines(prepared, first_seq, prev_hash, ts.encode("ascii"))
                self._ensure_segment(first_seq, len(data), now_ns / 1e9)
                handle = self._active
                if handle is None:
                    raise AuditLogError("no active segment after rotation")
                self._write(handle, data)
            except AuditLogError:
                raise
            except OSError as exc:
                self._fatal = exc
                raise AuditLogFatalError(str(storage_error("write to", self.directory, exc))) from exc
            self._last_seq, self._last_hash = first_seq + len(digests) - 1, digests[-1]
            self._known_size += len(data)
            if handle.first_epoch is None:
                handle.first_epoch = now_ns / 1e9
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        return records_as_written(prepared, first_seq, prev_hash, digests, ts), handle

    def _write(self, handle: SegmentHandle, line: bytes) -> None:
        written = 0
        try:
            written = os.write(handle.fd, line)
            if written == len(line):
                return
            view = memoryview(line)
            while written < len(line):
                written += os.write(handle.fd, view[written:])
        except OSError as exc:
            if written:
                os.ftruncate(handle.fd, self._known_size)  # never leave a partial line behind
            raise OSError(exc.errno, exc.strerror, str(handle.path)) from exc

    def _sync_group(self, handles: list[SegmentHandle], seq: int, digest: str) -> None:
        """Make records durable, then checkpoint them; any failure makes the log unusable."""
        try:
            for handle in handles:
                handle.sync()
            self._advance_checkpoint(seq, digest, sync=False)
        except BaseException as exc:
            self._fatal = exc
            if isinstance(exc, AuditLogError):
                raise
            where = handles[0].path if handles else self.directory
            raise AuditLogFatalError(f"audit log fsync of {where} failed: {exc}") from exc

    def _advance_checkpoint(self, seq: int, digest: str, *, sync: bool) -> None:
        assert self._checkpoint is not None
        fields = self._checkpoint.advance(seq, digest, self._first_hash, sync=sync)
        if self._publisher is not None and fields is not None:
            self._publisher.publish(fields, force=sync)

    def _publish_pending_anchor(self) -> None:
        if self._publisher is not None and not self._closed and not self._forked:
            try:
                self._publisher.publish_pending()
            except OSError as exc:  # at interpreter exit: say so, never raise
                _log.warning("audit log %s: could not publish its last checkpoint: %s", self.directory, exc)

    def _first_hash(self) -> str:
        """Hash of record 1, to anchor the first real checkpoint (read once per log)."""
        for _attempt in range(5):
            segments = list_segments(self.directory)
            if not segments:
                break
            try:
                line = read_first_line(segments[0].path)
            except FileNotFoundError:
                continue  # another process renamed it mid-rotation; list again
            if line is None:
                break
            record = parse_record(line)
            if record["seq"] != 1:
                raise AuditLogDamagedError(f"the first record is seq {record['seq']}, not 1")
            return record["hash"]
        raise AuditLogDamagedError("cannot read the first record to anchor the checkpoint")

    def _check_usable(self) -> None:
        if self._closed:
            raise AuditLogClosedError(f"audit log {self.directory} is closed")
        if self._fatal is not None:
            raise AuditLogFatalError(f"audit log is unusable after: {self._fatal}") from self._fatal

    def flush(self) -> None:
        """Make everything written so far durable, checkpointed and published (whatever the policy)."""
        self._check_process()
        with self._write_lock:
            self._check_usable()
            assert self._checkpoint is not None
            try:
                if self._active is not None and self._active.fd >= 0:
                    self._active.sync()
                if self._last_seq > 0:
                    self._advance_checkpoint(self._last_seq, self._last_hash, sync=True)
                else:
                    self._checkpoint.sync()
                if self._publisher is not None:
                    self._publisher.publish_pending()
            except OSError as exc:
                self._fatal = exc
                raise AuditLogFatalError(f"audit log fsync failed: {storage_error('sync', self.directory, exc)}") from exc

    def close(self) -> None:
        """Flush and release files. Appends still in flight on other threads must finish first."""
        if self._closed:
            return
        if self._forked:
            # A forked child that never appended: its inherited locks may be held by parent
            # threads that do not exist here, so release its copies of the files without them.
            self._close_inherited_files()
            self._closed = True
            return
        if self._fatal is None:
            self.flush()
        with self._write_lock:
            self._closed = True
            self._close_files()
        _OPEN_LOGS.discard(self)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------------------

    def query(
        self,
        event_type: str | None = None,
        user_id: str | None = None,
        start: dt.datetime | str | None = None,
        end: dt.datetime | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records matching every given filter, in sequence order (see `query_log`)."""
        return query_log(self.directory, event_type=event_type, user_id=user_id, start=start, end=end, limit=limit)

    def verify(self) -> VerifyReport:
        """Check the whole log with this log's own anchors (see `verify_log`)."""
        anchor_file = self._anchor_target if self._anchor_target != anchors.STDOUT_ANCHOR else None
        public_keys: dict[str, Ed25519PublicKey] | None = self._trusted if self._signer is not None else None
        key = self._key if self._key_given else None
        return verify_log(self.directory, key=key, public_keys=public_keys, anchor_file=anchor_file)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        """The last sequence number this process has seen (not refreshed from other processes)."""
        return self._last_seq
