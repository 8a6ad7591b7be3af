"""Segments checked in forked worker processes, so verifying a large log uses every core.

A worker checks one segment as if the log began at that segment's first record, and returns a
summary only when every line of it was intact (no problem at all). The parent takes the summaries
in segment order and accepts one only when the segment follows on from what it has checked so far
(the next seq, and the hash before it); anything else (a damaged segment, a gap between segments,
a worker that failed) the parent checks itself, line by line, with the same `Checker`. So the report
is the one a serial check gives, and only the intact bulk of the log is checked in parallel.

Workers are forked (they inherit the segment files the snapshot opened, and reopen each through
/proc/self/fd for a read offset of their own), only from a process with no other Python thread (a
lock another thread held at the fork would stay held in the child): with threads running, on one
CPU, or without fork and /proc, verify stays in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import BinaryIO

from kalshi_assets.audit.checker import Checker, Expectation, SegmentSummary
from kalshi_assets.audit.segments import SegmentFile

#: Below this many bytes on disk, forking costs more than it saves.
MIN_PARALLEL_BYTES = 4 * 1024 * 1024
_FD_DIRECTORY = "/proc/self/fd"


def worker_count(files: Sequence[tuple[SegmentFile, BinaryIO, int | None]], requested: int | None) -> int:
    """Processes to check `files` with: 1 (this process) unless forking is safe and worth it.

    `requested` None chooses: one per segment up to twice the usable CPUs (more processes than cores
    balance segments of unequal sizes), when the segments hold at least MIN_PARALLEL_BYTES."""
    if requested is not None and requested < 1:
        raise ValueError(f"workers must be at least 1, got {requested}")
    if requested == 1 or len(files) < 2:
        return 1
    if not hasattr(os, "fork") or not os.path.isdir(_FD_DIRECTORY) or threading.active_count() > 1:
        return 1
    if requested is not None:
        return min(requested, len(files))
    cpus = len(os.sched_getaffinity(0))
    if cpus < 2 or sum(os.fstat(handle.fileno()).st_size for _, handle, _ in files) < MIN_PARALLEL_BYTES:
        return 1
    return min(len(files), 2 * cpus)


def summarize_segment(
    segment: SegmentFile, fd: int, limit: int | None, is_last: bool, expectations: dict[int, list[Expectation]]
) -> SegmentSummary | None:
    """In a worker: check one segment from its own first record; its summary if every line is intact."""
    checker = Checker(expectations)
    checker.expected, checker.prev_hash = segment.first_seq, None
    with open(os.path.join(_FD_DIRECTORY, str(fd)), "rb") as handle:
        checker.check_segment(segment, handle, limit, is_last=is_last)
    return checker.summary()


def summaries(
    files: Sequence[tuple[SegmentFile, BinaryIO, int | None]],
    expectations: dict[int, list[Expectation]],
    workers: int,
) -> Iterator[SegmentSummary | None]:
    """Each segment's summary in order (None: the caller checks that segment itself)."""
    last_index = len(files) - 1
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: list[Future[SegmentSummary | None]] = [
            pool.submit(summarize_segment, segment, handle.fileno(), limit, index == last_index, expectations)
            for index, (segment, handle, limit) in enumerate(files)
        ]
        try:
            for future in futures:
                try:
                    yield future.result()
                except Exception:  # a worker that failed or died: the parent checks that segment
                    yield None
        finally:
            for future in futures:
                future.cancel()
