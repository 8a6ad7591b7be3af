"""Tracking the chain's tail in the active segment, across processes; rotation (a mixin of AuditLog).

Callers hold the log's write lock and the writers' `flock`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from kalshi_assets.audit.encoding import GENESIS_HASH, RecordFormatError, parse_chain_fields, parse_record
from kalshi_assets.audit.errors import AuditLogDamagedError
from kalshi_assets.audit.segments import (
    SegmentHandle,
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

_log = logging.getLogger("kalshi_assets.audit.log")


def _ts_epoch(ts: str) -> float:
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).timestamp()


class SegmentTail:
    """The active segment, the last (seq, hash) and the segment's size as this process last saw them."""

    directory: Path
    max_segment_bytes: int
    max_segment_age: float
    recovery_actions: list[str]
    _active: SegmentHandle | None
    _known_size: int
    _last_seq: int
    _last_hash: str

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
            self._active = SegmentHandle(segment.path, fd, stat.st_ino, segment.first_seq)
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

    def _segment_too_old(self, handle: SegmentHandle, now: float) -> bool:
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
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
            fsync_directory(self.directory)
            self._active = SegmentHandle(path, fd, os.fstat(fd).st_ino, seq)
            self._known_size = 0

    def _rotate(self) -> None:
        handle = self._active
        assert handle is not None
        closing = handle.path.with_name(handle.path.name + ".closing")
        os.rename(handle.path, closing)
        fsync_directory(self.directory)
        self._retire_active()
        compress_closing(closing)
