"""`AuditLog`: a tamper-evident, crash-safe, multi-process append-only log.

Writing one record (all of it under a per-process thread lock and an exclusive `flock` on
`<dir>/audit.lock`, so every process and thread sees one sequence and one chain):

1. Refresh the tail: `stat` the active segment; if another process rotated it (inode gone or
   changed) rescan the directory; if it grew (another process appended), re-read its last line.
   A torn last record found here (a writer killed mid-write) is copied into `torn/` and cut off.
2. seq = last seq + 1, prev_hash = last hash; rotate the segment first if it is too big or old.
3. One `write` of the whole line to the active segment opened `O_APPEND`.

Then durability, by policy (`append` returns only when the record is durable under it):

- "always": fdatasync the segment, then advance the signed checkpoint; one fsync per record.
- "batch": group commit. The appender registers a ticket and waits; the first waiter with no
  leader running becomes the leader, lets appends already under way finish writing (for at most
  one sync's duration, capped at 2 ms), syncs every segment its process wrote to, advances the
  checkpoint, and wakes every appender whose record was written before the sync began. Appenders
  keep writing while the leader syncs, so the next group is ready when it finishes. Syncs run
  outside the `flock`, so other processes keep appending too; an fdatasync of a segment makes
  every byte written to it durable, whichever process wrote it. Group commit happens among the
  threads of one process; each process runs its own (they share the chain, not the syncs).
- "off": no sync; the checkpoint advances only on `flush`/`close` (a checkpoint that lags the
  log is normal after a crash; one ahead of it is not). For tests and benchmarks.

Any write or fsync error is fatal: the log refuses every later append (never retried, since a
failed fsync may have dropped the dirty pages it was meant to persist).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from kalshi_assets.audit import events
from kalshi_assets.audit.checkpoint import CheckpointWriter, load_key
from kalshi_assets.audit.encoding import (
    GENESIS_HASH,
    RecordFormatError,
    canonical_json,
    encode_record,
    parse_chain_fields,
    parse_record,
    utc_timestamp,
)
from kalshi_assets.audit.errors import (
    AuditLogClosedError,
    AuditLogDamagedError,
    AuditLogError,
    AuditLogFatalError,
)
from kalshi_assets.audit.query import query_log
from kalshi_assets.audit.scrub import scrub_payload
from kalshi_assets.audit.segments import (
    LOCK_FILE_NAME,
    compress_closing,
    finish_interrupted_rotation,
    fsync_directory,
    list_segments,
    read_first_line,
    read_last_line,
    read_tail,
    segment_name,
    set_aside_fragment,
)
from kalshi_assets.audit.verify import VerifyReport, verify_log

FsyncPolicy = Literal["batch", "always", "off"]
FSYNC_POLICIES: tuple[str, ...] = ("batch", "always", "off")

AUDIT_DIR_ENV = "KALSHI_AUDIT_DIR"
WAREHOUSE_ENV = "KALSHI_WAREHOUSE"
DEFAULT_MAX_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SEGMENT_AGE_SECONDS = 24 * 3600.0

_MAX_GATHER_SECONDS = 0.002

_log = logging.getLogger(__name__)


def default_audit_directory(environ: Mapping[str, str] | None = None) -> Path:
    """`$KALSHI_AUDIT_DIR`, else `audit/` beside the warehouse file (`$KALSHI_WAREHOUSE`, else the
    repository's `data/warehouse.duckdb`, as in `kalshi_assets.settings.warehouse_path`)."""
    from kalshi_assets.settings import REPO_ROOT

    env = os.environ if environ is None else environ
    if env.get(AUDIT_DIR_ENV):
        return Path(env[AUDIT_DIR_ENV])
    if env.get(WAREHOUSE_ENV):
        return Path(env[WAREHOUSE_ENV]).parent / "audit"
    return REPO_ROOT / "data" / "audit"


class _SegmentHandle:
    """An open segment file. Pinned while a group-commit leader may still sync it, so a rotation
    never closes an fd under the leader (a reused fd number would sync the wrong file)."""

    def __init__(self, path: Path, fd: int, inode: int, first_seq: int) -> None:
        self.path = path
        self.fd = fd
        self.inode = inode
        self.first_seq = first_seq
        self.first_epoch: float | None = None  # time of the first record, for rotation by age
        self._pins = 0
        self._retired = False
        self._guard = threading.Lock()

    def pin(self) -> None:
        with self._guard:
            self._pins += 1

    def unpin(self) -> None:
        with self._guard:
            self._pins -= 1
            self._close_if_done()

    def retire(self) -> None:
        with self._guard:
            self._retired = True
            self._close_if_done()

    def _close_if_done(self) -> None:
        if self._retired and self._pins == 0 and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def sync(self) -> None:
        os.fdatasync(self.fd)


_Prepared = tuple[str, str | None, dict[str, Any], str]  # (event_type, user_id, scrubbed payload, its JSON)


def _prepare(event_type: str, user_id: str | None, payload: Mapping[str, Any] | None) -> _Prepared:
    """Check and scrub one entry before anything is locked or written."""
    events.validate_event_type(event_type)
    if user_id is not None and not isinstance(user_id, str):
        raise TypeError(f"user_id must be a string or None, got {type(user_id).__name__}")
    clean = scrub_payload(payload)
    return event_type, user_id, clean, canonical_json(clean)


def _ts_epoch(ts: str) -> float:
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).timestamp()


