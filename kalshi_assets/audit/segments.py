"""Segment files: naming, listing, tail reading, torn-tail repair and compression.

A segment is named after the sequence number of its first record:

    segment-000000000001.jsonl          the active segment (appended to)
    segment-000000000001.jsonl.closing  being compressed (a rotation in progress or interrupted)
    segment-000000000001.jsonl.gz       closed and compressed

Rotation renames the active file to `.closing`, writes `.gz.tmp`, fsyncs it, renames it to `.gz`
and unlinks `.closing`, fsyncing the directory after each rename, create and unlink. A crash at
any point leaves a state `finish_interrupted_rotation` completes; the data is always in a
complete `.closing` or a complete `.gz`.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SEGMENT_PATTERN = re.compile(r"segment-(\d{12})\.jsonl(\.closing|\.gz)?")
TORN_DIR_NAME = "torn"
LOCK_FILE_NAME = "audit.lock"

SegmentState = Literal["active", "closing", "compressed"]
_STATE_BY_SUFFIX: dict[str | None, SegmentState] = {None: "active", ".closing": "closing", ".gz": "compressed"}
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SegmentFile:
    first_seq: int
    path: Path
    state: SegmentState

    @property
    def compressed(self) -> bool:
        return self.state == "compressed"


class SegmentHandle:
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


def segment_name(first_seq: int) -> str:
    return f"segment-{first_seq:012d}.jsonl"


def list_segments(directory: Path) -> list[SegmentFile]:
    """Segments in sequence order. When a rotation left both `.closing` and `.gz`, only `.gz` counts."""
    by_seq: dict[int, list[SegmentFile]] = {}
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        match = SEGMENT_PATTERN.fullmatch(name)
        if match:
            seg = SegmentFile(int(match.group(1)), directory / name, _STATE_BY_SUFFIX[match.group(2)])
            by_seq.setdefault(seg.first_seq, []).append(seg)
    order = {"compressed": 0, "closing": 1, "active": 2}
    return [min(found, key=lambda s: order[s.state]) for _, found in sorted(by_seq.items())]


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Tail:
    """The end of a plain segment: its last complete line and any unterminated fragment after it."""

    last_line: bytes | None  # without the newline
    good_size: int  # bytes up to and including the last newline
    fragment_size: int  # bytes after the last newline (a torn write)


def read_tail(fd: int, size: int) -> Tail:
    """Find the last complete line of a plain segment by reading backwards from `size`."""
    if size == 0:
        return Tail(None, 0, 0)
    end = size
    buffer = b""
    last_newline = -1
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        buffer = os.pread(fd, end - start, start) + buffer
        end = start
        last_newline = buffer.rfind(b"\n")
        if last_newline >= 0:
            break
    if last_newline < 0:  # no complete line at all: everything is one torn fragment
        return Tail(None, 0, size)
    good_size = end + last_newline + 1
    fragment_size = size - good_size
    while True:
        previous_newline = buffer.rfind(b"\n", 0, last_newline)
        if previous_newline >= 0 or end == 0:
            return Tail(buffer[previous_newline + 1 : last_newline], good_size, fragment_size)
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        buffer = chunk + buffer
        last_newline += len(chunk)
        end = start


def read_first_line(path: Path) -> bytes | None:
    """The first complete line of a segment (plain or compressed), without the newline."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        line = handle.readline()
    return line[:-1] if line.endswith(b"\n") else None


def read_last_line(path: Path) -> bytes | None:
    """The last complete line of a segment (plain or compressed), without the newline."""
    if path.name.endswith(".gz"):
        last = None
        with gzip.open(path, "rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    last = line
        return None if last is None else last[:-1]
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_tail(fd, os.fstat(fd).st_size).last_line
    finally:
        os.close(fd)


def iter_lines(handle: object) -> Iterator[tuple[bytes, bool]]:
    """(line without newline, terminated?) for each line of an open binary file."""
    for line in handle:  # type: ignore[attr-defined]
        if line.endswith(b"\n"):
            yield line[:-1], True
        else:
            yield line, False


def set_aside_fragment(directory: Path, segment: Path, fd: int, good_size: int, fragment_size: int) -> Path:
    """Copy a torn fragment into `torn/`, durably, then cut it off the segment.

    The copy is kept for investigation; it never held an acknowledged record (an append returns
    only after its whole line is written and synced).
    """
    torn_dir = directory / TORN_DIR_NAME
    if not torn_dir.exists():
        torn_dir.mkdir(mode=0o750, exist_ok=True)
        fsync_directory(directory)
    fragment = os.pread(fd, fragment_size, good_size)
    copy = torn_dir / f"{segment.name}.at-{good_size}.{os.getpid()}.{os.urandom(4).hex()}.partial"
    copy_fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        os.write(copy_fd, fragment)
        os.fsync(copy_fd)
    finally:
        os.close(copy_fd)
    fsync_directory(torn_dir)
    os.ftruncate(fd, good_size)
    os.fsync(fd)
    return copy


def compress_closing(closing: Path) -> Path:
    """Compress a `.closing` segment into `.gz` durably, then remove the `.closing` file."""
    directory = closing.parent
    base = closing.name[: -len(".closing")]
    final = directory / f"{base}.gz"
    tmp = directory / f"{base}.gz.tmp"
    try:
        with open(closing, "rb") as source, open(tmp, "wb") as raw:
            with gzip.GzipFile(filename=base, mode="wb", fileobj=raw, compresslevel=6, mtime=0) as zipped:
                shutil.copyfileobj(source, zipped, 1024 * 1024)
            raw.flush()
            os.fsync(raw.fileno())
    except OSError as exc:
        # The `.closing` file still holds every record; drop the partial copy so it holds no space.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise OSError(exc.errno, exc.strerror or str(exc), str(tmp)) from exc
    os.rename(tmp, final)
    fsync_directory(directory)
    os.unlink(closing)
    fsync_directory(directory)
    return final


def finish_interrupted_rotation(directory: Path) -> list[str]:
    """Complete rotations a crash interrupted; returns what was done (for the log's warnings).

    Must run under the writers' lock. A `.gz` appears only after it was fully written and synced,
    so a `.closing` beside a `.gz` is a duplicate; a `.closing` alone is compressed again.
    """
    done: list[str] = []
    names = set(os.listdir(directory))
    for name in sorted(names):
        if name.startswith("segment-") and name.endswith(".gz.tmp"):
            os.unlink(directory / name)
            done.append(f"removed unfinished {name}")
    for name in sorted(names):
        if SEGMENT_PATTERN.fullmatch(name) and name.endswith(".closing"):
            base = name[: -len(".closing")]
            if f"{base}.gz" in names:
                os.unlink(directory / name)
                fsync_directory(directory)
                done.append(f"removed {name} (already compressed)")
            else:
                compress_closing(directory / name)
                done.append(f"compressed {name}")
    return done