class AuditLog:
    """Append-only hash-chained audit log in `directory` (see the module docstring)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        fsync: FsyncPolicy = "batch",
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age: float | dt.timedelta = DEFAULT_MAX_SEGMENT_AGE_SECONDS,
        *,
        hmac_key: bytes | None = None,
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
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
            fsync_directory(self.directory.parent)
        key = hmac_key if hmac_key is not None else load_key(self.directory, create=True)
        if not key:
            raise ValueError("the checkpoint HMAC key is empty")
        self._key: bytes = key
        #: What opening the log had to repair (torn tails set aside, rotations finished).
        self.recovery_actions: list[str] = []
        self._open_process_state()

    # --- process state -------------------------------------------------------------------------

    def _open_process_state(self) -> None:
        self._pid = os.getpid()
        self._write_lock = threading.Lock()
        commit_lock = threading.Lock()
        self._commit = threading.Condition(commit_lock)  # appenders wait here for durability
        self._gather = threading.Condition(commit_lock)  # a leader waits here for in-flight writes
        self._inflight = 0  # batch appends that have started but not yet written their record
        self._gathering = False
        self._last_sync_seconds = 0.0
        self._lock_fd = os.open(self.directory / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o640)
        self._checkpoint = CheckpointWriter(self.directory, self._key)
        self._active: _SegmentHandle | None = None
        self._known_size = 0
        self._last_seq = 0
        self._last_hash = GENESIS_HASH
        self._written = 0  # tickets: records this process wrote
        self._durable = 0  # tickets known durable
        self._leader = False
        self._pending: tuple[int, str] = (0, GENESIS_HASH)  # last (seq, hash) this process wrote
        self._dirty: dict[int, _SegmentHandle] = {}
        self._fatal: BaseException | None = None
        self._closed = False
        with self._write_lock, self._exclusive():
            self._recover()

    def _after_fork(self) -> None:
        # A forked child shares the parent's open file descriptions, and an flock belongs to the
        # description: the child must open its own, or parent and child would not exclude each other.
        self._close_inherited_files()
        self._open_process_state()

    def _release_forked_copy(self) -> None:
        self._close_inherited_files()
        self._pid = os.getpid()
        self._closed = True

    def _close_inherited_files(self) -> None:
        inherited = {self._lock_fd, self._checkpoint.fileno(), *(h.fd for h in self._dirty.values())}
        if self._active is not None:
            inherited.add(self._active.fd)
        for fd in inherited:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            self._after_fork()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # --- recovery and tail tracking (callers hold the write lock and the flock) ----------------

    def _recover(self) -> None:
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

    def _rescan(self) -> None:
        """Find the active segment and the chain's tail from the directory listing."""
        self._retire_active()
        self._last_seq, self._last_hash, self._known_size = 0, GENESIS_HASH, 0
        segments = list_segments(self.directory)
        if any(s.state == "closing" for s in segments):
            self.recovery_actions.extend(finish_interrupted_rotation(self.directory))
            segments = list_segments(self.directory)
        earlier = segments
        if segments and segments[-1].state == "active":
            segment = segments[-1]
            earlier = segments[:-1]
            fd = os.open(segment.path, os.O_RDWR | os.O_APPEND)
            stat = os.fstat(fd)
            self._active = _SegmentHandle(segment.path, fd, stat.st_ino, segment.first_seq)
            if self._load_tail(stat.st_size):
                return
        if earlier:
            line = read_last_line(earlier[-1].path)
            if line is None:
                raise AuditLogDamagedError(f"{earlier[-1].path.name} holds no complete record")
            self._last_seq, self._last_hash = self._chain_fields(line, earlier[-1].path)[:2]
        if self._active is not None and self._active.first_seq != self._last_seq + 1:
            raise AuditLogDamagedError(
                f"{self._active.path.name} is empty but the log's last record is seq {self._last_seq}"
            )

    def _load_tail(self, size: int) -> bool:
        """Read the active segment's tail into the chain state; True if it holds a record."""
        handle = self._active
        assert handle is not None
        tail = read_tail(handle.fd, size)
        if tail.fragment_size:
            copy = set_aside_fragment(self.directory, handle.path, handle.fd, tail.good_size, tail.fragment_size)
            message = (
                f"cut a torn record of {tail.fragment_size} bytes off {handle.path.name} "
                f"at byte {tail.good_size}; copy kept in {copy}"
            )
            _log.warning("audit log recovery: %s", message)
            self.recovery_actions.append(message)
        self._known_size = tail.good_size
        if tail.last_line is None:
            return False
        self._last_seq, self._last_hash, _ = self._chain_fields(tail.last_line, handle.path)
        return True

    @staticmethod
    def _chain_fields(line: bytes, path: Path) -> tuple[int, str, str]:
        try:
            return parse_chain_fields(line)
        except RecordFormatError as exc:
            raise AuditLogDamagedError(
                f"the last record of {path.name} cannot be read ({exc}); refusing to append"
            ) from None

    def _refresh(self) -> None:
        """Bring the chain state up to date with what other processes wrote since we last looked."""
        handle = self._active
        if handle is None:
            self._rescan()
            return
        try:
            stat = os.stat(handle.path)
        except FileNotFoundError:
            self._rescan()
            return
        if stat.st_ino != handle.inode:
            self._rescan()
        elif stat.st_size != self._known_size:
            if not self._load_tail(stat.st_size):
                self._rescan()

    def _retire_active(self) -> None:
        if self._active is not None:
            self._active.retire()
            self._active = None

    # --- segments ----------------------------------------------------------------------------

    def _segment_too_old(self, handle: _SegmentHandle, now: float) -> bool:
        if handle.first_epoch is None:
            line = read_first_line(handle.path)
            if line is None:
                return False
            handle.first_epoch = _ts_epoch(parse_record(line)["ts"])
        return now - handle.first_epoch >= self.max_segment_age

    def _ensure_segment(self, seq: int, line_size: int, now: float) -> None:
        handle = self._active
        if handle is not None and self._known_size > 0:
            if self._known_size + line_size > self.max_segment_bytes or self._segment_too_old(handle, now):
                self._rotate()
        if self._active is None:
            path = self.directory / segment_name(seq)
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                raise AuditLogDamagedError(f"{path.name} already exists; the sequence would fork") from None
            fsync_directory(self.directory)
            self._active = _SegmentHandle(path, fd, os.fstat(fd).st_ino, seq)
            self._known_size = 0

    def _rotate(self) -> None:
        handle = self._active
        assert handle is not None
        closing = handle.path.with_name(handle.path.name + ".closing")
        os.rename(handle.path, closing)
        fsync_directory(self.directory)
        self._retire_active()
        compress_closing(closing)

    # --- appending -----------------------------------------------------------------------------

    def append(self, event_type: str, user_id: str | None, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        """Append one record; returns it as written once it is durable under the fsync policy."""
        return self._append_prepared([_prepare(event_type, user_id, payload)])[0]

    def append_many(
        self, entries: Sequence[tuple[str, str | None, Mapping[str, Any] | None]]
    ) -> list[dict[str, Any]]:
        """Append several records at once: one lock acquisition, one write, one sync under the policy.

        `entries` are `(event_type, user_id, payload)` tuples. Every entry is checked before anything
        is written, so a bad one leaves the log unchanged. The records get consecutive sequence
        numbers (no other writer's record falls between them) and are returned in order, once durable.
        """
        prepared = [_prepare(*entry) for entry in entries]
        return self._append_prepared(prepared) if prepared else []

    def _append_prepared(self, prepared: list[_Prepared]) -> list[dict[str, Any]]:
        self._check_process()
        batch = self.fsync == "batch"
        if batch:
            with self._commit:
                self._inflight += 1
        registered = False
        try:
            with self._write_lock:
                records, handle = self._write_records(prepared)
                seq, digest = records[-1]["seq"], records[-1]["hash"]
                if self.fsync == "always":
                    try:
                        handle.sync()
                        self._checkpoint.advance(seq, digest, self._first_hash, sync=True)
                    except BaseException as exc:
                        self._fatal = exc
                        raise AuditLogFatalError(f"audit log fsync failed: {exc}") from exc
                elif batch:
                    with self._commit:
                        self._written += 1
                        ticket = self._written
                        self._pending = (seq, digest)
                        if id(handle) not in self._dirty:
                            handle.pin()
                            self._dirty[id(handle)] = handle
                        registered = True
                        self._leave_inflight()
        finally:
            if batch and not registered:
                with self._commit:
                    self._leave_inflight()
        if batch:
            self._await_durable(ticket)
        return records

    def _leave_inflight(self) -> None:
        # caller holds the commit lock
        self._inflight -= 1
        if self._gathering and self._inflight == 0:
            self._gather.notify()

    def _write_records(self, prepared: list[_Prepared]) -> tuple[list[dict[str, Any]], _SegmentHandle]:
        """Write records under the flock with one write; caller holds the write lock."""
        self._check_usable()
        with self._exclusive():
            try:
                self._refresh()
                prev_hash = self._last_hash
                now_ns = time.time_ns()
                ts = utc_timestamp(now_ns)
                records: list[dict[str, Any]] = []
                lines: list[bytes] = []
                for offset, (event_type, user_id, clean, payload_json) in enumerate(prepared):
                    seq = self._last_seq + 1 + offset
                    line, digest = encode_record(seq, ts, event_type, user_id, payload_json, prev_hash)
                    lines.append(line)
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
                data = lines[0] if len(lines) == 1 else b"".join(lines)
                self._ensure_segment(records[0]["seq"], len(data), now_ns / 1e9)
                handle = self._active
                if handle is None:
                    raise AuditLogError("no active segment after rotation")
                self._write(handle, data)
            except AuditLogError:
                raise
            except OSError as exc:
                self._fatal = exc
                raise AuditLogFatalError(f"audit log write failed: {exc}") from exc
            self._last_seq, self._last_hash = records[-1]["seq"], prev_hash
            self._known_size += len(data)
            if handle.first_epoch is None:
                handle.first_epoch = now_ns / 1e9
        return records, handle

    def _write(self, handle: _SegmentHandle, line: bytes) -> None:
        view = memoryview(line)
        written = 0
        try:
            while written < len(line):
                written += os.write(handle.fd, view[written:])
        except OSError:
            if written:
                os.ftruncate(handle.fd, self._known_size)  # never leave a partial line behind
            raise

    def _await_durable(self, ticket: int) -> None:
        """Group commit: wait until `ticket` is durable, leading one sync when no one else is."""
        with self._commit:
            while self._durable < ticket:
                if self._fatal is not None:
                    raise AuditLogFatalError(f"audit log is unusable after: {self._fatal}") from self._fatal
                if self._leader:
                    self._commit.wait()
                    continue
                self._leader = True
                if self._inflight:
                    # Appends already under way would miss this sync by microseconds and wait a
                    # whole extra one; let them write first, for at most one sync's duration.
                    self._gathering = True
                    deadline = time.monotonic() + min(_MAX_GATHER_SECONDS, self._last_sync_seconds)
                    while self._inflight and (remaining := deadline - time.monotonic()) > 0:
                        self._gather.wait(remaining)
                    self._gathering = False
                target = self._written
                seq, digest = self._pending
                handles = list(self._dirty.values())
                self._dirty.clear()
                self._commit.release()
                error: BaseException | None = None
                began = time.monotonic()
                try:
                    for handle in handles:
                        handle.sync()
                    self._checkpoint.advance(seq, digest, self._first_hash, sync=True)
                    self._last_sync_seconds = time.monotonic() - began
                except BaseException as exc:  # noqa: BLE001 - any failure makes the log unusable
                    error = exc
                finally:
                    for handle in handles:
                        handle.unpin()
                    self._commit.acquire()
                    self._leader = False
                    if error is None:
                        self._durable = max(self._durable, target)
                    else:
                        self._fatal = error
                    self._commit.notify_all()

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
        """Make everything written so far durable and checkpointed (whatever the policy)."""
        self._check_process()
        with self._write_lock:
            self._check_usable()
            try:
                if self._active is not None and self._active.fd >= 0:
                    self._active.sync()
                if self._last_seq > 0:
                    self._checkpoint.advance(self._last_seq, self._last_hash, self._first_hash, sync=True)
                else:
                    self._checkpoint.sync()
            except OSError as exc:
                self._fatal = exc
                raise AuditLogFatalError(f"audit log fsync failed: {exc}") from exc

    def close(self) -> None:
        """Flush and release files. Appends still in flight on other threads must finish first."""
        if self._closed:
            return
        if os.getpid() != self._pid:
            # A forked child that never appended: its inherited locks may be held by parent
            # threads that do not exist here, so release its copies of the files without them.
            self._release_forked_copy()
            return
        if self._fatal is None:
            self.flush()
        with self._write_lock:
            self._closed = True
            self._retire_active()
            with self._commit:
                for handle in self._dirty.values():
                    handle.unpin()
                self._dirty.clear()
            self._checkpoint.close()
            os.close(self._lock_fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- typed helpers ------------------------------------------------------------------------

    def log_api_call(
        self,
        user_id: str | None,
        *,
        method: str,
        path: str,
        status_code: int | None = None,
        duration_ms: float | None = None,
        request_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One Kalshi API request (headers and params are scrubbed of credentials)."""
        return self.append(
            events.API_CALL,
            user_id,
            {
                "method": method,
                "path": path,
                "status_code": status_code,
                "duration_ms": duration_ms,
                "request_id": request_id,
                "headers": dict(headers or {}),
                "params": dict(params or {}),
                "error": error,
                "details": dict(details or {}),
            },
        )

    def log_order(
        self,
        user_id: str | None,
        *,
        client_order_id: str,
        ticker: str,
        side: str,
        action: str,
        count: int,
        status: str,
        price_cents: int | None = None,
        order_id: str | None = None,
        order_type: str = "limit",
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An order event (submitted, accepted, rejected, cancelled...)."""
        return self.append(
            events.ORDER,
            user_id,
            {
                "client_order_id": client_order_id,
                "order_id": order_id,
                "ticker": ticker,
                "side": side,
                "action": action,
                "count": count,
                "price_cents": price_cents,
                "order_type": order_type,
                "status": status,
                "details": dict(details or {}),
            },
        )

    def log_trade(
        self,
        user_id: str | None,
        *,
        trade_id: str,
        ticker: str,
        side: str,
        action: str,
        count: int,
        price_cents: int,
        order_id: str | None = None,
        client_order_id: str | None = None,
        fee_cents: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A fill."""
        return self.append(
            events.TRADE,
            user_id,
            {
                "trade_id": trade_id,
                "order_id": order_id,
                "client_order_id": client_order_id,
                "ticker": ticker,
                "side": side,
                "action": action,
                "count": count,
                "price_cents": price_cents,
                "fee_cents": fee_cents,
                "details": dict(details or {}),
            },
        )

    def log_risk_violation(
        self,
        user_id: str | None,
        *,
        rule: str,
        limit: Any,
        observed: Any,
        action: str,
        ticker: str | None = None,
        client_order_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A risk check that failed, and what was done about it (e.g. "rejected")."""
        return self.append(
            events.RISK_VIOLATION,
            user_id,
            {
                "rule": rule,
                "limit": limit,
                "observed": observed,
                "action": action,
                "ticker": ticker,
                "client_order_id": client_order_id,
                "details": dict(details or {}),
            },
        )

    def log_breaker_state(
        self,
        user_id: str | None,
        *,
        breaker: str,
        from_state: str,
        to_state: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A circuit breaker changed state (closed/open/half_open)."""
        return self.append(
            events.BREAKER_STATE,
            user_id,
            {
                "breaker": breaker,
                "from_state": from_state,
                "to_state": to_state,
                "reason": reason,
                "details": dict(details or {}),
            },
        )

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
        """Check the whole log (see `verify_log`)."""
        return verify_log(self.directory, key=self._key)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        """The last sequence number this process has seen (not refreshed from other processes)."""
        return self._last_seq
